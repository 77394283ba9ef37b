/**
 * ClusterError: every failure talking to the Kubernetes API, turned into a message a
 * user can act on (what failed, why, and the fix). The CLI prints `message` and exits 1.
 */

export type ClusterErrorKind =
  | "no-kubeconfig"
  | "bad-context"
  | "unreachable"
  | "unauthorized"
  | "forbidden"
  | "crd-missing"
  | "namespace-missing"
  | "platform-missing"
  | "quota-exceeded"
  | "admission-denied"
  | "not-found"
  | "conflict"
  | "invalid"
  | "refused"
  | "run-failed"
  | "server";

export class ClusterError extends Error {
  override readonly name = "ClusterError";
  /** Exit code of the CLI: cluster failures are 1 (invalid input is 2, see UsageError). */
  readonly exitCode = 1;
  constructor(
    readonly kind: ClusterErrorKind,
    message: string,
    /** HTTP status from the API server, when there was one. */
    readonly status?: number,
    /** The API server's Status body, for --debug. */
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** What was being done when an API call failed: names the verb and the resource in messages. */
export interface Operation {
  verb: "get" | "list" | "watch" | "apply" | "create" | "delete" | "logs";
  apiVersion: string;
  kind: string;
  namespace?: string | undefined;
  name?: string | undefined;
  /** The API server URL and context, for "unreachable" and "unauthorized" messages. */
  server?: string | undefined;
  context?: string | undefined;
}

/** Where each CRD comes from, for "run pulumi up" messages. */
export const CRD_SOURCES: Readonly<Record<string, { name: string; chart: string }>> = {
  "jobset.x-k8s.io": { name: "JobSet", chart: "oci://registry.k8s.io/jobset/charts/jobset" },
  "kueue.x-k8s.io": { name: "Kueue", chart: "oci://registry.k8s.io/kueue/charts/kueue" },
};

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNRESET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

interface StatusLike {
  message?: string;
  reason?: string;
  details?: { causes?: { field?: string; message?: string }[] };
}

/** The Status body of an ApiException (client-node gives it parsed or as a JSON string). */
function statusBody(body: unknown): StatusLike | undefined {
  if (typeof body === "string") {
    try {
      return JSON.parse(body) as StatusLike;
    } catch {
      return body ? { message: body } : undefined;
    }
  }
  return typeof body === "object" && body !== null ? body : undefined;
}

function networkCode(e: unknown): string | undefined {
  for (let cur: unknown = e, i = 0; cur && i < 5; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
    const msg = (cur as { message?: unknown }).message;
    if (typeof msg === "string") {
      const m = msg.match(
        /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET)\b/,
      );
      if (m) return m[1];
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

const groupOf = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.split("/")[0] : "");

function target(op: Operation): string {
  const what = `${op.kind}${op.name ? ` ${op.name}` : "s"}`;
  return op.namespace ? `${what} in namespace ${op.namespace}` : what;
}

function crdMissing(op: Operation): ClusterError | undefined {
  const src = CRD_SOURCES[groupOf(op.apiVersion) ?? ""];
  if (!src) return undefined;
  return new ClusterError(
    "crd-missing",
    `${src.name} is not installed in this cluster (no ${op.kind} in API ${op.apiVersion}). ` +
      `Run \`pulumi up\` for the platform stack, which installs the ${src.name} Helm chart ` +
      `(${src.chart}), or ask your platform engineer.`,
    404,
  );
}

/** Turn anything thrown by client-node into a ClusterError naming the operation and the fix. */
export function toClusterError(e: unknown, op: Operation): ClusterError {
  if (e instanceof ClusterError) return e;
  const code = (e as { code?: unknown }).code;
  const httpStatus = typeof code === "number" ? code : (e as { statusCode?: unknown }).statusCode;
  const where = op.server ? ` at ${op.server}` : "";
  const ctx = op.context ? ` (context ${op.context})` : "";
  if (typeof httpStatus !== "number") {
    const net = networkCode(e);
    if (net)
      return new ClusterError(
        "unreachable",
        `Cannot reach the Kubernetes API${where}${ctx}: ${net}. Check that the cluster is running ` +
          `and reachable from here (VPN, network), and that your kubeconfig points at it ` +
          `(\`kubectl${op.context ? ` --context ${op.context}` : ""} get namespaces\`).`,
      );
    const msg = e instanceof Error ? e.message : String(e);
    if (/Unrecognized API version and kind/.test(msg))
      return crdMissing(op) ?? new ClusterError("not-found", msg);
    return new ClusterError("server", `Failed to ${op.verb} ${target(op)}: ${msg}`);
  }
  const body = statusBody((e as { body?: unknown }).body);
  const serverMsg = body?.message ?? "";
  const denial = admissionDenial(serverMsg);
  if (denial)
    return new ClusterError(
      "admission-denied",
      `The cluster's ${denial.by} refused ${target(op)}: ${denial.message}\n` +
        `This is a rule of the cluster, not a missing permission. \`yunshi validate\` should have caught it: ` +
        `change the spec accordingly, and please report it.`,
      httpStatus,
      body,
    );
  switch (httpStatus) {
    case 401:
      return new ClusterError(
        "unauthorized",
        `The Kubernetes API${where} rejected your credentials (401 Unauthorized)${ctx}. ` +
          `They are missing or expired: refresh them (on EKS: \`aws sso login\`, then ` +
          `\`aws eks update-kubeconfig --name <cluster> --region <region>\`).`,
        401,
        body,
      );
    case 403:
      if (/exceeded quota/.test(serverMsg))
        return new ClusterError(
          "quota-exceeded",
          `Quota exceeded in namespace ${op.namespace ?? "?"} while trying to ${op.verb} ${op.kind} ${op.name ?? ""}: ` +
            `${serverMsg}. Cancel finished experiments (\`yunshi cancel <name>\`) or ask your platform engineer to raise the quota.`,
          403,
          body,
        );
      return new ClusterError(
        "forbidden",
        `Forbidden: you may not ${op.verb} ${target(op)} (403). The server said: ${serverMsg || "forbidden"}. ` +
          `Ask your platform engineer for a Role that allows "${rbacVerb(op.verb)}" on "${rbacResource(op)}"` +
          `${op.namespace ? ` in namespace ${op.namespace}` : ""}.`,
        403,
        body,
      );
    case 404: {
      const ns = serverMsg.match(/^namespaces "([^"]+)" not found/);
      if (ns)
        return new ClusterError(
          "namespace-missing",
          `Namespace ${ns[1]} does not exist in this cluster. Pass --namespace with your team's namespace, ` +
            `or create it with \`pulumi up\` (team namespaces are part of the platform stack).`,
          404,
          body,
        );
      const msg = e instanceof Error ? e.message : "";
      if (
        /Failed to fetch resource metadata/.test(msg) ||
        serverMsg === "the server could not find the requested resource"
      ) {
        const crd = crdMissing(op);
        if (crd) return crd;
      }
      return new ClusterError(
        "not-found",
        `${target(op)} not found${serverMsg ? ` (${serverMsg})` : ""}.`,
        404,
        body,
      );
    }
    case 409:
      return new ClusterError("conflict", `Conflict on ${target(op)}: ${serverMsg}`, 409, body);
    case 422: {
      const causes = (body?.details?.causes ?? [])
        .map((c) => `  ${c.field ?? ""}: ${c.message ?? ""}`)
        .join("\n");
      return new ClusterError(
        "invalid",
        `The API server refused ${target(op)} as invalid (422): ${serverMsg}${causes ? `\n${causes}` : ""}\n` +
          `This is a bug in yunshi's rendering or a cluster version it does not support: please report it.`,
        422,
        body,
      );
    }
    default:
      return new ClusterError(
        "server",
        `Failed to ${op.verb} ${target(op)}: HTTP ${httpStatus}${serverMsg ? `: ${serverMsg}` : ""}`,
        httpStatus,
        body,
      );
  }
}

/**
 * An admission webhook's or ValidatingAdmissionPolicy's denial (the API server's wording, which
 * comes with 403 or the webhook's own code): not an RBAC refusal, and its message is the error.
 */
export function admissionDenial(msg: string): { by: string; message: string } | undefined {
  const webhook = /admission webhook "([^"]+)" denied the request:?\s*([\s\S]*)$/.exec(msg);
  if (webhook) return { by: `admission webhook ${webhook[1]}`, message: webhook[2] ?? "" };
  const policy =
    /ValidatingAdmissionPolicy '([^']+)' with binding '[^']*' denied request:\s*([\s\S]*)$/.exec(
      msg,
    );
  if (policy) return { by: `admission policy ${policy[1]}`, message: policy[2] ?? "" };
  return undefined;
}

const rbacVerb = (v: Operation["verb"]) => (v === "apply" ? "patch" : v === "logs" ? "get" : v);

function rbacResource(op: Operation): string {
  if (op.verb === "logs") return "pods/log";
  const plural = op.kind.toLowerCase() + (op.kind.endsWith("s") ? "es" : "s");
  const group = groupOf(op.apiVersion);
  return group ? `${plural}.${group}` : plural;
}
