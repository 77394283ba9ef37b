/**
 * The platform context: what `pulumi up` installs in each team namespace and what
 * rendering needs besides the experiment. It lives in the ConfigMap
 * `yunshi-platform` (keys below) in every team namespace; `submit` reads it, `--dry-run`
 * and `render` use the defaults or flags. infra/ writes the same keys from this module.
 */
import { z } from "zod";

export const PLATFORM_CONFIGMAP_NAME = "yunshi-platform";

export const PlatformKeys = {
  bucket: "bucket",
  region: "region",
  trainerImage: "trainerImage",
  checkpointAgentImage: "checkpointAgentImage",
  queue: "queue",
  serviceAccount: "serviceAccount",
  s3Endpoint: "s3Endpoint",
} as const;

const imageRef = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._\-/:@]*$/,
    "an image reference such as registry/repo:tag or repo@sha256:...",
  );

export const PlatformContextSchema = z
  .object({
    namespace: z.string().min(1),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "an S3 bucket name"),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "an AWS region such as us-west-2"),
    trainerImage: imageRef,
    checkpointAgentImage: imageRef,
    /** Kueue LocalQueue in the namespace; the experiment's `queue` overrides it. */
    queue: z.string().min(1),
    serviceAccount: z.string().min(1),
    /** S3-compatible endpoint (MinIO, local runs); absent for AWS S3. */
    s3Endpoint: z.url().optional(),
  })
  .strict();
export type PlatformContext = z.infer<typeof PlatformContextSchema>;

// Kept in a zod-free file so that --help stays light; re-exported for existing importers.
export { defaultPlatformContext } from "./platform-defaults.ts";

/** Parse the data of a `yunshi-platform` ConfigMap (strings only). */
export function platformFromConfigMapData(
  namespace: string,
  data: Readonly<Record<string, string>>,
): PlatformContext {
  return PlatformContextSchema.parse({ namespace, ...data });
}

/** The ConfigMap data infra/ writes: the inverse of platformFromConfigMapData. */
export function platformConfigMapData(ctx: PlatformContext): Record<string, string> {
  const { namespace: _ns, ...rest } = ctx;
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) data[k] = v;
  return data;
}
