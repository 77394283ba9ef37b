/**
 * The last committed checkpoint from the run's manifest in S3
 * (`<uri>checkpoints/LATEST.json`, the commit point of the checkpoint protocol), read
 * through the checkpoint agent's S3 module — the one module that talks to S3. Tried only
 * when AWS credentials are configured on this machine, with one attempt and a time limit,
 * so that `status` never hangs on a laptop without them; callers fall back to the log.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { loadManifest } from "../../images/checkpoint-agent/src/manifest-io.ts";
import type { ObjectStore } from "../../images/checkpoint-agent/src/object-store.ts";
import { resolveS3Config } from "../../images/checkpoint-agent/src/s3-config.ts";
import { createS3Store } from "../../images/checkpoint-agent/src/s3-store.ts";
import { asPrefix, parseS3Uri } from "../../images/checkpoint-agent/src/s3-uri.ts";
import type { LastCheckpoint } from "./last-checkpoint.ts";

type Env = Readonly<Record<string, string | undefined>>;

/** Whether the AWS SDK's default chain has something to work with (env, profile files, web identity). */
export function awsCredentialsConfigured(env: Env): boolean {
  if (env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE) return true;
  if (env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)
    return true;
  const home = env.HOME ?? homedir();
  return [
    env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, ".aws", "credentials"),
    env.AWS_CONFIG_FILE ?? join(home, ".aws", "config"),
  ].some((f) => existsSync(f));
}

export interface ManifestOptions {
  env: Env;
  /** The platform's region and S3-compatible endpoint, used when the environment sets none. */
  region?: string | undefined;
  endpoint?: string | undefined;
  timeoutMs?: number;
}

/**
 * Runs `read` against the run's store prefix at `uri` as `status` must: only when AWS
 * credentials are configured, one attempt, within the time limit; undefined when it cannot
 * (no credentials, no access, timeout, any error).
 */
export async function readRunStore<T>(
  uri: string,
  opts: ManifestOptions,
  read: (store: ObjectStore, prefix: string) => Promise<T | undefined>,
): Promise<T | undefined> {
  if (!awsCredentialsConfigured(opts.env)) return undefined;
  try {
    const loc = asPrefix(parseS3Uri(uri));
    const env = {
      ...opts.env,
      ...(opts.env.AWS_REGION || opts.env.AWS_DEFAULT_REGION || !opts.region
        ? {}
        : { AWS_REGION: opts.region }),
      ...(opts.env.AWS_ENDPOINT_URL_S3 || opts.env.AWS_ENDPOINT_URL || !opts.endpoint
        ? {}
        : { AWS_ENDPOINT_URL_S3: opts.endpoint }),
    };
    const store = createS3Store({
      bucket: loc.bucket,
      config: { ...resolveS3Config(env), maxAttempts: 1 },
      maxSockets: 2,
      log: () => {},
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), opts.timeoutMs ?? 5000);
    });
    return await Promise.race([read(store, loc.prefix), timeout]).finally(() =>
      clearTimeout(timer),
    );
  } catch {
    return undefined;
  }
}

/**
 * The manifest's latest entry; `null` when the manifest says nothing is committed yet;
 * undefined when it could not be read (no credentials, no access, timeout).
 */
export async function lastCheckpointFromManifest(
  uri: string,
  opts: ManifestOptions,
): Promise<LastCheckpoint | null | undefined> {
  return readRunStore(uri, opts, async (store, prefix) => {
    const manifest = await loadManifest(store, prefix);
    if (manifest === undefined) return undefined;
    const latest = manifest.latest;
    if (latest === null) return null;
    return {
      file: latest.file,
      ...(latest.epoch === undefined ? {} : { epoch: latest.epoch }),
      ...(latest.iter === undefined ? {} : { iter: latest.iter }),
      time: latest.time,
      source: "S3 manifest",
    };
  });
}
