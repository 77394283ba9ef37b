/**
 * The only place yunshi talks to the Kubernetes API (client-node 1.4). Everything goes
 * through KubernetesObjectApi (discovery resolves kinds, so CRDs need no generated
 * clients), Watch and Log; every failure leaves as a ClusterError naming the operation.
 * Objects come back as plain JSON (timestamps as strings), the shape the pure code and
 * the recorded fixtures use.
 */
import { Writable } from "node:stream";
import { KubernetesObjectApi, Log, PatchStrategy, Watch } from "@kubernetes/client-node";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { FIELD_MANAGER } from "../labels.ts";
import { ClusterError, toClusterError } from "./errors.ts";
import type { Operation } from "./errors.ts";
import { contextNamespace, loadKubeConfig } from "./kubeconfig.ts";
import type { ConnectOptions } from "./kubeconfig.ts";
import type { KubeObject, ObjectRef, WatchEventType } from "./types.ts";

/** Exposes the URL path KubernetesObjectApi derives from discovery, which Watch needs. */
class ObjectApi extends KubernetesObjectApi {
  static fromConfig(kc: KubeConfig): ObjectApi {
    const api = kc.makeApiClient(ObjectApi);
    api.setDefaultNamespace(kc);
    return api;
  }
  listPath(apiVersion: string, kind: string, namespace: string | undefined): Promise<string> {
    return this.specUriPath(
      { apiVersion, kind, metadata: { namespace } } as KubernetesObject,
      "list",
    );
  }
}

/**
 * Objects as the API server sends them. client-node turns built-in kinds' timestamps into Date
 * (which JSON writes with milliseconds) but leaves custom resources' as strings: write both in
 * the API's RFC 3339 form, so a Job and a JobSet show `created` the same way.
 */
const plain = <T>(v: unknown): T =>
  JSON.parse(JSON.stringify(v), (_key, value: unknown) =>
    typeof value === "string" && API_DATE_WITH_MILLIS.test(value)
      ? value.replace(/\.000Z$/, "Z")
      : value,
  ) as T;
const API_DATE_WITH_MILLIS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/;

export type Propagation = "Foreground" | "Background" | "Orphan";

export interface LogOptions {
  follow?: boolean;
  sinceSeconds?: number;
  tailLines?: number;
  previous?: boolean;
}

export class ClusterClient {
  private readonly api: ObjectApi;
  readonly context: string;
  readonly server: string;
  /** The current context's namespace, or "default". */
  readonly defaultNamespace: string;

  constructor(private readonly kc: KubeConfig) {
    this.api = ObjectApi.fromConfig(kc);
    this.context = kc.getCurrentContext();
    this.server = kc.getCurrentCluster()?.server ?? "";
    this.defaultNamespace = contextNamespace(kc) ?? "default";
  }

  static connect(opts: ConnectOptions = {}): ClusterClient {
    return new ClusterClient(loadKubeConfig(opts));
  }

  private op(
    verb: Operation["verb"],
    ref: Partial<ObjectRef> & { apiVersion: string; kind: string },
  ): Operation {
    return {
      verb,
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      namespace: ref.namespace,
      name: ref.name,
      server: this.server,
      context: this.context,
    };
  }

  private async call<T>(op: Operation, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw toClusterError(e, op);
    }
  }

  /** Server-side apply under yunshi's field manager. `force` takes over fields another manager owns. */
  async apply(
    obj: KubeObject,
    opts: { force?: boolean; dryRun?: boolean } = {},
  ): Promise<KubeObject> {
    const ref = {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name,
    };
    // client-node fills defaults into the object it is given: hand it a copy.
    const body = structuredClone(obj) as unknown as KubernetesObject;
    return this.call(this.op("apply", ref), async () =>
      plain<KubeObject>(
        await this.api.patch(
          body,
          undefined,
          opts.dryRun ? "All" : undefined,
          FIELD_MANAGER,
          opts.force ?? false,
          PatchStrategy.ServerSideApply,
        ),
      ),
    );
  }

  /** The object, or undefined when it does not exist (a missing CRD or namespace still throws). */
  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    try {
      return await this.call(this.op("get", ref), async () =>
        plain<KubeObject>(
          await this.api.read({
            apiVersion: ref.apiVersion,
            kind: ref.kind,
            metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
          }),
        ),
      );
    } catch (e) {
      if (e instanceof ClusterError && e.kind === "not-found") return undefined;
      throw e;
    }
  }

  async list(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    labelSelector?: string,
  ): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    return this.call(this.op("list", { apiVersion, kind, namespace }), async () => {
      const res = plain<{ items?: KubeObject[]; metadata?: { resourceVersion?: string } }>(
        await this.api.list(
          apiVersion,
          kind,
          namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          labelSelector,
        ),
      );
      // Items of built-in lists carry no apiVersion/kind: put them back.
      const items = (res.items ?? []).map((o) => ({ ...o, apiVersion, kind }));
      return { items, resourceVersion: res.metadata?.resourceVersion ?? "" };
    });
  }

  /** Delete; false when it was already gone. */
  async delete(ref: ObjectRef, propagation: Propagation = "Foreground"): Promise<boolean> {
    try {
      await this.call(this.op("delete", ref), () =>
        this.api.delete(
          {
            apiVersion: ref.apiVersion,
            kind: ref.kind,
            metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
          },
          undefined,
          undefined,
          undefined,
          undefined,
          propagation,
        ),
      );
      return true;
    } catch (e) {
      if (e instanceof ClusterError && e.kind === "not-found") return false;
      throw e;
    }
  }

  /** Wait until the object is gone (foreground deletion finishes after its dependents). */
  async waitGone(ref: ObjectRef, timeoutMs = 120_000, pollMs = 250): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.get(ref)) !== undefined) {
      if (Date.now() > deadline)
        throw new ClusterError(
          "server",
          `${ref.kind} ${ref.namespace ?? ""}/${ref.name} was not deleted within ${Math.round(timeoutMs / 1000)} s; check its finalizers with kubectl.`,
        );
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /**
   * Watch a kind from a resourceVersion. Resolves once the stream is open; `onDone` gets the
   * error or null when the server closes it. Returns a function that stops the watch.
   */
  async watch(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    opts: { labelSelector?: string; resourceVersion?: string },
    onEvent: (type: WatchEventType, obj: KubeObject) => void,
    onDone: (err: ClusterError | null) => void,
  ): Promise<() => void> {
    const op = this.op("watch", { apiVersion, kind, namespace });
    const path = await this.call(op, () => this.api.listPath(apiVersion, kind, namespace));
    const query: Record<string, string> = { allowWatchBookmarks: "true" };
    if (opts.labelSelector) query.labelSelector = opts.labelSelector;
    if (opts.resourceVersion) query.resourceVersion = opts.resourceVersion;
    const ctl = await new Watch(this.kc).watch(
      path,
      query,
      (type: string, obj: unknown) =>
        onEvent(type as WatchEventType, { ...plain<KubeObject>(obj), apiVersion, kind }),
      (err: unknown) => onDone(err ? toClusterError(err, op) : null),
    );
    return () => ctl.abort();
  }

  /**
   * Stream a container's log to `onChunk`; resolves when the stream ends (at once without
   * follow; when the container terminates with follow). `signal` stops it early.
   */
  async podLogs(
    namespace: string,
    pod: string,
    container: string,
    opts: LogOptions,
    onChunk: (text: string) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const op = this.op("logs", { apiVersion: "v1", kind: "Pod", namespace, name: pod });
    const ended = new Promise<void>((resolve, reject) => {
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          onChunk(chunk.toString("utf8"));
          cb();
        },
      });
      sink.on("finish", resolve);
      sink.on("error", reject);
      void this.startLog(namespace, pod, container, opts, sink, signal)
        .then((ctl) => {
          const stop = () => {
            ctl.abort();
            resolve();
          };
          // Aborted while the request was starting: the event has fired already.
          if (signal?.aborted) return stop();
          signal?.addEventListener("abort", stop);
        })
        .catch((e: unknown) => reject(toClusterError(e, op)));
    });
    return ended;
  }

  private startLog(
    namespace: string,
    pod: string,
    container: string,
    opts: LogOptions,
    sink: Writable,
    signal?: AbortSignal,
  ): Promise<AbortController> {
    if (signal?.aborted) return Promise.resolve(new AbortController());
    return new Log(this.kc).log(namespace, pod, container, sink, {
      follow: opts.follow ?? false,
      ...(opts.sinceSeconds === undefined ? {} : { sinceSeconds: opts.sinceSeconds }),
      ...(opts.tailLines === undefined ? {} : { tailLines: opts.tailLines }),
      ...(opts.previous ? { previous: true } : {}),
    });
  }
}
