/**
 * A fake Kubernetes API server for tests (see README.md): HTTP on 127.0.0.1, as strict as
 * the real one for what yunshi uses. It is an API server only: no controllers run, so a
 * test plays Kueue, the Job controller and the kubelet through the helper methods
 * (`upsert`, `setStatus`, `startContainer`, `writeLog`, ...).
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Json, JsonObject } from "./apply.ts";
import { dotted, fieldPaths, isObject, serverSideApply, str } from "./apply.ts";
import { LogStore } from "./logs.ts";
import type { LogQuery } from "./logs.ts";
import type { ResourceType } from "./resources.ts";
import { RESOURCE_TYPES, apiVersionOf, qualifiedResource } from "./resources.ts";
import { labelsOf, parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import type { SelectorError } from "./selectors.ts";
import type { StatusBody } from "./status.ts";
import { failure, noSuchResource, notFound, success } from "./status.ts";
import type { WatchEventType } from "./store.ts";
import { Store, meta } from "./store.ts";
import { discoveryDocument } from "./discovery.ts";
import type { Route } from "./http.ts";
import { omitTypeMeta, parseBody, readBody, send, sendJson, verbOf } from "./http.ts";
import { quotaExceeded } from "./quota.ts";
import { checkTypeMeta, immutableChanges, validateBody } from "./validation.ts";

export interface ForbidRule {
  /** get, list, watch, create, patch, update, delete */
  verb: string;
  /** As RBAC names it: `jobs.batch`, `configmaps`, `pods/log`. */
  resource: string;
  namespace?: string;
}

export interface FakeKubeApiOptions {
  /** The bearer token the server accepts. @default "fake-token" */
  token?: string;
  /** The user name in 403 messages. @default "alice@example.com" */
  user?: string;
  /** Which CRD charts are installed. @default both */
  crds?: { jobset?: boolean; kueue?: boolean };
  /** Namespaces that exist at start. @default ["default"] */
  namespaces?: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
}

const APPLY_PATCH = "application/apply-patch+yaml";

export class FakeKubeApi {
  readonly store = new Store();
  readonly logs = new LogStore();
  readonly requests: RecordedRequest[] = [];
  token: string;
  user: string;
  crds: { jobset: boolean; kueue: boolean };
  forbid: ForbidRule[] = [];
  private server: Server | undefined;
  private readonly open = new Set<ServerResponse>();

  constructor(opts: FakeKubeApiOptions = {}) {
    this.token = opts.token ?? "fake-token";
    this.user = opts.user ?? "alice@example.com";
    this.crds = { jobset: opts.crds?.jobset ?? true, kueue: opts.crds?.kueue ?? true };
    for (const ns of opts.namespaces ?? ["default"])
      this.upsert({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    this.store.onRemove = (t, obj) => {
      if (t.kind === "Pod") this.logs.removePod(str(meta(obj).namespace), str(meta(obj).name));
    };
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.open.add(res);
      res.on("close", () => this.open.delete(res));
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent)
          send(res, failure(500, "InternalError", `fake server error: ${String(e)}`));
        else res.end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    return this.url;
  }

  get url(): string {
    const addr = this.server?.address() as AddressInfo | null | undefined;
    if (!addr) throw new Error("fake API server not started");
    return `http://127.0.0.1:${addr.port}`;
  }

  async close(): Promise<void> {
    this.logs.close();
    for (const res of this.open) res.end();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }

  /** A kubeconfig (YAML) with one context per entry; the first is current. */
  kubeconfig(
    contexts: { name: string; namespace?: string; token?: string; server?: string }[] = [
      { name: "fake" },
    ],
  ): string {
    const lines = [
      "apiVersion: v1",
      "kind: Config",
      `current-context: ${contexts[0]?.name ?? "fake"}`,
      "clusters:",
    ];
    for (const c of contexts)
      lines.push(
        `- name: ${c.name}`,
        "  cluster:",
        `    server: ${c.server ?? this.url}`,
        // client-node refuses plain http unless TLS verification is off; the fake has no TLS.
        "    insecure-skip-tls-verify: true",
      );
    lines.push("users:");
    for (const c of contexts)
      lines.push(`- name: ${c.name}`, "  user:", `    token: ${c.token ?? this.token}`);
    lines.push("contexts:");
    for (const c of contexts)
      lines.push(
        `- name: ${c.name}`,
        "  context:",
        `    cluster: ${c.name}`,
        `    user: ${c.name}`,
        ...(c.namespace ? [`    namespace: ${c.namespace}`] : []),
      );
    return lines.join("\n") + "\n";
  }

  // ---- helpers that play the controllers (no auth, no admission) ----

  /** Create or replace an object as a controller would (manager `fake-controller`). */
  upsert(obj: Record<string, unknown>): JsonObject {
    const o = structuredClone(obj) as JsonObject;
    const type = this.typeOf(str(o.apiVersion), str(o.kind));
    const m = meta(o);
    const existing = this.store.get(type, m.namespace as string | undefined, str(m.name));
    if (existing)
      return this.store.update(existing, o, existing.owners, "fake-controller", "Update");
    return this.store.create(type, o, new Map(), "fake-controller", "Update");
  }

  get(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): JsonObject | undefined {
    const s = this.store.get(this.typeOf(apiVersion, kind), namespace, name);
    return s ? structuredClone(s.object) : undefined;
  }

  list(apiVersion: string, kind: string, namespace?: string): JsonObject[] {
    return this.store
      .list(this.typeOf(apiVersion, kind), namespace)
      .map((s) => structuredClone(s.object));
  }

  /** Change an object in place as a controller would (status, suspend, ...). */
  mutate(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    fn: (o: JsonObject) => void,
  ): JsonObject {
    const s = this.store.get(this.typeOf(apiVersion, kind), namespace, name);
    if (!s) throw new Error(`fake: no ${kind} ${namespace ?? ""}/${name}`);
    const next = structuredClone(s.object);
    fn(next);
    return this.store.update(s, next, s.owners, "fake-controller", "Update");
  }

  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): void {
    const s = this.store.get(this.typeOf(apiVersion, kind), namespace, name);
    if (s) this.store.remove(s);
  }

  startContainer(ns: string, pod: string, container: string): void {
    this.logs.start(ns, pod, container);
  }
  writeLog(ns: string, pod: string, container: string, text: string): void {
    this.logs.write(ns, pod, container, text);
  }
  terminateContainer(ns: string, pod: string, container: string): void {
    this.logs.terminate(ns, pod, container);
  }

  typeOf(apiVersion: string, kind: string): ResourceType {
    const t = RESOURCE_TYPES.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
    if (!t) throw new Error(`fake: unknown type ${apiVersion} ${kind}`);
    return t;
  }

  // ---- HTTP ----

  private installed(t: ResourceType): boolean {
    return t.crd === undefined || this.crds[t.crd];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const contentType = req.headers["content-type"];
    this.requests.push({
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      contentType,
    });
    const auth = req.headers.authorization;
    if (auth !== `Bearer ${this.token}`)
      return send(res, failure(401, "Unauthorized", "Unauthorized"));

    const segs = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const discovery = discoveryDocument(
      segs,
      RESOURCE_TYPES.filter((t) => this.installed(t)),
    );
    if (discovery !== undefined) {
      if (req.method !== "GET")
        return send(
          res,
          failure(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
          ),
        );
      return sendJson(res, discovery === null ? 404 : 200, discovery ?? noSuchResource());
    }
    const route = this.route(segs);
    if (!route) return send(res, noSuchResource());
    const body = await readBody(req);
    const verb = verbOf(req.method ?? "GET", route, url.searchParams);
    const denied = this.authorize(verb, route);
    if (denied) return send(res, denied);
    switch (verb) {
      case "get":
        return route.subresource === "log"
          ? this.serveLog(route, url.searchParams, res)
          : this.getOne(route, res);
      case "list":
        return this.listAll(route, url.searchParams, res);
      case "watch":
        return this.watch(route, url.searchParams, req, res);
      case "create":
        return this.create(route, url.searchParams, contentType, body, res);
      case "patch":
        return this.patch(route, url.searchParams, contentType, body, res);
      case "delete":
        return this.delete(route, url.searchParams, body, res);
      default:
        return send(
          res,
          failure(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
          ),
        );
    }
  }

  private route(segs: string[]): Route | undefined {
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === "api" && segs[1] === "v1") [group, version, rest] = ["", "v1", segs.slice(2)];
    else if (segs[0] === "apis" && segs.length >= 4)
      [group, version, rest] = [segs[1] as string, segs[2] as string, segs.slice(3)];
    else return undefined;
    let namespace: string | undefined;
    if (rest[0] === "namespaces" && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, subresource, ...extra] = rest;
    if (extra.length > 0) return undefined;
    const type = RESOURCE_TYPES.find(
      (t) => t.group === group && t.version === version && t.plural === plural,
    );
    if (!type || !this.installed(type)) return undefined;
    if (namespace !== undefined && !type.namespaced) return undefined;
    if (subresource !== undefined && !(type.kind === "Pod" && subresource === "log"))
      return undefined;
    return { type, namespace, name, subresource };
  }

  private authorize(verb: string, r: Route): StatusBody | undefined {
    const resource = r.subresource ? `${r.type.plural}/${r.subresource}` : r.type.plural;
    const qualified = r.type.group === "" ? resource : `${resource}.${r.type.group}`;
    const rule = this.forbid.find(
      (f) =>
        f.verb === verb &&
        (f.resource === qualified || f.resource === resource) &&
        (f.namespace === undefined || f.namespace === r.namespace),
    );
    if (!rule) return undefined;
    const what = `${qualifiedResource(r.type)}${r.name ? ` "${r.name}"` : ""}`;
    const where = r.namespace ? ` in the namespace "${r.namespace}"` : " at the cluster scope";
    return failure(
      403,
      "Forbidden",
      `${what} is forbidden: User "${this.user}" cannot ${verb} resource "${resource}" in API group "${r.type.group}"${where}`,
      { ...(r.name ? { name: r.name } : {}), group: r.type.group, kind: r.type.plural },
    );
  }

  private namespaceMissing(r: Route): StatusBody | undefined {
    if (!r.type.namespaced || r.namespace === undefined) return undefined;
    if (this.store.get(this.typeOf("v1", "Namespace"), undefined, r.namespace)) return undefined;
    return failure(404, "NotFound", `namespaces "${r.namespace}" not found`, {
      name: r.namespace,
      kind: "namespaces",
    });
  }

  private notFound(r: Route): StatusBody {
    return notFound(r.type.plural, r.type.group, r.name ?? "");
  }

  private getOne(r: Route, res: ServerResponse): void {
    const s = this.store.get(r.type, r.namespace, r.name ?? "");
    if (!s) return send(res, this.notFound(r));
    sendJson(res, 200, s.object);
  }

  /** Label and field selectors of a list or watch; a bad one answers 400 and gives undefined. */
  private selectors(
    q: URLSearchParams,
    res: ServerResponse,
  ):
    | {
        labels: ReturnType<typeof parseLabelSelector>;
        fields: ReturnType<typeof parseFieldSelector>;
      }
    | undefined {
    try {
      return {
        labels: parseLabelSelector(q.get("labelSelector")),
        fields: parseFieldSelector(q.get("fieldSelector")),
      };
    } catch (e) {
      send(res, failure(400, "BadRequest", (e as SelectorError).message));
      return undefined;
    }
  }

  private listAll(r: Route, q: URLSearchParams, res: ServerResponse): void {
    const selectors = this.selectors(q, res);
    if (selectors === undefined) return;
    const { labels, fields } = selectors;
    const items = this.store
      .list(r.type, r.namespace)
      .map((s) => s.object)
      .filter((o) => labels(labelsOf(o)) && fields(o))
      // Typed lists of built-in kinds carry no apiVersion/kind on their items; CRD lists do.
      .map((o) => (r.type.crd ? o : omitTypeMeta(o)));
    sendJson(res, 200, {
      kind: `${r.type.kind}List`,
      apiVersion: apiVersionOf(r.type),
      metadata: { resourceVersion: this.store.resourceVersion },
      items,
    });
  }

  private watch(r: Route, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    const selectors = this.selectors(q, res);
    if (selectors === undefined) return;
    const { labels, fields } = selectors;
    const rvParam = q.get("resourceVersion");
    const fromRv = rvParam && rvParam !== "0" ? Number(rvParam) : undefined;
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    // Send the headers now: a client waits for them before it reads events.
    res.flushHeaders();
    if (fromRv !== undefined && (!Number.isInteger(fromRv) || fromRv < this.store.oldestRv)) {
      res.end(
        JSON.stringify({
          type: "ERROR",
          object: failure(
            410,
            "Expired",
            `too old resource version: ${rvParam} (${this.store.oldestRv})`,
          ),
        }) + "\n",
      );
      return;
    }
    const sendEvent = (type: WatchEventType, object: JsonObject) =>
      res.write(JSON.stringify({ type, object }) + "\n");
    // Without a resourceVersion a watch starts with ADDED for every existing object.
    if (fromRv === undefined)
      for (const s of this.store.list(r.type, r.namespace))
        if (labels(labelsOf(s.object)) && fields(s.object)) sendEvent("ADDED", s.object);
    const stop = this.store.watch(
      {
        resource: r.type,
        namespace: r.namespace,
        matches: (o) => labels(labelsOf(o)) && fields(o),
        send: sendEvent,
      },
      fromRv,
    );
    const timeout = Number(q.get("timeoutSeconds") ?? "0");
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    const end = () => {
      stop();
      if (timer) clearTimeout(timer);
    };
    req.on("close", end);
    res.on("close", end);
  }

  private create(
    r: Route,
    q: URLSearchParams,
    contentType: string | undefined,
    body: string,
    res: ServerResponse,
  ): void {
    if (r.name !== undefined)
      return send(
        res,
        failure(
          405,
          "MethodNotAllowed",
          "the server does not allow this method on the requested resource",
        ),
      );
    if (!contentType?.startsWith("application/json"))
      return send(
        res,
        failure(
          415,
          "UnsupportedMediaType",
          `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`,
        ),
      );
    const obj = parseBody(body, "json");
    if (!isObject(obj))
      return send(res, failure(400, "BadRequest", "the object provided is unrecognized"));
    const ns = this.namespaceMissing(r);
    if (ns) return send(res, ns);
    const bad = checkTypeMeta(r.type, obj) ?? validateBody(r.type, obj);
    if (bad) return send(res, bad);
    const m = meta(obj);
    if (r.namespace !== undefined) {
      if (m.namespace !== undefined && m.namespace !== r.namespace)
        return send(
          res,
          failure(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
          ),
        );
      m.namespace = r.namespace;
    }
    const name = str(m.name);
    if (this.store.get(r.type, r.namespace, name))
      return send(
        res,
        failure(409, "AlreadyExists", `${qualifiedResource(r.type)} "${name}" already exists`, {
          name,
          group: r.type.group,
          kind: r.type.plural,
        }),
      );
    const quota = quotaExceeded(this.store, this.typeOf("v1", "ResourceQuota"), r, name);
    if (quota) return send(res, quota);
    const manager = q.get("fieldManager") ?? "unknown";
    const created = this.store.create(
      r.type,
      obj,
      new Map([[manager, fieldPaths(obj)]]),
      manager,
      "Update",
    );
    sendJson(res, 201, created);
  }

  private patch(
    r: Route,
    q: URLSearchParams,
    contentType: string | undefined,
    body: string,
    res: ServerResponse,
  ): void {
    if (r.name === undefined)
      return send(
        res,
        failure(
          405,
          "MethodNotAllowed",
          "the server does not allow this method on the requested resource",
        ),
      );
    const ct = contentType?.split(";")[0]?.trim();
    const known = [
      "application/json-patch+json",
      "application/merge-patch+json",
      "application/strategic-merge-patch+json",
      APPLY_PATCH,
    ];
    if (!ct || !known.includes(ct))
      return send(
        res,
        failure(
          415,
          "UnsupportedMediaType",
          `the body of the request was in an unknown format - accepted media types include: ${known.join(", ")}`,
        ),
      );
    if (ct !== APPLY_PATCH)
      return send(
        res,
        failure(
          415,
          "UnsupportedMediaType",
          `fake API server: only server-side apply (${APPLY_PATCH}) is implemented, got ${ct}`,
        ),
      );
    const manager = q.get("fieldManager");
    if (!manager)
      return send(
        res,
        failure(
          422,
          "Invalid",
          `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch`,
          {
            group: "meta.k8s.io",
            kind: "PatchOptions",
            causes: [
              {
                reason: "FieldValueRequired",
                message: "Required value: is required for apply patch",
                field: "fieldManager",
              },
            ],
          },
        ),
      );
    const forceParam = q.get("force");
    if (forceParam !== null && forceParam !== "true" && forceParam !== "false")
      return send(res, failure(400, "BadRequest", `invalid value for force: ${forceParam}`));
    const force = forceParam === "true";
    let config: unknown;
    try {
      config = parseBody(body, "yaml");
    } catch (e) {
      return send(res, failure(400, "BadRequest", `error decoding YAML: ${(e as Error).message}`));
    }
    if (!isObject(config))
      return send(res, failure(400, "BadRequest", "the object provided is unrecognized"));
    const ns = this.namespaceMissing(r);
    if (ns) return send(res, ns);
    const typeBad = checkTypeMeta(r.type, config);
    if (typeBad) return send(res, typeBad);
    const cm = meta(config);
    if (cm.name !== r.name)
      return send(
        res,
        failure(
          400,
          "BadRequest",
          `the name of the object (${str(cm.name)}) does not match the name on the URL (${r.name})`,
        ),
      );
    if (r.namespace !== undefined && cm.namespace !== undefined && cm.namespace !== r.namespace)
      return send(
        res,
        failure(
          400,
          "BadRequest",
          "the namespace of the provided object does not match the namespace sent on the request",
        ),
      );
    if ("status" in config)
      return send(
        res,
        failure(
          422,
          "Invalid",
          `${r.type.kind}.${r.type.group} "${r.name}" is invalid: status: Forbidden: apply the status subresource instead`,
        ),
      );
    const stored = this.store.get(r.type, r.namespace, r.name);
    if (stored && meta(stored.object).deletionTimestamp !== undefined)
      return send(
        res,
        failure(
          409,
          "Conflict",
          `Operation cannot be fulfilled on ${qualifiedResource(r.type)} "${r.name}": object is being deleted`,
          { name: r.name, group: r.type.group, kind: r.type.plural },
        ),
      );
    const result = serverSideApply(
      stored?.object,
      stored?.owners ?? new Map(),
      config,
      manager,
      force,
    );
    if (result.conflicts.length > 0) {
      const n = result.conflicts.length;
      const lines = result.conflicts.map(
        (c) => `conflict with "${c.manager}" using ${apiVersionOf(r.type)}: ${dotted(c.field)}`,
      );
      return send(
        res,
        failure(
          409,
          "Conflict",
          `Apply failed with ${n} conflict${n > 1 ? "s" : ""}: ${lines.join("\n")}`,
          {
            causes: result.conflicts.map((c) => ({
              type: "FieldManagerConflict",
              message: `conflict with "${c.manager}" using ${apiVersionOf(r.type)}`,
              field: dotted(c.field),
            })),
          },
        ),
      );
    }
    const merged = result.object;
    if (r.namespace !== undefined) meta(merged).namespace = r.namespace;
    meta(merged).name = r.name;
    merged.apiVersion = apiVersionOf(r.type);
    merged.kind = r.type.kind;
    const bad =
      validateBody(r.type, merged) ??
      (stored ? immutableChanges(r.type, r.name, stored, merged) : undefined);
    if (bad) return send(res, bad);
    const dryRun = q.get("dryRun");
    if (dryRun !== null && dryRun !== "All")
      return send(
        res,
        failure(400, "BadRequest", `Invalid dry run value: ${dryRun}: supported values: "All"`),
      );
    if (!stored) {
      const quota = quotaExceeded(this.store, this.typeOf("v1", "ResourceQuota"), r, r.name);
      if (quota) return send(res, quota);
      // A dry run goes through every check, then stores nothing.
      if (dryRun === "All") return sendJson(res, 201, merged);
      return sendJson(res, 201, this.store.create(r.type, merged, result.owners, manager, "Apply"));
    }
    if (dryRun === "All") return sendJson(res, 200, merged);
    sendJson(res, 200, this.store.update(stored, merged, result.owners, manager, "Apply"));
  }

  private delete(r: Route, q: URLSearchParams, body: string, res: ServerResponse): void {
    if (r.name === undefined)
      return send(
        res,
        failure(405, "MethodNotAllowed", "fake API server: deletecollection is not implemented"),
      );
    const stored = this.store.get(r.type, r.namespace, r.name);
    if (!stored) return send(res, this.notFound(r));
    let policy = q.get("propagationPolicy") ?? undefined;
    if (body.trim()) {
      const opts = parseBody(body, "json");
      if (isObject(opts) && typeof opts.propagationPolicy === "string")
        policy = opts.propagationPolicy;
    }
    if (policy !== undefined && !["Foreground", "Background", "Orphan"].includes(policy))
      return send(
        res,
        failure(
          422,
          "Invalid",
          `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`,
        ),
      );
    // batch/v1 Jobs orphan their pods by default (kept for compatibility); other kinds cascade.
    policy ??= r.type.kind === "Job" ? "Orphan" : "Background";
    const m = meta(stored.object);
    if (policy === "Foreground") {
      // The owner stays, marked, until the garbage collector has removed its dependents.
      const marked = structuredClone(stored.object);
      meta(marked).deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      meta(marked).finalizers = ["foregroundDeletion"];
      const out = this.store.update(stored, marked, stored.owners, "fake-gc", "Update");
      setTimeout(() => {
        this.cascade(str(m.uid));
        const still = this.store.get(r.type, r.namespace, r.name ?? "");
        if (still) this.store.remove(still);
      }, 20);
      return sendJson(res, 200, out);
    }
    this.store.remove(stored);
    if (policy === "Background") setTimeout(() => this.cascade(str(m.uid)), 5);
    else
      for (const d of this.store.dependents(str(m.uid))) {
        const dm = meta(d.object);
        dm.ownerReferences = (dm.ownerReferences as Json[]).filter(
          (ref) => !(isObject(ref) && ref.uid === m.uid),
        );
      }
    send(res, success({ name: r.name, group: r.type.group, kind: r.type.plural, uid: str(m.uid) }));
  }

  private cascade(uid: string): void {
    for (const d of this.store.dependents(uid)) {
      this.cascade(str(meta(d.object).uid));
      this.store.remove(d);
    }
  }

  private serveLog(r: Route, q: URLSearchParams, res: ServerResponse): void {
    const ns = r.namespace ?? "";
    const podName = r.name ?? "";
    const pod = this.store.get(r.type, ns, podName);
    if (!pod) return send(res, this.notFound(r));
    const spec = isObject(pod.object.spec) ? pod.object.spec : {};
    const names = (k: string) =>
      Array.isArray(spec[k]) ? spec[k].map((c) => str(isObject(c) ? c.name : "")) : [];
    const containers = names("containers");
    const inits = names("initContainers");
    let container = q.get("container");
    if (!container) {
      if (containers.length !== 1)
        return send(
          res,
          failure(
            400,
            "BadRequest",
            `a container name must be specified for pod ${podName}, choose one of: [${containers.join(" ")}] or one of the init containers: [${inits.join(" ")}]`,
          ),
        );
      container = containers[0] as string;
    }
    if (!containers.includes(container) && !inits.includes(container))
      return send(
        res,
        failure(400, "BadRequest", `container ${container} is not valid for pod ${podName}`),
      );
    const previous = q.get("previous") === "true";
    if (previous && !this.logs.hasPrevious(ns, podName, container))
      return send(
        res,
        failure(
          400,
          "BadRequest",
          `previous terminated container "${container}" in pod "${podName}" not found`,
        ),
      );
    if (!this.logs.started(ns, podName, container))
      return send(
        res,
        failure(
          400,
          "BadRequest",
          `container "${container}" in pod "${podName}" is waiting to start: PodInitializing`,
        ),
      );
    const num = (k: string) => (q.get(k) === null ? undefined : Number(q.get(k)));
    const sinceTime = q.get("sinceTime");
    const query: LogQuery = {
      previous,
      follow: q.get("follow") === "true",
      timestamps: q.get("timestamps") === "true",
    };
    const tail = num("tailLines");
    const since = num("sinceSeconds");
    const limit = num("limitBytes");
    if (tail !== undefined) query.tailLines = tail;
    if (since !== undefined) query.sinceSeconds = since;
    if (limit !== undefined) query.limitBytes = limit;
    if (sinceTime) query.sinceTime = new Date(sinceTime);
    this.logs.serve(ns, podName, container, query, res);
  }
}
