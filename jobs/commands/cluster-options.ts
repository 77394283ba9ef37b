/**
 * The flags every cluster command shares (--context, --namespace). Kept apart from
 * jobs/cluster/connect.ts so that registering a command never loads the Kubernetes client
 * (see the note at the top of jobs/program.ts).
 */
import type { Command } from "commander";
import type { ClusterFlags } from "../cluster/connect.ts";

export function addClusterOptions(cmd: Command, withNamespace = true): Command {
  if (withNamespace)
    cmd.option(
      "-n, --namespace <ns>",
      'namespace (default: the kubeconfig context\'s, else "default")',
    );
  return cmd.option("--context <name>", "kubeconfig context (default: the current context)");
}

export function clusterFlagsOf(opts: Record<string, unknown>): ClusterFlags {
  return {
    context: typeof opts.context === "string" ? opts.context : undefined,
    namespace: typeof opts.namespace === "string" ? opts.namespace : undefined,
  };
}
