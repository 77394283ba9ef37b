/**
 * How the cluster flags resolve to a client and a namespace. The flags themselves are
 * declared in jobs/commands/cluster-options.ts, which must not load the Kubernetes client.
 *
 * The namespace is the first of: --namespace, the spec's `namespace:` (submit), the kube
 * context's namespace, else "default" as kubectl does. Every command says which it used
 * (issue 16: a bare `yunshi status` looked in `default` while the docs showed `vision`).
 */
import { ClusterClient } from "./client.ts";
import { ClusterError } from "./errors.ts";
import { contextNamespace, loadKubeConfig } from "./kubeconfig.ts";
import { PLATFORM_CONFIGMAP_NAME } from "../platform.ts";

export interface ClusterFlags {
  context?: string | undefined;
  namespace?: string | undefined;
}

export interface Connection {
  client: ClusterClient;
  namespace: string;
  /** Where the namespace came from, as the CLI prints it: `from --namespace`. */
  namespaceSource: string;
}

export function connect(flags: ClusterFlags, specNamespace?: string): Connection {
  const kc = loadKubeConfig({ context: flags.context });
  const client = new ClusterClient(kc);
  const fromContext = contextNamespace(kc);
  if (flags.namespace !== undefined)
    return { client, namespace: flags.namespace, namespaceSource: "from --namespace" };
  if (specNamespace !== undefined)
    return { client, namespace: specNamespace, namespaceSource: "from the spec" };
  if (fromContext !== undefined)
    return {
      client,
      namespace: fromContext,
      namespaceSource: `from kube context ${JSON.stringify(client.context)}`,
    };
  return {
    client,
    namespace: "default",
    namespaceSource: `kube context ${JSON.stringify(client.context)} sets no namespace`,
  };
}

/** The line every cluster command prints on stderr: `namespace vision (from --namespace)`. */
export function namespaceLine(c: Pick<Connection, "namespace" | "namespaceSource">): string {
  return `namespace ${c.namespace} (${c.namespaceSource})\n`;
}

/**
 * Whether the namespace is a team namespace: it holds the platform ConfigMap that
 * `pulumi up` writes. Undefined when this user may not tell (reading it is forbidden).
 */
async function isTeamNamespace(
  client: ClusterClient,
  namespace: string,
): Promise<boolean | undefined> {
  try {
    return (
      (await client.get({
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace,
        name: PLATFORM_CONFIGMAP_NAME,
      })) !== undefined
    );
  } catch (e) {
    if (e instanceof ClusterError && (e.kind === "forbidden" || e.kind === "namespace-missing"))
      return undefined;
    throw e;
  }
}

/** How to pick a team namespace, for messages. */
export function pickNamespaceHint(): string {
  return (
    "Pick your team's namespace with -n <team>, or make it your kube context's default: " +
    "`kubectl config set-context --current --namespace <team>`."
  );
}

/**
 * When a command finds nothing (or may not look) in a namespace that is not a team
 * namespace, the real problem is the namespace: say so, and how to pick one. Returns the
 * error to throw instead, or undefined when the namespace is a team namespace.
 */
export async function notTeamNamespaceError(c: Connection): Promise<ClusterError | undefined> {
  const team = await isTeamNamespace(c.client, c.namespace);
  if (team === true) return undefined;
  const where = `namespace ${c.namespace} (${c.namespaceSource})`;
  return new ClusterError(
    team === false ? "not-found" : "forbidden",
    team === false
      ? `${where} is not a team namespace: it has no ${PLATFORM_CONFIGMAP_NAME} ConfigMap. ${pickNamespaceHint()}`
      : `${where} is not one of your team namespaces: you may not read its ${PLATFORM_CONFIGMAP_NAME} ConfigMap ` +
          `(if it is your team's, ask your platform engineer for the team Role there). ${pickNamespaceHint()}`,
    team === false ? 404 : 403,
  );
}

/**
 * Runs a command's first read of a namespace; a refusal (403) there, or nothing found, in a
 * namespace that is not a team namespace becomes the "not a team namespace" error.
 */
export async function inTeamNamespace<T>(
  c: Connection,
  read: () => Promise<T>,
  empty: (v: T) => boolean,
): Promise<T> {
  let value: T;
  try {
    value = await read();
  } catch (e) {
    if (e instanceof ClusterError && e.kind === "forbidden")
      throw (await notTeamNamespaceError(c)) ?? e;
    throw e;
  }
  if (empty(value)) {
    const err = await notTeamNamespaceError(c);
    if (err) throw err;
  }
  return value;
}
