/** `yunshi cancel <name>`: delete the run (foreground: pods first), keep its checkpoints. */
import type { Command } from "commander";
import type { Io } from "../io.ts";
import { addClusterOptions, clusterFlagsOf } from "./cluster-options.ts";

export function registerCancel(program: Command, io: Io): void {
  const cmd = program
    .command("cancel")
    .description("stop an experiment and delete its objects; checkpoints in S3 are kept")
    .argument("<name>", "the experiment")
    .option("--no-wait", "return once deletion has started, without waiting for the pods to go");
  addClusterOptions(cmd).action(async (name: string, opts: Record<string, unknown>) => {
    // Loaded here, not at the top: see the note at the top of jobs/program.ts.
    const { connect, inTeamNamespace, namespaceLine } = await import("../cluster/connect.ts");
    const { ClusterError } = await import("../cluster/errors.ts");
    const { findWorkload } = await import("../cluster/experiments.ts");
    const { companionRefs, deleteRun } = await import("../cluster/submit-experiment.ts");
    const { checkpointUriOf } = await import("../cluster/phase.ts");
    const conn = connect(clusterFlagsOf(opts));
    const { client, namespace } = conn;
    io.err(namespaceLine(conn));
    const workload = await inTeamNamespace(
      conn,
      () => findWorkload(client, namespace, name),
      (w) => w === undefined,
    );
    if (!workload)
      throw new ClusterError(
        "not-found",
        `no experiment ${name} in namespace ${namespace} (\`yunshi status -n ${namespace}\` lists them).`,
      );
    const uri = checkpointUriOf(workload);
    // Pods get their termination grace period: the snapshot sidecar flushes the upload in flight.
    await deleteRun(client, workload, opts.wait !== false);
    for (const ref of companionRefs(namespace, name)) await client.delete(ref, "Background");
    io.out(
      [
        `cancelled ${name} in namespace ${namespace}: deleted ${workload.kind}/${workload.metadata.name}${opts.wait !== false ? " and its pods" : " (pods are stopping)"}, its Service and ConfigMap.`,
        `checkpoints are kept: ${uri ?? "(unknown: the workload had no checkpoint annotation)"}checkpoints/`,
        `submit the same spec again to resume from them.`,
        "",
      ].join("\n"),
    );
  });
}
