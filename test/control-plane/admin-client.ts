/**
 * The test's own cluster-admin access to the test control plane: plain REST over HTTPS with the
 * cluster CA and the admin token. It plays the platform (applies CRDs, webhooks, platform
 * objects, nodes) and the world (evicts pods, tells kwok how a pod ends); the CLI under test
 * never uses it.
 */
import { request } from "node:https";
import { readFileSync } from "node:fs";
import { stringify } from "yaml";

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    uid?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    ownerReferences?: { kind: string; name: string; uid: string }[];
    finalizers?: string[];
  };
  [k: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${status}: ${body.slice(0, 500)}`);
  }
}

const plural = (kind: string) => {
  const k = kind.toLowerCase();
  return k.endsWith("s") ? `${k}es` : k.endsWith("y") ? `${k.slice(0, -1)}ies` : `${k}s`;
};

/** The REST path of a kind (and optionally one object). */
export function pathOf(
  apiVersion: string,
  kind: string,
  namespace?: string,
  name?: string,
): string {
  const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `${base}${ns}/${plural(kind)}${name ? `/${encodeURIComponent(name)}` : ""}`;
}

export class AdminClient {
  private readonly ca: Buffer;
  constructor(
    readonly server: string,
    caFile: string,
    private readonly token: string,
  ) {
    this.ca = readFileSync(caFile);
  }

  request(
    method: string,
    path: string,
    body?: string,
    contentType = "application/json",
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.server),
        {
          method,
          ca: this.ca,
          headers: {
            Authorization: `Bearer ${this.token}`,
            Accept: "application/json",
            ...(body === undefined ? {} : { "Content-Type": contentType }),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  private async json<T>(method: string, path: string, body?: string, ct?: string): Promise<T> {
    const r = await this.request(method, path, body, ct);
    if (r.status < 200 || r.status >= 300)
      throw new ApiError(r.status, r.text, `${method} ${path}`);
    return JSON.parse(r.text) as T;
  }

  /** Server-side apply as the platform (field manager `yunshi-test-platform`), forcing conflicts. */
  apply(o: object): Promise<Obj> {
    const obj = o as Obj;
    const path = pathOf(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    return this.json<Obj>(
      "PATCH",
      `${path}?fieldManager=yunshi-test-platform&force=true`,
      stringify(obj),
      "application/apply-patch+yaml",
    );
  }

  async get(apiVersion: string, kind: string, namespace: string | undefined, name: string) {
    const r = await this.request("GET", pathOf(apiVersion, kind, namespace, name));
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new ApiError(r.status, r.text, `GET ${kind} ${name}`);
    return JSON.parse(r.text) as Obj;
  }

  async list(apiVersion: string, kind: string, namespace?: string, labelSelector?: string) {
    const q = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : "";
    const r = await this.json<{ items: Obj[] }>("GET", pathOf(apiVersion, kind, namespace) + q);
    return r.items.map((i): Obj => ({ ...i, apiVersion, kind }));
  }

  /** JSON merge patch, optionally of a subresource (`status`). */
  mergePatch(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    patch: object,
    subresource?: string,
  ): Promise<Obj> {
    return this.json<Obj>(
      "PATCH",
      pathOf(apiVersion, kind, namespace, name) + (subresource ? `/${subresource}` : ""),
      JSON.stringify(patch),
      "application/merge-patch+json",
    );
  }

  create(o: object): Promise<Obj> {
    const obj = o as Obj;
    return this.json<Obj>(
      "POST",
      pathOf(obj.apiVersion, obj.kind, obj.metadata.namespace),
      JSON.stringify(obj),
    );
  }

  /** The Eviction API, as Karpenter's drain on a spot interruption uses it. */
  async evict(namespace: string, pod: string): Promise<void> {
    await this.json(
      "POST",
      `${pathOf("v1", "Pod", namespace, pod)}/eviction`,
      JSON.stringify({
        apiVersion: "policy/v1",
        kind: "Eviction",
        metadata: { name: pod, namespace },
      }),
    );
  }
}
