import { InputError } from "./errors.ts";

/** How to reach S3: resolved once from flags and the environment (pure, testable). */
export interface S3Config {
  /** Custom endpoint (MinIO, s3rver, ...); undefined for AWS S3. */
  readonly endpoint: string | undefined;
  /** Undefined lets the SDK's own chain (profile files) decide. */
  readonly region: string | undefined;
  readonly forcePathStyle: boolean;
  /** Attempts per S3 call in the agent's own retry loop (each may include SDK retries). */
  readonly maxAttempts: number;
  /** Upper bound of one backoff sleep. */
  readonly maxBackoffMs: number;
}

export const PATH_STYLE_ENV = "YUNSHI_S3_FORCE_PATH_STYLE";
export const ATTEMPTS_ENV = "YUNSHI_S3_MAX_ATTEMPTS";

function parseBool(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (["true", "1", "yes"].includes(v)) return true;
  if (["false", "0", "no", ""].includes(v)) return false;
  throw new InputError(`${name}=${JSON.stringify(value)} is not a boolean; use true or false`);
}

/**
 * Endpoint from AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL (the SDKs' standard variables);
 * region from AWS_REGION / AWS_DEFAULT_REGION, defaulting to us-east-1 only for custom
 * endpoints (S3-compatible servers ignore it but SigV4 needs one).
 */
export function resolveS3Config(
  env: Readonly<Record<string, string | undefined>>,
  flags: { readonly pathStyle?: boolean | undefined } = {},
): S3Config {
  const endpointVar = env["AWS_ENDPOINT_URL_S3"] ? "AWS_ENDPOINT_URL_S3" : "AWS_ENDPOINT_URL";
  const endpoint = env[endpointVar] || undefined;
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new InputError(
        `${endpointVar}=${JSON.stringify(endpoint)} is not a URL; use e.g. http://minio:9000 or https://s3.us-west-2.amazonaws.com`,
      );
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new InputError(
        `${endpointVar}=${JSON.stringify(endpoint)} must start with http:// or https://`,
      );
    }
  }
  const region =
    env["AWS_REGION"] ||
    env["AWS_DEFAULT_REGION"] ||
    (endpoint !== undefined ? "us-east-1" : undefined);
  const forcePathStyle =
    flags.pathStyle === true || parseBool(PATH_STYLE_ENV, env[PATH_STYLE_ENV] ?? "false");
  const attemptsRaw = env[ATTEMPTS_ENV];
  let maxAttempts = 8;
  if (attemptsRaw !== undefined && attemptsRaw !== "") {
    maxAttempts = Number(attemptsRaw);
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100) {
      throw new InputError(
        `${ATTEMPTS_ENV}=${JSON.stringify(attemptsRaw)} must be an integer 1–100`,
      );
    }
  }
  return { endpoint, region, forcePathStyle, maxAttempts, maxBackoffMs: 10_000 };
}
