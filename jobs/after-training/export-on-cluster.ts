/**
 * `yunshi export <experiment> --format onnx --cluster`: choose the committed checkpoint as
 * the local export does (best, else latest, from the manifest, the commit point), find what
 * to verify on, render the export Job (export-job.ts) and submit it to the team namespace
 * the way `submit` does: the platform ConfigMap, the Kueue LocalQueue, a server-side dry run,
 * then server-side apply. `--dry-run` prints the Job and submits nothing; `--wait` follows it
 * to the end.
 *
 * The manifest is read from here, with this machine's AWS credentials, so the Job names one
 * checkpoint and its SHA-256: the pod exports exactly what was chosen, or refuses.
 */
import { loadManifest } from "../../images/checkpoint-agent/src/manifest-io.ts";
import { parseS3Uri } from "../../images/checkpoint-agent/src/s3-uri.ts";
import { checkWorkload } from "../../policies/job-rules.ts";
import type { ClusterClient } from "../cluster/client.ts";
import { connect, type ClusterFlags } from "../cluster/connect.ts";
import { ClusterError } from "../cluster/errors.ts";
import { findWorkload } from "../cluster/experiments.ts";
import { readPlatform } from "../cluster/submit-experiment.ts";
import type { KubeObject } from "../cluster/types.ts";
import { UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { ExitCode } from "../io.ts";
import { toYamlDocuments } from "../render/serialize.ts";
import { checkpointUri } from "../render/pod-template.ts";
import { dnsLabelProblem } from "../spec/identifiers.ts";
import { VERSION } from "../version.ts";
import { datasetUriOf } from "./dataset-of-workload.ts";
import { openExperimentStore } from "./experiment-store.ts";
import { EXPORT_FORMATS } from "./export-formats.ts";
import {
  ExportContainers,
  exportJobName,
  exportUri,
  MAX_SAMPLES,
  renderExportJob,
  type CommittedCheckpoint,
  type VerifyOn,
} from "./export-job.ts";
import { chosenEntry } from "./fetch-checkpoint.ts";

type Env = Readonly<Record<string, string | undefined>>;

export interface ClusterExportOptions {
  readonly experiment: string;
  readonly format: string;
  /** s3:// pictures to verify on; empty: the experiment's validation pictures. */
  readonly samples: readonly string[];
  readonly dryRun: boolean;
  readonly wait: boolean;
  readonly cluster: ClusterFlags;
  readonly env: Env;
  readonly io: Io;
  readonly pollMs: number;
}

const LOCAL_QUEUE = { apiVersion: "kueue.x-k8s.io/v1beta2", kind: "LocalQueue" } as const;

/** Checks of the arguments alone, before anything is contacted. */
function checkArguments(o: ClusterExportOptions): void {
  if (!(EXPORT_FORMATS as readonly string[]).includes(o.format))
    throw new UsageError(
      `--format ${JSON.stringify(o.format)}: the formats are ${EXPORT_FORMATS.join(", ")}`,
    );
  const problem = dnsLabelProblem(o.experiment, 50);
  if (problem !== undefined)
    throw new UsageError(
      `experiment ${JSON.stringify(o.experiment)}: ${problem}; with --cluster, name an experiment of the namespace (\`yunshi status\` lists them)`,
    );
  if (o.samples.length > MAX_SAMPLES)
    throw new UsageError(
      `--sample: ${o.samples.length} pictures; at most ${MAX_SAMPLES} with --cluster (each is one download in the pod)`,
    );
  for (const s of o.samples) {
    let exact = false;
    try {
      exact = s.startsWith("s3://") && parseS3Uri(s, "--sample").exact;
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    if (!exact)
      throw new UsageError(
        `--sample ${JSON.stringify(s)}: with --cluster, a picture in S3 that the pod fetches (s3://bucket/path/picture.jpg); ` +
          `pictures on this machine are for \`yunshi export\` without --cluster`,
      );
  }
}

/** The committed checkpoint to export; UsageError (exit 2) for an unknown experiment or none yet. */
async function committedCheckpoint(
  name: string,
  namespace: string,
  uri: string,
  workload: KubeObject | undefined,
  env: Env,
  region: string,
  s3Endpoint: string | undefined,
): Promise<CommittedCheckpoint> {
  const s = await openExperimentStore(uri, env, {
    stateDir: ".yunshi",
    region,
    s3Endpoint,
  });
  try {
    let manifestFound: boolean;
    try {
      manifestFound = (await loadManifest(s.store, s.prefix)) !== undefined;
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new Error(
        `cannot read the checkpoint manifest ${uri}checkpoints/LATEST.json: ${err instanceof Error ? err.message : String(err)}. ` +
          `export --cluster reads it with this machine's AWS credentials (as \`aws s3 ls ${uri}\` would)`,
        { cause: err },
      );
    }
    if (!manifestFound && workload === undefined)
      throw new UsageError(
        `unknown experiment ${JSON.stringify(name)} in namespace ${namespace}: no Job or JobSet of that name, and no checkpoint manifest under ${uri}. ` +
          `\`yunshi status -n ${namespace}\` lists the experiments; pass -n with the namespace it ran in`,
      );
    const { entry, kind } = await chosenEntry(s);
    return {
      key: entry.key,
      sha256: entry.sha256,
      kind,
      epoch: entry.epoch,
      iter: entry.iter,
    };
  } finally {
    await s.close();
  }
}

function verifyOnFor(
  o: ClusterExportOptions,
  namespace: string,
  workload: KubeObject | undefined,
): VerifyOn {
  if (o.samples.length > 0) return { samples: [...o.samples] };
  const datasetUri = workload === undefined ? undefined : datasetUriOf(workload);
  if (datasetUri !== undefined) return { datasetUri };
  throw new UsageError(
    `the export is verified on pictures, by default the validation pictures of ${o.experiment}'s dataset, but ` +
      (workload === undefined
        ? `its training Job is gone from namespace ${namespace} (finished runs are kept 7 days)`
        : `its ${workload.kind} names no dataset`) +
      `: pass --sample s3://bucket/path/picture.jpg (up to ${MAX_SAMPLES} typical pictures)`,
  );
}

const conditionOf = (job: KubeObject | undefined, type: string) =>
  (
    (
      job?.status as {
        conditions?: { type: string; status: string; reason?: string; message?: string }[];
      }
    )?.conditions ?? []
  ).find((c) => c.type === type && c.status === "True");

const finishedCondition = (job: KubeObject | undefined) =>
  conditionOf(job, "Complete") ?? conditionOf(job, "Failed");

export async function exportOnCluster(o: ClusterExportOptions): Promise<number> {
  checkArguments(o);
  const say = (line: string): void => o.io.out(`${line}\n`);
  const { client, namespace } = connect(o.cluster);
  const platform = await readPlatform(client, namespace);
  const name = exportJobName(o.experiment, o.format);
  const workload = await findWorkload(client, namespace, o.experiment);
  const uri = checkpointUri(platform, namespace, o.experiment);
  const checkpoint = await committedCheckpoint(
    o.experiment,
    namespace,
    uri,
    workload,
    o.env,
    platform.region,
    platform.s3Endpoint,
  );
  const verifyOn = verifyOnFor(o, namespace, workload);
  const job = renderExportJob({
    experiment: o.experiment,
    namespace,
    format: o.format,
    platform,
    queue: platform.queue,
    checkpoint,
    verifyOn,
    version: VERSION,
  });
  const violations = checkWorkload(job);
  if (violations.length > 0)
    throw new Error(
      `the rendered export Job breaks the job rules (a bug in yunshi): ${violations.map((v) => v.message).join("; ")}`,
    );
  const target = exportUri({ platform, namespace, experiment: o.experiment, format: o.format });
  const which = `${checkpoint.kind} committed checkpoint ${uri}${checkpoint.key}${checkpoint.epoch === undefined ? "" : ` (epoch ${checkpoint.epoch})`}`;
  const on =
    "datasetUri" in verifyOn
      ? `the validation pictures of ${verifyOn.datasetUri}`
      : `${verifyOn.samples.length} picture(s)`;

  if (o.dryRun) {
    say(toYamlDocuments([job]).trimEnd());
    o.io.err(
      [
        `dry run: nothing was submitted. Would apply Job/${name} to namespace ${namespace} (queue ${platform.queue}):`,
        `  model: ${which}`,
        `  verified on ${on}; the verified export goes to ${target}`,
        "",
      ].join("\n"),
    );
    return ExitCode.ok;
  }

  if (!(await client.get({ ...LOCAL_QUEUE, namespace, name: platform.queue })))
    throw new ClusterError(
      "not-found",
      `Kueue LocalQueue ${platform.queue} does not exist in namespace ${namespace}, so the export would never be admitted; run \`pulumi up\` for the platform, or ask your platform engineer`,
    );
  const ref = { apiVersion: "batch/v1", kind: "Job", namespace, name };
  const existing = await client.get(ref);
  if (existing !== undefined) {
    if (finishedCondition(existing) === undefined)
      throw new ClusterError(
        "refused",
        `an export of ${o.experiment} is still running (Job ${namespace}/${name}); wait for it (\`kubectl -n ${namespace} get job ${name}\`) or delete it (\`kubectl -n ${namespace} delete job ${name}\`) and export again`,
      );
    // A finished Job cannot run again: replace it (its pods go with it).
    await client.delete(ref, "Foreground");
    await client.waitGone(ref);
  }
  const objects = [job] as unknown as KubeObject[];
  for (const x of objects) await client.apply(x, { dryRun: true });
  for (const x of objects) await client.apply(x);
  say(
    [
      `submitted export Job ${name} to namespace ${namespace} (CPU, queue ${platform.queue})`,
      `  model: ${which}`,
      `  verified on ${on}; only a verified export is uploaded, to ${target}`,
      `next:`,
      `  kubectl -n ${namespace} logs job/${name} -c ${ExportContainers.export} -f`,
      `  kubectl -n ${namespace} get job ${name}`,
      "",
    ].join("\n"),
  );
  if (!o.wait) return ExitCode.ok;
  return waitForExport(client, ref, target, o);
}

/** --wait: report the Job's progress (stderr) until it completes or fails. */
async function waitForExport(
  client: ClusterClient,
  ref: { apiVersion: string; kind: string; namespace: string; name: string },
  target: string,
  o: ClusterExportOptions,
): Promise<number> {
  let last = "";
  for (;;) {
    const job = await client.get(ref);
    if (job === undefined)
      throw new ClusterError(
        "not-found",
        `Job ${ref.namespace}/${ref.name} disappeared (deleted?)`,
      );
    const st = (job.status ?? {}) as { active?: number; ready?: number };
    const done = finishedCondition(job);
    const line =
      done !== undefined
        ? done.type
        : conditionOf(job, "Suspended") !== undefined
          ? "Queued (Kueue has not admitted it yet)"
          : (st.active ?? 0) > 0
            ? "Running"
            : "Pending";
    if (line !== last) o.io.err(`${ref.name}: ${line}\n`);
    last = line;
    if (done?.type === "Complete") {
      o.io.out(`verified export uploaded to ${target}\n`);
      return ExitCode.ok;
    }
    if (done !== undefined) {
      o.io.err(
        `error: the export failed (${done.reason ?? "?"}: ${done.message ?? ""}); nothing unverified was uploaded. ` +
          `\`kubectl -n ${ref.namespace} logs job/${ref.name} -c ${ExportContainers.export}\` shows why\n`,
      );
      return ExitCode.failure;
    }
    await new Promise((r) => setTimeout(r, o.pollMs));
  }
}
