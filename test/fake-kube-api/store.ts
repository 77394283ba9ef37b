/**
 * The fake's etcd: objects by resource type, namespace and name, a global
 * resourceVersion, the field ownership of server-side apply, an event history that
 * watches replay from a resourceVersion, and garbage collection through ownerReferences.
 */
import { randomUUID } from "node:crypto";
import type { JsonObject, PathKey } from "./apply.ts";
import { canonical, fieldsV1, isObject, str } from "./apply.ts";
import type { ResourceType } from "./resources.ts";
import { apiVersionOf } from "./resources.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoredObject {
  type: ResourceType;
  object: JsonObject;
  owners: Map<string, Set<PathKey>>;
  /** Each manager's last operation, for managedFields. */
  operations: Map<string, "Apply" | "Update">;
}

interface HistoryEvent {
  rv: number;
  type: WatchEventType;
  resource: ResourceType;
  object: JsonObject;
}

export interface Watcher {
  resource: ResourceType;
  namespace: string | undefined;
  matches: (obj: JsonObject) => boolean;
  send: (type: WatchEventType, obj: JsonObject) => void;
}

const typeKey = (t: ResourceType) => `${t.plural}.${t.group}`;

export class Store {
  private rv = 1000;
  private readonly objects = new Map<string, StoredObject>();
  private readonly history: HistoryEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  /** Called when an object is removed (the log store drops a deleted pod's streams). */
  onRemove: (type: ResourceType, obj: JsonObject) => void = () => {};

  get resourceVersion(): string {
    return String(this.rv);
  }

  key(t: ResourceType, ns: string | undefined, name: string): string {
    return `${typeKey(t)}/${t.namespaced ? (ns ?? "") : ""}/${name}`;
  }

  get(t: ResourceType, ns: string | undefined, name: string): StoredObject | undefined {
    return this.objects.get(this.key(t, ns, name));
  }

  list(t: ResourceType, ns: string | undefined): StoredObject[] {
    const out: StoredObject[] = [];
    for (const s of this.objects.values()) {
      if (s.type !== t) continue;
      if (t.namespaced && ns !== undefined && meta(s.object).namespace !== ns) continue;
      out.push(s);
    }
    return out.sort((a, b) => str(meta(a.object).name).localeCompare(str(meta(b.object).name)));
  }

  all(): StoredObject[] {
    return [...this.objects.values()];
  }

  /** Insert a new object: the server fills uid, resourceVersion, creationTimestamp, generation. */
  create(
    t: ResourceType,
    obj: JsonObject,
    owners: Map<string, Set<PathKey>>,
    manager: string,
    operation: "Apply" | "Update",
  ): JsonObject {
    const m = meta(obj);
    m.uid = randomUUID();
    m.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    if (isObject(obj.spec)) m.generation = 1;
    obj.apiVersion = apiVersionOf(t);
    obj.kind = t.kind;
    const stored: StoredObject = { type: t, object: obj, owners, operations: new Map() };
    this.stamp(stored, manager, operation);
    this.objects.set(this.key(t, m.namespace as string | undefined, m.name as string), stored);
    this.emit("ADDED", stored);
    return structuredClone(obj);
  }

  /** Replace an existing object's content (uid, creation time kept; generation bumped on spec change). */
  update(
    stored: StoredObject,
    next: JsonObject,
    owners: Map<string, Set<PathKey>>,
    manager: string,
    operation: "Apply" | "Update",
  ): JsonObject {
    const prev = stored.object;
    const pm = meta(prev);
    const nm = meta(next);
    for (const k of [
      "uid",
      "creationTimestamp",
      "generation",
      "deletionTimestamp",
      "finalizers",
      "ownerReferences",
    ])
      if (pm[k] !== undefined && nm[k] === undefined) nm[k] = pm[k];
    nm.name = pm.name ?? null;
    if (pm.namespace !== undefined) nm.namespace = pm.namespace;
    if (prev.status !== undefined && next.status === undefined) next.status = prev.status;
    next.apiVersion = prev.apiVersion ?? null;
    next.kind = prev.kind ?? null;
    if (canonical(prev.spec) !== canonical(next.spec) && typeof pm.generation === "number")
      nm.generation = pm.generation + 1;
    const changed =
      canonical({ ...prev, metadata: { ...pm, managedFields: null, resourceVersion: null } }) !==
      canonical({ ...next, metadata: { ...nm, managedFields: null, resourceVersion: null } });
    stored.object = next;
    stored.owners = owners;
    // An apply that changes nothing keeps the resourceVersion, as the real server does.
    if (!changed) {
      nm.resourceVersion = pm.resourceVersion ?? null;
      stored.operations.set(manager, operation);
      nm.managedFields = managedFields(stored);
      return structuredClone(next);
    }
    this.stamp(stored, manager, operation);
    this.emit("MODIFIED", stored);
    return structuredClone(next);
  }

  remove(stored: StoredObject): void {
    const m = meta(stored.object);
    this.objects.delete(this.key(stored.type, m.namespace as string | undefined, m.name as string));
    this.rv++;
    m.resourceVersion = String(this.rv);
    this.record("DELETED", stored);
    this.onRemove(stored.type, stored.object);
  }

  /** Objects whose ownerReferences name this uid. */
  dependents(uid: string): StoredObject[] {
    return this.all().filter((s) => {
      const refs = meta(s.object).ownerReferences;
      return Array.isArray(refs) && refs.some((r) => isObject(r) && r.uid === uid);
    });
  }

  watch(w: Watcher, fromRv: number | undefined): () => void {
    if (fromRv !== undefined)
      for (const e of this.history)
        if (e.rv > fromRv && e.resource === w.resource && inNs(e.object, w) && w.matches(e.object))
          w.send(e.type, e.object);
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  /** The oldest resourceVersion a watch can start from (older ones get 410 Gone). */
  get oldestRv(): number {
    return 1000;
  }

  private stamp(stored: StoredObject, manager: string, operation: "Apply" | "Update"): void {
    this.rv++;
    const m = meta(stored.object);
    m.resourceVersion = String(this.rv);
    stored.operations.set(manager, operation);
    m.managedFields = managedFields(stored);
  }

  private emit(type: WatchEventType, stored: StoredObject): void {
    this.record(type, stored);
  }

  private record(type: WatchEventType, stored: StoredObject): void {
    const object = structuredClone(stored.object);
    this.history.push({ rv: this.rv, type, resource: stored.type, object });
    for (const w of this.watchers)
      if (w.resource === stored.type && inNs(object, w) && w.matches(object)) w.send(type, object);
  }
}

function inNs(obj: JsonObject, w: Watcher): boolean {
  return !w.resource.namespaced || w.namespace === undefined || meta(obj).namespace === w.namespace;
}

export function meta(obj: JsonObject): JsonObject {
  if (!isObject(obj.metadata)) obj.metadata = {};
  return obj.metadata;
}

function managedFields(stored: StoredObject): JsonObject[] {
  const time = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  return [...stored.owners].map(([m, set]) => ({
    manager: m,
    operation: stored.operations.get(m) ?? "Update",
    apiVersion: apiVersionOf(stored.type),
    time,
    fieldsType: "FieldsV1",
    fieldsV1: fieldsV1(set),
  }));
}
