/**
 * Checks on an exp.yaml before the schema sees it, for specs that come from strangers (a
 * fork's pull request in GitOps CI; see SECURITY.md):
 * - bytes must be UTF-8: a bad byte is named by line and column instead of becoming U+FFFD;
 * - no `__proto__`/`prototype` keys anywhere: they would reach JavaScript's prototype chain;
 * - bounded nesting: the document, and each cfgOptions value (CPython refuses ~200 levels);
 * - numbers: integers beyond 2^53 would silently change, NaN and ±Infinity mean nothing;
 * - strings must be valid Unicode (a YAML escape can write half a surrogate pair).
 */
import { FORBIDDEN_KEY_SEGMENTS } from "./experiment.ts";
import { Limits } from "./limits.ts";

export interface DocumentFinding {
  /** Path of the offending value (or of the mapping holding an offending key). */
  readonly path: readonly (string | number)[];
  /** Set when the problem is a key of the mapping at `path`. */
  readonly key?: string;
  readonly message: string;
  readonly fix: string;
}

/** Where the first byte that is not UTF-8 sits: 1-based line, and column in bytes. */
export interface BadByte {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  readonly byte: number;
}

/**
 * Decodes strict UTF-8 (a leading BOM is dropped). Returns the text, or where the first
 * invalid byte is.
 */
export function decodeUtf8(bytes: Uint8Array): { text: string } | { bad: BadByte } {
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    const offset = firstInvalidUtf8Byte(bytes);
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < offset; i++) {
      if (bytes[i] === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    }
    return { bad: { offset, line, column: offset - lineStart + 1, byte: bytes[offset] ?? 0 } };
  }
}

/** Offset of the first byte that starts an ill-formed sequence (Unicode Table 3-7). */
export function firstInvalidUtf8Byte(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] ?? 0;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f; // no UTF-16 surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f; // nothing past U+10FFFF
    } else return i;
    for (let k = 1; k <= need; k++) {
      const x = b[i + k];
      if (x === undefined) return i;
      if (k === 1 ? x < lo || x > hi : x < 0x80 || x > 0xbf) return i;
    }
    i += need + 1;
  }
  return b.length;
}

/**
 * Walks the parsed document (with integers as BigInt), returning the same tree with safe
 * integers as numbers, and every finding. Never descends deeper than the limits allow.
 */
export function inspectDocument(raw: unknown): {
  value: unknown;
  findings: DocumentFinding[];
} {
  const findings: DocumentFinding[] = [];
  const visit = (v: unknown, path: (string | number)[], cfgDepth: number | undefined): unknown => {
    if (typeof v === "bigint") {
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        findings.push({
          path,
          message: `integer ${v} is beyond ±2^53 − 1 and would silently change`,
          fix: "use a smaller number (every integer in a spec is far below this)",
        });
        return 0;
      }
      return Number(v);
    }
    if (typeof v === "number" && !Number.isFinite(v)) {
      findings.push({
        path,
        message: `${Number.isNaN(v) ? ".nan" : v > 0 ? ".inf" : "-.inf"} is not a usable number`,
        fix: "write a finite number",
      });
      return 0;
    }
    if (typeof v === "string" && !isWellFormed(v)) {
      findings.push({
        path,
        message: "the string holds half of a UTF-16 surrogate pair, which is not text",
        fix: "write the character itself, or a \\U escape of the whole code point",
      });
      return v;
    }
    if (v === null || typeof v !== "object") return v;
    if (
      path.length >= Limits.documentDepth ||
      (cfgDepth !== undefined && cfgDepth >= Limits.cfgOptionsDepth)
    ) {
      const limit = cfgDepth === undefined ? Limits.documentDepth : Limits.cfgOptionsDepth;
      findings.push({
        path,
        message: `nested more than ${limit} levels deep${cfgDepth === undefined ? "" : " inside a cfgOptions value"}`,
        fix: "flatten it: use dotted cfgOptions keys such as model.backbone.depth",
      });
      return null;
    }
    const inCfg = (p: (string | number)[]): number | undefined =>
      cfgDepth !== undefined
        ? cfgDepth + 1
        : p.length === 3 && p[0] === "train" && p[1] === "cfgOptions"
          ? 0
          : undefined;
    if (Array.isArray(v)) {
      return v.map((x, i) => {
        const p = [...path, i];
        return visit(x, p, inCfg(p));
      });
    }
    // The parsed tree has own properties only (the YAML library defines keys such as
    // __proto__ as own data properties); build the copy without a prototype as well.
    const out = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(v)) {
      if (FORBIDDEN_KEY_SEGMENTS.has(key)) {
        findings.push({
          path,
          key,
          message: `key ${JSON.stringify(key)} is not allowed: it would reach JavaScript's prototype chain`,
          fix: `remove ${key}; no MMDetection or yunshi setting has that name`,
        });
        continue;
      }
      const p = [...path, key];
      if (p.length === 3 && p[0] === "train" && p[1] === "cfgOptions") {
        const bad = key.split(".").find((s) => FORBIDDEN_KEY_SEGMENTS.has(s));
        if (bad !== undefined) {
          findings.push({
            path,
            key,
            message: `cfgOptions key ${JSON.stringify(key)} has the segment ${bad}, which would reach JavaScript's prototype chain`,
            fix: `remove it; no MMDetection setting is called ${bad}`,
          });
          continue;
        }
      }
      Object.defineProperty(out, key, {
        value: visit((v as Record<string, unknown>)[key], p, inCfg(p)),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };
  const value = visit(raw, [], undefined);
  return { value, findings };
}

/** In a /u regex, only a lone surrogate is a code point in the Cs category. */
function isWellFormed(s: string): boolean {
  return !/\p{Cs}/u.test(s);
}
