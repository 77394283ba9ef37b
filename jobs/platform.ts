/**
 * The platform context: what `pulumi up` installs in each team namespace and what
 * rendering needs besides the experiment. It lives in the ConfigMap
 * `yunshi-platform` (keys below) in every team namespace; `submit` reads it, `--dry-run`
 * and `render` use the defaults or flags. infra/ writes the same keys from this module.
 */
// A namespace import, not `{ z }`: the CLI bundle then keeps only the parts of zod it uses
// (scripts/build-cli.js; `{ z }` kept all 40 locales, half of the bundle).
import * as z from "zod";
import { UsageError } from "./errors.ts";
import { VERSION } from "./version.ts";
import {
  bucketNameProblem,
  dnsLabelProblem,
  dnsSubdomainProblem,
  imageReferenceProblem,
  regionProblem,
} from "./spec/identifiers.ts";

export const PLATFORM_CONFIGMAP_NAME = "yunshi-platform";

export const PlatformKeys = {
  bucket: "bucket",
  region: "region",
  trainerImage: "trainerImage",
  checkpointAgentImage: "checkpointAgentImage",
  queue: "queue",
  serviceAccount: "serviceAccount",
  s3Endpoint: "s3Endpoint",
  spotGpuQuota: "spotGpuQuota",
  onDemandGpuQuota: "onDemandGpuQuota",
  maxSpotGpus: "maxSpotGpus",
  maxOnDemandGpus: "maxOnDemandGpus",
  maxGpusPerNode: "maxGpusPerNode",
  maxCpuPerNode: "maxCpuPerNode",
  maxMemoryGiBPerNode: "maxMemoryGiBPerNode",
  gpuInstanceFamilies: "gpuInstanceFamilies",
} as const;

/** A string checked by one of the shared rules of ./spec/identifiers.ts. */
const checked = (problem: (value: string) => string | undefined) =>
  z.string().superRefine((v, ctx) => {
    const p = problem(v);
    if (p !== undefined) ctx.addIssue({ code: "custom", message: p });
  });

/** http(s) only, no credentials, no whitespace: it becomes an env value of every agent. */
const endpointProblem = (value: string): string | undefined => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "an http:// or https:// URL such as https://minio.example.com:9000";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "an http:// or https:// URL";
  if (url.username !== "" || url.password !== "")
    return "no credentials in the URL: they would be written into every pod";
  if (/[\s\p{Cc}]/u.test(value) || (url.pathname !== "/" && url.pathname !== ""))
    return "scheme, host and port only, such as https://minio.example.com:9000";
  if (url.search !== "" || url.hash !== "") return "no query or fragment";
  return undefined;
};

/** A count as ConfigMap data carries it: decimal digits, no sign or unit. */
const countProblem = (value: string): string | undefined =>
  /^(0|[1-9][0-9]{0,5})$/.test(value) ? undefined : "a whole number such as 16";

/** EC2 instance families, comma-separated, as the GPU NodePool's requirement lists them. */
const familiesProblem = (value: string): string | undefined =>
  /^[a-z][a-z0-9-]*(,[a-z][a-z0-9-]*)*$/.test(value)
    ? undefined
    : "instance families separated by commas, such as g5,g6,g6e";

/** A platform value as error messages may show it: credentials in a URL are hidden. */
export function shownPlatformValue(value: unknown): string {
  if (typeof value === "string" && URL.canParse(value)) {
    const url = new URL(value);
    if (url.username !== "" || url.password !== "") {
      url.username = "REDACTED";
      url.password = "";
      return JSON.stringify(url.href);
    }
  }
  return JSON.stringify(value);
}

export const PlatformContextSchema = z
  .object({
    namespace: checked((v) => dnsLabelProblem(v)),
    bucket: checked(bucketNameProblem),
    region: checked(regionProblem),
    trainerImage: checked(imageReferenceProblem),
    checkpointAgentImage: checked(imageReferenceProblem),
    /** Kueue LocalQueue in the namespace; the experiment's `queue` overrides it. Its name
     * is also a label value (kueue.x-k8s.io/queue-name): a DNS-1123 label fits both. */
    queue: checked((v) => dnsLabelProblem(v)),
    serviceAccount: checked(dnsSubdomainProblem),
    /** S3-compatible endpoint (MinIO, local runs); absent for AWS S3. */
    s3Endpoint: checked(endpointProblem).optional(),
    // The platform's limits (issue 11), so that `submit` can refuse a run that can never be
    // admitted instead of leaving it Queued forever. Optional: ConfigMaps written before
    // they existed still work, and the check then says it was skipped (jobs/platform-fit.ts).
    /** The team's guaranteed (nominal) GPUs per capacity type: its ClusterQueue's quota. */
    spotGpuQuota: checked(countProblem).optional(),
    onDemandGpuQuota: checked(countProblem).optional(),
    /** The most GPUs of that capacity type one run can be admitted with: the cohort's quota
     * (the team may borrow idle quota), within the namespace's ResourceQuota. */
    maxSpotGpus: checked(countProblem).optional(),
    maxOnDemandGpus: checked(countProblem).optional(),
    /** The most GPUs one node of the GPU NodePool's instance families has. */
    maxGpusPerNode: checked(countProblem).optional(),
    /** vCPU and GiB of the largest instance of those families: more, and no node can hold
     * the pod. */
    maxCpuPerNode: checked(countProblem).optional(),
    maxMemoryGiBPerNode: checked(countProblem).optional(),
    /** The instance families the GPU NodePool may launch, comma-separated (g5,g6,g6e). */
    gpuInstanceFamilies: checked(familiesProblem).optional(),
  })
  .strict();
export type PlatformContext = z.infer<typeof PlatformContextSchema>;

// Kept in a zod-free file so that --help stays light; re-exported for existing importers.
export { defaultPlatformContext } from "./platform-defaults.ts";

/**
 * Parse the data of a `yunshi-platform` ConfigMap (strings only), with the rules the
 * flags have. A bad value is invalid input (exit 2) naming the key, the value and the fix:
 * whoever can write that ConfigMap must not be able to render broken or hostile objects.
 */
export function platformFromConfigMapData(
  namespace: string,
  data: Readonly<Record<string, string>>,
): PlatformContext {
  const candidate: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(data)) candidate[k] = v;
  candidate.namespace = namespace;
  // jitless: zod's compiled fast path costs more at every CLI start than it saves on one parse.
  const parsed = PlatformContextSchema.safeParse(candidate, { jitless: true });
  if (parsed.success) return parsed.data;
  const where = `ConfigMap ${namespace}/${PLATFORM_CONFIGMAP_NAME}`;
  const lines = parsed.error.issues.map((i) => {
    if (i.code === "unrecognized_keys")
      // Strict on purpose: a key this CLI ignores (a limit a newer platform sets) would be
      // a check silently skipped. The usual cause is a CLI older than the platform.
      return `unknown key(s) ${i.keys.map((k) => JSON.stringify(k)).join(", ")} (a typo, or a platform newer than this CLI ${VERSION}: upgrade yunshi); known keys: ${Object.keys(PlatformKeys).join(", ")}`;
    const key = String(i.path[0]);
    const value = candidate[key];
    return value === undefined
      ? `key ${key} is missing`
      : `key ${key} ${shownPlatformValue(value)}: ${i.message}`;
  });
  throw new UsageError(
    `${where} is invalid:\n  ${lines.join("\n  ")}\n  fix: correct it in the platform stack and run pulumi up (or kubectl edit configmap -n ${namespace} ${PLATFORM_CONFIGMAP_NAME})`,
  );
}

/** The ConfigMap data infra/ writes: the inverse of platformFromConfigMapData. */
export function platformConfigMapData(ctx: PlatformContext): Record<string, string> {
  const { namespace: _ns, ...rest } = ctx;
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) data[k] = v;
  return data;
}
