/**
 * Where a finished (or running) experiment keeps its checkpoints and logs, opened for
 * reading. A reference is one of:
 * - `s3://bucket/prefix/` — the experiment's prefix in any S3 (or `s3://…/file.pth`);
 * - an experiment name — the local run store first (`.yunshi/`, the embedded S3 server's
 *   files, for `submit --local` runs), then `--bucket` (+ `--namespace`), then the cluster's
 *   platform ConfigMap (bucket, region, endpoint), as `submit` uses them.
 *
 * Reads go through the checkpoint agent's S3 module, the one module that talks to S3.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { resolveS3Config } from "../../images/checkpoint-agent/src/s3-config.ts";
import { createS3Store } from "../../images/checkpoint-agent/src/s3-store.ts";
import { asPrefix, parseS3Uri } from "../../images/checkpoint-agent/src/s3-uri.ts";
import { MANIFEST_KEY } from "../../images/checkpoint-agent/src/layout.ts";
import type { ObjectStore } from "../../images/checkpoint-agent/src/object-store.ts";
import { UsageError } from "../errors.ts";
import { EMBEDDED_CREDENTIALS, startEmbeddedS3 } from "../local/embedded-s3.ts";
import { localLayout } from "../local/layout.ts";
import { LOCAL_BUCKET, LOCAL_NAMESPACE, LOCAL_REGION } from "../local/plan.ts";

type Env = Readonly<Record<string, string | undefined>>;

export interface StoreFlags {
  /** The local state directory (`.yunshi`). */
  readonly stateDir: string;
  readonly namespace?: string | undefined;
  readonly bucket?: string | undefined;
  readonly region?: string | undefined;
  readonly s3Endpoint?: string | undefined;
  /** kubeconfig context, for the platform ConfigMap. */
  readonly context?: string | undefined;
}

export interface ExperimentStore {
  /** A name for messages and output folders: the experiment's, or the object's. */
  readonly name: string;
  /** `s3://bucket/prefix/` (ends with a slash), or the checkpoint object's URI. */
  readonly uri: string;
  readonly store: ObjectStore;
  /** Key prefix of the experiment ("" + key of a single object when `object` is set). */
  readonly prefix: string;
  /** Set when the reference named one checkpoint object rather than an experiment. */
  readonly object?: string;
  readonly where: "local run store" | "S3";
  close(): Promise<void>;
}

const quiet = (): void => {};
const EXPERIMENT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function s3Store(bucket: string, env: Env, flags: StoreFlags): ObjectStore {
  const withPlatform = {
    ...env,
    ...(env.AWS_REGION || env.AWS_DEFAULT_REGION || !flags.region
      ? {}
      : { AWS_REGION: flags.region }),
    ...(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || !flags.s3Endpoint
      ? {}
      : { AWS_ENDPOINT_URL_S3: flags.s3Endpoint }),
  };
  return createS3Store({
    bucket,
    config: { ...resolveS3Config(withPlatform), maxAttempts: 3 },
    maxSockets: 8,
    log: quiet,
  });
}

/** The experiment behind `ref`; a UsageError (exit 2) when there is none to be found. */
export async function openExperimentStore(
  ref: string,
  env: Env,
  flags: StoreFlags,
): Promise<ExperimentStore> {
  if (ref.startsWith("s3://")) {
    let loc;
    try {
      loc = parseS3Uri(ref, "the experiment");
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    const store = s3Store(loc.bucket, env, flags);
    const close = async (): Promise<void> => {};
    if (loc.exact && loc.prefix.endsWith(".pth")) {
      const name = loc.prefix.split("/").at(-1) ?? loc.prefix;
      return { name, uri: ref, store, prefix: "", object: loc.prefix, where: "S3", close };
    }
    const p = asPrefix(loc);
    const name = p.prefix.split("/").filter(Boolean).at(-1) ?? p.bucket;
    return {
      name,
      uri: `s3://${p.bucket}/${p.prefix}`,
      store,
      prefix: p.prefix,
      where: "S3",
      close,
    };
  }
  if (!EXPERIMENT_NAME.test(ref))
    throw new UsageError(
      `${JSON.stringify(ref)} is neither an experiment name (a DNS label such as quickstart), an s3:// URI, nor a .pth file on this machine`,
    );

  const local = await openLocal(ref, flags);
  if (local !== undefined) return local;

  if (flags.bucket !== undefined) {
    const ns = flags.namespace ?? "default";
    const prefix = `${ns}/${ref}/`;
    return {
      name: ref,
      uri: `s3://${flags.bucket}/${prefix}`,
      store: s3Store(flags.bucket, env, flags),
      prefix,
      where: "S3",
      close: async () => {},
    };
  }
  return openFromCluster(ref, env, flags);
}

/** A `submit --local` run: the embedded store's files under the state directory. */
async function openLocal(name: string, flags: StoreFlags): Promise<ExperimentStore | undefined> {
  const layout = localLayout(flags.stateDir, name);
  if (!existsSync(layout.runDir) || !existsSync(layout.s3Dir)) return undefined;
  const bucket = flags.bucket ?? LOCAL_BUCKET;
  // A second reader on the same files, on a port of its own: a run may be using the store.
  const s3 = await startEmbeddedS3({ directory: layout.s3Dir, port: 0, bucket });
  const store = createS3Store({
    bucket,
    config: {
      endpoint: s3.endpoint,
      region: LOCAL_REGION,
      forcePathStyle: true,
      maxAttempts: 2,
      maxBackoffMs: 500,
    },
    credentials: EMBEDDED_CREDENTIALS,
    maxSockets: 8,
    log: quiet,
  });
  const candidates = [flags.namespace ?? LOCAL_NAMESPACE];
  // A spec with its own namespace keeps its runs under that namespace.
  for (const o of await store.list("")) {
    const m = /^([^/]+)\/([^/]+)\/checkpoints\/LATEST\.json$/.exec(o.key);
    if (m?.[2] === name && m[1] !== undefined && !candidates.includes(m[1])) candidates.push(m[1]);
  }
  for (const ns of candidates) {
    const prefix = `${ns}/${name}/`;
    if ((await store.head(`${prefix}${MANIFEST_KEY}`)) !== undefined || ns === candidates.at(-1))
      return {
        name,
        uri: `s3://${bucket}/${prefix}`,
        store,
        prefix,
        where: "local run store",
        close: () => s3.close(),
      };
  }
  await s3.close();
  return undefined;
}

async function openFromCluster(
  name: string,
  env: Env,
  flags: StoreFlags,
): Promise<ExperimentStore> {
  const runs = join(resolve(flags.stateDir), "runs", name);
  const { connect } = await import("../cluster/connect.ts");
  const { readPlatform } = await import("../cluster/submit-experiment.ts");
  let platform;
  try {
    const { client, namespace } = connect({ context: flags.context, namespace: flags.namespace });
    platform = await readPlatform(client, namespace);
  } catch (err) {
    throw new UsageError(
      `unknown experiment ${JSON.stringify(name)}: no local run (${runs} does not exist) and no cluster to ask (${err instanceof Error ? err.message : String(err)}). ` +
        `Train it first (\`npm run submit -- exp.yaml --local\`), run from the folder that holds its .yunshi/ (or pass --state-dir), ` +
        `or name its checkpoints directly: s3://<bucket>/<namespace>/${name}/ or --bucket <bucket> --namespace <ns>`,
    );
  }
  const prefix = `${platform.namespace}/${name}/`;
  return {
    name,
    uri: `s3://${platform.bucket}/${prefix}`,
    store: s3Store(platform.bucket, env, {
      ...flags,
      region: platform.region,
      s3Endpoint: platform.s3Endpoint,
    }),
    prefix,
    where: "S3",
    close: async () => {},
  };
}
