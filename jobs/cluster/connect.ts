/** Options every cluster command shares (--context, --namespace) and how they resolve. */
import type { Command } from "commander";
import { ClusterClient } from "./client.ts";

export interface ClusterFlags {
  context?: string | undefined;
  namespace?: string | undefined;
}

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

export function connect(flags: ClusterFlags): { client: ClusterClient; namespace: string } {
  const client = ClusterClient.connect({ context: flags.context });
  return { client, namespace: flags.namespace ?? client.defaultNamespace };
}
