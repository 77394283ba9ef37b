/** `yunshi status [name]`: a table of experiments, or one in detail; --output json|yaml for scripts. */
import type { Command } from "commander";
import type { ExperimentState } from "../cluster/experiments.ts";
import type { LastCheckpoint } from "../cluster/last-checkpoint.ts";
import { UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { Labels } from "../labels.ts";
import { addClusterOptions, clusterFlagsOf } from "./cluster-options.ts";

const OUTPUTS = ["table", "json", "yaml"] as const;

export function registerStatus(program: Command, io: Io): void {
  const cmd = program
    .command("status")
    .description(
      "experiments in a namespace (phase, nodes × GPUs, age, restarts, last checkpoint), or one in detail",
    )
    .argument("[name]", "an experiment name (omit to list all)")
    .option("-o, --output <format>", `table, json or yaml`, "table");
  addClusterOptions(cmd).action(async (name: string | undefined, opts: Record<string, unknown>) => {
    const output = String(opts.output);
    if (!(OUTPUTS as readonly string[]).includes(output))
      throw new UsageError(`--output ${JSON.stringify(output)}: use one of ${OUTPUTS.join(", ")}`);
    // Loaded here, not at the top: see the note at the top of jobs/program.ts.
    const { stringify } = await import("yaml");
    const { connect, inTeamNamespace, namespaceLine } = await import("../cluster/connect.ts");
    const { ClusterError } = await import("../cluster/errors.ts");
    const { experimentStates } = await import("../cluster/experiments.ts");
    const { lastCheckpointFromManifest } = await import("../cluster/checkpoint-manifest.ts");
    const { lastCheckpointFromLogs } = await import("../cluster/last-checkpoint.ts");
    const { readPlatform } = await import("../cluster/submit-experiment.ts");
    const { rankOf } = await import("../cluster/follow-logs.ts");
    const conn = connect(clusterFlagsOf(opts));
    const { client, namespace } = conn;
    io.err(namespaceLine(conn));
    const states = await inTeamNamespace(
      conn,
      () => experimentStates(client, namespace, name),
      (found) => found.length === 0,
    );
    if (name !== undefined && states.length === 0)
      throw new ClusterError(
        "not-found",
        `no experiment ${name} in namespace ${namespace} (\`yunshi status -n ${namespace}\` lists them).`,
      );
    const platform =
      states.length > 0 ? await readPlatform(client, namespace).catch(() => undefined) : undefined;
    const lastOf = async (s: ExperimentState): Promise<LastCheckpoint | undefined> => {
      // The manifest in S3 when this machine has credentials for it, else the snapshot log.
      if (s.checkpointUri !== undefined) {
        const m = await lastCheckpointFromManifest(s.checkpointUri, {
          env: process.env,
          region: platform?.region,
          endpoint: platform?.s3Endpoint,
        });
        if (m !== undefined) return m ?? undefined;
      }
      return lastCheckpointFromLogs(client, s);
    };
    const rows = await Promise.all(states.map(async (s) => ({ s, last: await lastOf(s) })));
    // One experiment: its best validation score so far and the epoch (issue 13).
    const { bestMetricFromUri, formatBestMetric } =
      await import("../after-training/best-metric.ts");
    const uri = name === undefined ? undefined : rows[0]?.s.checkpointUri;
    const best =
      uri === undefined
        ? undefined
        : await bestMetricFromUri(uri, {
            env: process.env,
            region: platform?.region,
            endpoint: platform?.s3Endpoint,
          });
    const now = new Date();
    if (output !== "table") {
      const data = rows.map(({ s, last }) => summary(s, last, now));
      const doc =
        name === undefined
          ? data
          : { ...data[0], ...(best === undefined ? {} : { bestMetric: best }) };
      io.out(output === "json" ? JSON.stringify(doc, null, 2) + "\n" : stringify(doc));
      return;
    }
    if (name !== undefined && rows[0])
      return io.out(detail(rows[0].s, rows[0].last, now, rankOf, best && formatBestMetric(best)));
    if (rows.length === 0) return io.out(`no experiments in namespace ${namespace}\n`);
    io.out(table(rows.map(({ s, last }) => summary(s, last, now))));
  });
}

export interface StatusSummary {
  name: string;
  namespace: string;
  phase: string;
  reason?: string;
  queuePosition?: number;
  nodes: number;
  gpusPerNode: number;
  created: string;
  age: string;
  restarts: number;
  retriesUsed: number;
  retries?: number;
  checkpointUri?: string;
  lastCheckpoint?: LastCheckpoint;
}

function summary(s: ExperimentState, last: LastCheckpoint | undefined, now: Date): StatusSummary {
  return {
    name: s.name,
    namespace: s.namespace,
    phase: s.status.phase,
    ...(s.status.reason === undefined ? {} : { reason: s.status.reason }),
    ...(s.status.queuePosition === undefined ? {} : { queuePosition: s.status.queuePosition }),
    nodes: s.nodes,
    gpusPerNode: s.gpusPerNode,
    created: s.created,
    age: age(s.created, now),
    restarts: s.status.restarts,
    retriesUsed: s.status.retriesUsed,
    ...(s.status.retries === undefined ? {} : { retries: s.status.retries }),
    ...(s.checkpointUri === undefined ? {} : { checkpointUri: s.checkpointUri }),
    ...(last === undefined ? {} : { lastCheckpoint: last }),
  };
}

export function age(created: string, now: Date): string {
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(created)) / 1000));
  if (!Number.isFinite(s)) return "?";
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800)
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d`;
}

const lastText = (l: LastCheckpoint | undefined) =>
  l === undefined
    ? "-"
    : `${l.file}${l.epoch !== undefined ? ` (epoch ${l.epoch})` : l.iter !== undefined ? ` (iter ${l.iter})` : ""}`;

function phaseText(r: StatusSummary): string {
  return r.queuePosition !== undefined ? `${r.phase} #${r.queuePosition}` : r.phase;
}

/** Restarts, and the retries they used when some did (preemptions are free). */
const restartsText = (r: StatusSummary): string =>
  r.retries === undefined || r.retriesUsed === 0
    ? String(r.restarts)
    : `${r.restarts} (${r.retriesUsed}/${r.retries} retries)`;

function table(rows: StatusSummary[]): string {
  const head = ["NAME", "PHASE", "NODES×GPUS", "AGE", "RESTARTS", "LAST CHECKPOINT", "REASON"];
  const body = rows.map((r) => [
    r.name,
    phaseText(r),
    `${r.nodes}×${r.gpusPerNode}`,
    r.age,
    restartsText(r),
    lastText(r.lastCheckpoint),
    r.reason ?? "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  const fmt = (cols: string[]) =>
    cols
      .map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [fmt(head), ...body.map(fmt)].join("\n") + "\n";
}

function detail(
  s: ExperimentState,
  last: LastCheckpoint | undefined,
  now: Date,
  rankOf: (pod: ExperimentState["pods"][number]) => number,
  best?: string,
): string {
  const r = summary(s, last, now);
  const queue = s.workload.metadata.labels?.[Labels.kueueQueue];
  const lines = [
    `experiment   ${r.name}`,
    `namespace    ${r.namespace}`,
    `phase        ${phaseText(r)}${r.reason ? ` — ${r.reason}` : ""}`,
    `workload     ${s.workload.kind}/${s.workload.metadata.name}, ${r.nodes} node${r.nodes > 1 ? "s" : ""} × ${r.gpusPerNode} GPU`,
    ...(queue ? [`queue        ${queue}`] : []),
    `age          ${r.age} (created ${r.created})`,
    `restarts     ${r.restarts}${r.retries === undefined ? "" : ` (${r.retriesUsed} of ${r.retries} retries used: failures use them, preemptions do not)`}`,
    `checkpoints  ${r.checkpointUri ?? "-"}`,
    `last         ${lastText(last)}${last ? ` (from the ${last.source})` : ""}`,
    ...(best === undefined ? [] : [`best         ${best}`]),
  ];
  const pods = [...s.pods].sort((a, b) =>
    (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""),
  );
  if (pods.length > 0) {
    lines.push("pods");
    for (const p of pods) {
      const st = (p.status ?? {}) as { phase?: string };
      lines.push(
        `  ${p.metadata.name}  rank ${rankOf(p)}  ${st.phase ?? "Pending"}${p.metadata.deletionTimestamp ? " (terminating)" : ""}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}
