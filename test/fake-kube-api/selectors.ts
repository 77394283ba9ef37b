/** Label and field selectors with the real grammar's operators (=, ==, !=, in, notin, exists, !). */
import type { JsonObject } from "./apply.ts";
import { getAt, isObject, str } from "./apply.ts";

type Requirement = (labels: Record<string, string>) => boolean;

export class SelectorError extends Error {}

export function parseLabelSelector(selector: string | null): Requirement {
  if (!selector) return () => true;
  const reqs: Requirement[] = [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of selector) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts) {
    const part = raw.trim();
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/))) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      reqs.push(op === "!=" ? (l) => l[key] !== value : (l) => l[key] === value);
    } else if ((m = part.match(/^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = new Set(list.split(",").map((s) => s.trim()));
      reqs.push(
        op === "in"
          ? (l) => l[key] !== undefined && values.has(l[key])
          : (l) => l[key] === undefined || !values.has(l[key]),
      );
    } else if ((m = part.match(/^!([\w./-]+)$/))) {
      const key = m[1] as string;
      reqs.push((l) => l[key] === undefined);
    } else if ((m = part.match(/^([\w./-]+)$/))) {
      const key = m[1] as string;
      reqs.push((l) => l[key] !== undefined);
    } else {
      throw new SelectorError(`unable to parse requirement: ${JSON.stringify(part)}`);
    }
  }
  return (labels) => reqs.every((r) => r(labels));
}

export function labelsOf(obj: JsonObject): Record<string, string> {
  const labels = getAt(obj, ["metadata", "labels"]);
  return isObject(labels) ? (labels as Record<string, string>) : {};
}

/** Field selectors: the real server supports only a few fields per type; metadata.* everywhere. */
export function parseFieldSelector(selector: string | null): (obj: JsonObject) => boolean {
  if (!selector) return () => true;
  const reqs = selector.split(",").map((part) => {
    const m = part.trim().match(/^([\w.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw new SelectorError(`invalid selector: '${part}'; can't understand '${part}'`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    if (!["metadata.name", "metadata.namespace", "status.phase", "spec.nodeName"].includes(field))
      throw new SelectorError(
        `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`,
      );
    return (obj: JsonObject) => {
      const v = getAt(obj, field.split("."));
      const s = str(v);
      return op === "!=" ? s !== value : s === value;
    };
  });
  return (obj) => reqs.every((r) => r(obj));
}
