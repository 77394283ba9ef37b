/**
 * How the cluster flags resolve to a client and a namespace. The flags themselves are
 * declared in jobs/commands/cluster-options.ts, which must not load the Kubernetes client.
 */
import { ClusterClient } from "./client.ts";

export interface ClusterFlags {
  context?: string | undefined;
  namespace?: string | undefined;
}

export function connect(flags: ClusterFlags): { client: ClusterClient; namespace: string } {
  const client = ClusterClient.connect({ context: flags.context });
  return { client, namespace: flags.namespace ?? client.defaultNamespace };
}
