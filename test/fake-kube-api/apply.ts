/**
 * Server-side apply as the API server does it, reduced to what matters for a strict
 * client test: each field manager owns a set of field paths; applying a value to a field
 * that another manager owns with a different value is a conflict (409) unless `force`;
 * fields a manager applied before and omits now are removed. Lists are atomic here (the
 * real server merges lists that have merge keys, such as `containers` by name): a list is
 * one field, which is stricter, never looser, about conflicts.
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };
/** A field path, JSON-encoded so it can live in a Set. */
export type PathKey = string;

/** Fields the server owns; an apply neither sets nor owns them. */
const SYSTEM_METADATA = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "selfLink",
]);

/** A JSON value as text for messages and keys (strings as is). */
export const str = (v: Json | undefined): string =>
  typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v);

export const isObject = (v: unknown): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Every leaf path of an applied configuration (objects recurse; lists and scalars are leaves). */
export function fieldPaths(obj: JsonObject): Set<PathKey> {
  const out = new Set<PathKey>();
  const walk = (v: Json, path: string[]): void => {
    if (isObject(v) && Object.keys(v).length > 0) {
      for (const [k, child] of Object.entries(v)) {
        if (path.length === 1 && path[0] === "metadata" && SYSTEM_METADATA.has(k)) continue;
        walk(child, [...path, k]);
      }
    } else {
      out.add(JSON.stringify(path));
    }
  };
  for (const [k, v] of Object.entries(obj)) {
    if (k === "apiVersion" || k === "kind" || k === "status") continue;
    walk(v, [k]);
  }
  return out;
}

export const parsePath = (p: PathKey): string[] => JSON.parse(p) as string[];
/** `.spec.template` as the real conflict messages print it. */
export const dotted = (p: PathKey): string => "." + parsePath(p).join(".");

export function getAt(obj: JsonObject, path: readonly string[]): Json | undefined {
  let cur: Json | undefined = obj;
  for (const k of path) {
    if (!isObject(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

export function setAt(obj: JsonObject, path: readonly string[], value: Json): void {
  let cur = obj;
  for (const k of path.slice(0, -1)) {
    const next = cur[k];
    if (!isObject(next)) cur[k] = {};
    cur = cur[k] as JsonObject;
  }
  cur[path[path.length - 1] as string] = structuredClone(value);
}

export function deleteAt(obj: JsonObject, path: readonly string[]): void {
  const parents: JsonObject[] = [];
  let cur: Json | undefined = obj;
  for (const k of path.slice(0, -1)) {
    if (!isObject(cur)) return;
    parents.push(cur);
    cur = cur[k];
  }
  if (!isObject(cur)) return;
  delete cur[path[path.length - 1] as string];
  // Drop objects left empty by the removal, as the real server's field sets do.
  for (let i = path.length - 2; i >= 0; i--) {
    const parent = parents[i];
    const key = path[i] as string;
    const child = parent?.[key];
    if (parent && isObject(child) && Object.keys(child).length === 0) delete parent[key];
    else break;
  }
}

export function canonical(v: Json | undefined): string {
  if (v === undefined) return "undefined";
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isObject(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

const overlaps = (a: PathKey, b: PathKey): boolean => {
  const pa = parsePath(a);
  const pb = parsePath(b);
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) if (pa[i] !== pb[i]) return false;
  return true;
};

export interface Conflict {
  manager: string;
  field: PathKey;
}

export interface ApplyResult {
  object: JsonObject;
  owners: Map<string, Set<PathKey>>;
  conflicts: Conflict[];
}

/**
 * Apply `config` as `manager` onto `live` (undefined when the object is new). Returns the
 * merged object and the new ownership, or the conflicts when there are some and !force.
 */
export function serverSideApply(
  live: JsonObject | undefined,
  owners: ReadonlyMap<string, ReadonlySet<PathKey>>,
  config: JsonObject,
  manager: string,
  force: boolean,
): ApplyResult {
  const base: JsonObject = live ? structuredClone(live) : {};
  const applied = fieldPaths(config);
  const conflicts: Conflict[] = [];
  const nextOwners = new Map<string, Set<PathKey>>();
  for (const [m, set] of owners) nextOwners.set(m, new Set(set));

  for (const [other, set] of owners) {
    if (other === manager) continue;
    for (const theirs of set) {
      for (const mine of applied) {
        if (!overlaps(theirs, mine)) continue;
        const path = parsePath(mine.length > theirs.length ? mine : theirs);
        if (canonical(getAt(base, path)) !== canonical(getAt(config, path)))
          conflicts.push({ manager: other, field: theirs });
      }
    }
  }
  if (conflicts.length > 0 && !force)
    return { object: base, owners: nextOwners, conflicts: dedupe(conflicts) };
  if (force)
    for (const c of conflicts) {
      nextOwners.get(c.manager)?.delete(c.field);
    }

  const previous = owners.get(manager) ?? new Set<PathKey>();
  for (const p of previous) {
    if (applied.has(p)) continue;
    const ownedElsewhere = [...nextOwners].some(([m, set]) => m !== manager && set.has(p));
    if (!ownedElsewhere) deleteAt(base, parsePath(p));
  }
  for (const p of applied) {
    const path = parsePath(p);
    setAt(base, path, getAt(config, path) ?? null);
  }
  nextOwners.set(manager, applied);
  for (const [m, set] of nextOwners) if (set.size === 0) nextOwners.delete(m);
  return { object: base, owners: nextOwners, conflicts: [] };
}

function dedupe(cs: Conflict[]): Conflict[] {
  const seen = new Set<string>();
  return cs.filter((c) => {
    const k = `${c.manager}\0${c.field}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The `fieldsV1` form of a field set (`{"f:spec": {"f:parallelism": {}}}`). */
export function fieldsV1(paths: ReadonlySet<PathKey>): JsonObject {
  const root: JsonObject = {};
  for (const p of paths) {
    let cur = root;
    for (const k of parsePath(p)) {
      const key = `f:${k}`;
      if (!isObject(cur[key])) cur[key] = {};
      cur = cur[key];
    }
  }
  return root;
}
