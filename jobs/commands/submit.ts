/**
 * `yunshi submit exp.yaml`: render and send an experiment to the cluster (jobs/cluster/),
 * or with --dry-run print what would be applied and contact nothing.
 */
import type { Command } from "commander";
import type { ClusterClient } from "../cluster/client.ts";
import { formatIssue, UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { objectNames } from "../labels.ts";
import { ContainerNames } from "../pod-contract.ts";
import { addClusterOptions, clusterFlagsOf } from "./cluster-options.ts";
import { pollMs } from "./logs.ts";
import { addPlatformOptions, platformFlagsOf } from "./platform-options.ts";

export function registerSubmit(program: Command, io: Io): void {
  const cmd = program
    .command("submit")
    .description("run an experiment on the cluster (--dry-run: print what would be applied)")
    .argument("<file>", "exp.yaml")
    .option("--dry-run", "render and print the objects; contact nothing")
    .option("--local", "run on this machine with an embedded S3 store (see docs/local.md)")
    .option("--wait", "wait until the run finishes (exit 0 if it succeeds, 1 if it fails)")
    .option("-f, --follow", "stream rank 0's trainer log until the run finishes (implies --wait)")
    .option(
      "--fresh",
      "start from scratch instead of resuming (refused while old checkpoints would be restored; see docs/cluster.md)",
    );
  addClusterOptions(addPlatformOptions(cmd), false).action(
    async (file: string, opts: Record<string, unknown>) => {
      if (opts.dryRun === true) return dryRun(file, opts, io);
      // Loaded here, not at the top: see the note at the top of jobs/program.ts.
      const { loadExperimentFile } = await import("../spec/load-experiment.ts");
      const { assertClusterReady } = await import("../prepare.ts");
      const { connect, namespaceLine } = await import("../cluster/connect.ts");
      const { submitExperiment } = await import("../cluster/submit-experiment.ts");
      const flags = platformFlagsOf(opts);
      const onlyDryRun = Object.keys(flags).filter((k) => k !== "namespace");
      if (onlyDryRun.length > 0)
        throw new UsageError(
          `${onlyDryRun.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(", ")}: only with --dry-run; ` +
            `on a cluster the namespace's platform ConfigMap (yunshi-platform) sets bucket, images and queue`,
        );
      const loaded = await loadExperimentFile(file);
      loaded.warnings.forEach((w) => io.err(`⚠ ${file}: ${formatIssue(w)}\n`));
      assertClusterReady(loaded, file);
      const e = loaded.experiment;
      if (
        flags.namespace !== undefined &&
        e.namespace !== undefined &&
        flags.namespace !== e.namespace
      )
        throw new UsageError(
          `--namespace ${flags.namespace} contradicts namespace: ${e.namespace} in the spec of ${e.name}; drop one of them`,
        );
      const conn = connect(clusterFlagsOf(opts), e.namespace);
      const { client, namespace } = conn;
      io.err(namespaceLine(conn));
      const s = await submitExperiment(client, {
        loaded,
        namespace,
        fresh: opts.fresh === true,
        file,
      });
      for (const n of s.fit.notes) io.err(`note: ${n}\n`);
      if (s.fit.skipped !== undefined) io.err(`note: ${s.fit.skipped}\n`);
      const queue = e.queue ?? s.platform.queue;
      const workload = s.objects.find((o) => o.kind === "Job" || o.kind === "JobSet");
      const o = s.outcome;
      const next = [
        `next:`,
        `  yunshi status ${e.name} -n ${namespace}`,
        `  yunshi logs ${e.name} -n ${namespace} --follow`,
        `  yunshi cancel ${e.name} -n ${namespace}`,
      ];
      if (o.action === "unchanged") {
        io.out(
          [
            `unchanged: experiment ${e.name} in namespace ${namespace} already runs this spec (${o.state.status.phase}); nothing was sent.`,
            ...next,
            "",
          ].join("\n"),
        );
      } else {
        const head =
          o.action === "created"
            ? `submitted experiment ${e.name} to namespace ${namespace}`
            : `resubmitted experiment ${e.name} to namespace ${namespace} (the previous run ${o.previous.phase === "Failed" ? `failed: ${o.previous.reason ?? "?"}` : "succeeded"}); it resumes from the last checkpoint`;
        io.out(
          [
            head,
            `  ${workload?.kind ?? "?"}/${e.name}: ${e.resources.nodes} node(s) × ${e.resources.gpusPerNode} GPU, ${e.resources.spot ? "spot" : "on-demand"}, queue ${queue}`,
            `  applied: ${o.objects.map((x) => `${x.kind}/${x.metadata.name}`).join(", ")} (field manager yunshi)`,
            `  checkpoints and logs: ${s.checkpointUri}`,
            ...next,
            "",
          ].join("\n"),
        );
      }
      if (opts.follow === true || opts.wait === true)
        await waitForRun(client, namespace, e.name, opts.follow === true, io);
    },
  );
}

async function dryRun(file: string, opts: Record<string, unknown>, io: Io): Promise<void> {
  const { renderFiles } = await import("../prepare.ts");
  const { checkpointUri } = await import("../render/pod-template.ts");
  const { toYamlDocuments } = await import("../render/serialize.ts");
  const [r] = await renderFiles([file], platformFlagsOf(opts), (f, w) =>
    io.err(`⚠ ${f}: ${formatIssue(w)}\n`),
  );
  if (r === undefined) return;
  const e = r.loaded.experiment;
  const ns = r.platform.namespace;
  io.out(toYamlDocuments(r.objects));
  io.err(
    [
      `dry run: nothing was sent. Would apply ${r.objects.length} objects to namespace ${ns}:`,
      ...r.objects.map((o) => `  ${o.kind}/${o.metadata?.name ?? ""}`),
      `experiment ${e.name}: ${e.resources.nodes} node(s) × ${e.resources.gpusPerNode} GPU, queue ${e.queue ?? r.platform.queue}, ${e.resources.spot ? "spot" : "on-demand"}`,
      `checkpoints and logs: ${checkpointUri(r.platform, ns, e.name)}`,
      ...r.fit.notes.map((n) => `note: ${n}`),
      ...(r.fit.skipped === undefined ? [] : [`note: ${r.fit.skipped}`]),
      `next: yunshi submit ${file}   (then: yunshi status ${objectNames(e.name).workload})`,
      "",
    ].join("\n"),
  );
}

/** --wait / --follow: report phase changes (stderr) until the run finishes; fail if it failed. */
async function waitForRun(
  client: ClusterClient,
  namespace: string,
  name: string,
  follow: boolean,
  io: Io,
): Promise<void> {
  const { ClusterError } = await import("../cluster/errors.ts");
  const { experimentStates } = await import("../cluster/experiments.ts");
  const { streamLogs } = await import("../cluster/follow-logs.ts");
  const { isFinished } = await import("../cluster/phase.ts");
  if (follow)
    await streamLogs(
      client,
      {
        namespace,
        name,
        ranks: 0,
        container: ContainerNames.trainer,
        follow: true,
        pollMs: pollMs(),
      },
      { out: (t) => io.out(t), note: (t) => io.err(t) },
    );
  let last = "";
  for (;;) {
    const [state] = await experimentStates(client, namespace, name);
    if (!state)
      throw new ClusterError(
        "not-found",
        `experiment ${name} disappeared from namespace ${namespace} (cancelled?)`,
      );
    const line = `${state.status.phase}${state.status.reason ? ` — ${state.status.reason}` : ""}`;
    if (line !== last) io.err(`${name}: ${line}\n`);
    last = line;
    if (isFinished(state.status.phase)) {
      if (state.status.phase === "Failed")
        throw new ClusterError(
          "run-failed",
          `experiment ${name} failed: ${state.status.reason ?? "see yunshi logs"}`,
        );
      return;
    }
    await new Promise((r) => setTimeout(r, pollMs()));
  }
}
