/**
 * The edge where exp.yaml becomes an Experiment: YAML parsing (keeping positions),
 * schema validation, cross-field rules, and error messages a user can act on — the path,
 * the YAML line:column, the bad value, the rule and the fix, with "did you mean" for typos.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { closest, distance } from "fastest-levenshtein";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { SpecError, type SpecIssue } from "../errors.ts";
import { ExperimentSchema, type Experiment } from "./experiment.ts";
import { checkExperimentRules, type RuleFinding } from "./experiment-rules.ts";
import { Limits } from "./limits.ts";
import { decodeUtf8, inspectDocument } from "./untrusted-document.ts";

export interface LoadedExperiment {
  readonly experiment: Experiment;
  readonly warnings: readonly SpecIssue[];
  /** sha256 of the validated experiment as canonical JSON: changes iff the meaning does. */
  readonly specHash: string;
}

type PathSegment = string | number;

// async though it awaits nothing (the read is sync, below): callers get every failure as
// a rejection, as before.
// eslint-disable-next-line @typescript-eslint/require-await
export async function loadExperimentFile(file: string): Promise<LoadedExperiment> {
  let bytes: Buffer;
  try {
    // Sync on purpose: node:fs is loaded at every start, node:fs/promises is not (with
    // streams and readline, ~1 ms of a start that issue 15 measures); a spec is small.
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : String(err);
    throw new SpecError(file, [{ path: "", message: `cannot read the spec: ${why}` }]);
  }
  return parseExperimentBytes(bytes, file);
}

/** A spec as bytes: strict UTF-8 and a size limit first, then parseExperiment. */
export function parseExperimentBytes(bytes: Uint8Array, file = "<spec>"): LoadedExperiment {
  if (bytes.length > Limits.specBytes) {
    throw new SpecError(file, [
      {
        path: "",
        message: `the spec is ${bytes.length} bytes; an exp.yaml is at most ${Limits.specBytes} (1 MiB)`,
        fix: "keep data out of the spec: class lists and options only",
      },
    ]);
  }
  const decoded = decodeUtf8(bytes);
  if ("bad" in decoded) {
    const { line, column, byte } = decoded.bad;
    throw new SpecError(file, [
      {
        path: "",
        line,
        column,
        message: `not UTF-8: byte 0x${byte.toString(16).padStart(2, "0")} at byte ${column} of the line does not start a valid UTF-8 character`,
        fix: "save the file as UTF-8 (e.g. iconv -f GBK -t UTF-8 exp.yaml)",
      },
    ]);
  }
  return parseExperiment(decoded.text, file);
}

export function parseExperiment(text: string, file = "<spec>"): LoadedExperiment {
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, {
      lineCounter,
      prettyErrors: true,
      uniqueKeys: true,
      // Integers as BigInt, so that inspectDocument sees the exact value the file holds.
      intAsBigInt: true,
    });
  } catch (err) {
    throw tooDeep(file, err);
  }
  if (doc.errors.some((e) => /call stack/i.test(e.message))) throw tooDeep(file, new RangeError());
  if (doc.errors.length > 0) {
    throw new SpecError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return {
          path: "",
          message: `YAML syntax: ${e.message.split("\n")[0] ?? e.message}`,
          ...(pos === undefined ? {} : { line: pos.line, column: pos.col }),
        };
      }),
    );
  }
  let parsedTree: unknown;
  try {
    parsedTree = doc.toJS({ maxAliasCount: Limits.yamlAliases });
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw new SpecError(file, [
        {
          path: "",
          message: `YAML aliases expand to more than ${Limits.yamlAliases} times the document's nodes (an alias bomb)`,
          fix: "write the values out, or use fewer nested aliases",
        },
      ]);
    }
    throw tooDeep(file, err);
  }
  const locate = locator(doc, lineCounter);
  const inspected = inspectDocument(parsedTree);
  if (inspected.findings.length > 0) {
    throw new SpecError(
      file,
      inspected.findings.map((f) => ({
        path: dotted(f.key === undefined ? f.path : [...f.path, f.key]),
        message: f.message,
        fix: f.fix,
        ...locate(f.path, f.key),
      })),
    );
  }
  const raw: unknown = inspected.value;
  if (raw === null || raw === undefined || typeof raw !== "object" || Array.isArray(raw)) {
    throw new SpecError(file, [
      {
        path: "",
        message: "the spec must be a YAML mapping (version, name, model, dataset, ...)",
        fix: "start from examples/quickstart.yaml",
      },
    ]);
  }
  // jitless: zod's fast path compiles a parser per object schema with `new Function` on the
  // first parse, which no code cache keeps; for a CLI that parses a few specs and exits that
  // costs more than it saves (validate on Node 22: ~25 ms CPU more for one spec, no faster
  // for 50; `npm run bench:cli`). Same checks, same issues.
  const parsed = ExperimentSchema.safeParse(raw, { jitless: true });
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap((i) => describeIssue(i, raw, locate));
    throw new SpecError(
      file,
      issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)),
    );
  }
  const experiment: Experiment = parsed.data;
  const rules = checkExperimentRules(experiment);
  const toIssue = (f: RuleFinding): SpecIssue => ({
    path: dotted(f.path),
    message: f.message,
    ...locate(f.path),
    ...(f.fix === undefined ? {} : { fix: f.fix }),
  });
  if (rules.errors.length > 0) throw new SpecError(file, rules.errors.map(toIssue));
  return {
    experiment,
    warnings: rules.warnings.map(toIssue),
    specHash: specHash(experiment),
  };
}

/** The YAML library recurses: a document nested thousands deep overflows the stack. */
function tooDeep(file: string, err: unknown): unknown {
  if (!(err instanceof RangeError)) return err;
  return new SpecError(file, [
    {
      path: "",
      message: `the document is nested too deeply to read (at most ${Limits.documentDepth} levels)`,
      fix: "flatten it: use dotted cfgOptions keys such as model.backbone.depth",
    },
  ]);
}

export function specHash(experiment: Experiment): string {
  return createHash("sha256").update(canonicalJson(experiment)).digest("hex");
}

/** JSON with sorted keys, so that key order in exp.yaml does not change the hash. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

const dotted = (path: readonly PathSegment[]): string => path.map(String).join(".");

type Locate = (path: readonly PathSegment[], key?: string) => { line?: number; column?: number };

/** Finds the YAML position of a path (or of a key inside the map at that path); falls back
 * to the nearest existing ancestor so a missing field points at its parent. */
function locator(doc: Document, lc: LineCounter): Locate {
  return (path, key) => {
    for (let n = path.length; n >= 0; n--) {
      const prefix = path.slice(0, n);
      const node: unknown = prefix.length === 0 ? doc.contents : doc.getIn(prefix, true);
      if (node === undefined || node === null) continue;
      let offset: number | undefined;
      if (n === path.length && key !== undefined && isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
        if (pair !== undefined && isScalar(pair.key)) offset = pair.key.range?.[0];
      }
      if (offset === undefined && (isScalar(node) || isMap(node) || isSeq(node))) {
        offset = node.range?.[0];
      }
      if (offset !== undefined) {
        const pos = lc.linePos(offset);
        return { line: pos.line, column: pos.col };
      }
    }
    return {};
  };
}

function valueAt(raw: unknown, path: readonly PathSegment[]): unknown {
  let v: unknown = raw;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PathSegment, unknown>)[seg];
  }
  return v;
}

const show = (v: unknown): string => {
  if (typeof v === "number" && !Number.isFinite(v))
    return Number.isNaN(v) ? ".nan" : v > 0 ? ".inf" : "-.inf";
  if (typeof v === "bigint") return String(v);
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** Keys a strict object accepts at a path of the schema, for "did you mean". */
function keysAt(path: readonly PathSegment[]): string[] {
  let nodes: z.core.$ZodType[] = [ExperimentSchema];
  for (const seg of [...path, null]) {
    const next: z.core.$ZodType[] = [];
    const keys: string[] = [];
    const visit = (s: z.core.$ZodType): void => {
      const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
      switch (def.type) {
        case "optional":
        case "default":
        case "nullable":
          visit(def.innerType as z.core.$ZodType);
          return;
        case "union":
          (def.options as z.core.$ZodType[]).forEach(visit);
          return;
        case "object": {
          const shape = def.shape as Record<string, z.core.$ZodType>;
          if (seg === null) keys.push(...Object.keys(shape));
          else if (typeof seg === "string" && shape[seg] !== undefined) next.push(shape[seg]);
          return;
        }
        case "array":
          if (seg !== null) next.push(def.element as z.core.$ZodType);
          return;
        default:
          return;
      }
    };
    nodes.forEach(visit);
    if (seg === null) return [...new Set(keys)];
    nodes = next;
  }
  return [];
}

function suggestion(word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(word, candidates);
  const d = distance(word.toLowerCase(), best.toLowerCase());
  return d <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

const humanExpected: Readonly<Record<string, string>> = {
  int: "an integer",
  number: "a number",
  string: "a string",
  boolean: "true or false",
  object: "a mapping",
  array: "a list",
  tuple: "a list",
};

function describeIssue(issue: z.core.$ZodIssue, raw: unknown, locate: Locate): SpecIssue[] {
  const path = issue.path.filter((p): p is PathSegment => typeof p !== "symbol");
  const value = valueAt(raw, path);
  const at = (
    p: readonly PathSegment[],
    extra: Omit<SpecIssue, "path">,
    key?: string,
  ): SpecIssue => ({
    path: dotted(p),
    // For a key, point at the key itself inside its parent mapping, not at its value.
    ...(key === undefined ? locate(p) : locate(p.slice(0, -1), key)),
    ...extra,
  });

  switch (issue.code) {
    case "unrecognized_keys": {
      const known = keysAt(path);
      return issue.keys.map((key) => {
        const near = suggestion(key, known);
        return at(
          [...path, key],
          {
            message: `unknown field ${JSON.stringify(key)}${near === undefined ? "" : `; did you mean "${near}"?`}`,
            fix:
              near === undefined
                ? `remove it; fields here: ${known.join(", ")}`
                : `rename it to ${near}`,
          },
          key,
        );
      });
    }
    case "invalid_type": {
      if (value === undefined) {
        const field = path[path.length - 1];
        return [
          at(path, {
            message: `required field is missing`,
            fix: `add ${String(field)} (${humanExpected[issue.expected] ?? issue.expected})`,
          }),
        ];
      }
      return [
        at(path, {
          message: `expected ${humanExpected[issue.expected] ?? issue.expected}, got ${show(value)}`,
        }),
      ];
    }
    case "invalid_value": {
      const options = issue.values.map((v) => String(v));
      const near = typeof value === "string" ? suggestion(value, options) : undefined;
      return [
        at(path, {
          message: `got ${show(value)}, expected ${options.length === 1 ? show(issue.values[0]) : `one of ${options.join(" | ")}`}`,
          ...(near === undefined ? {} : { fix: `did you mean ${near}?` }),
        }),
      ];
    }
    case "invalid_union": {
      // Unknown keys in a union of strict objects (checkpoint.every): say which key.
      if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        const known = keysAt(path);
        const unknown = Object.keys(value).filter((k) => !known.includes(k));
        if (unknown.length > 0) {
          return unknown.map((key) => {
            const near = suggestion(key, known);
            return at(
              [...path, key],
              {
                message: `unknown field ${JSON.stringify(key)}${near === undefined ? "" : `; did you mean "${near}"?`}`,
                fix: `use one of: ${known.join(", ")}`,
              },
              key,
            );
          });
        }
      }
      const alternatives = issue.errors
        .map((branch) => branch[0])
        .filter((b): b is z.core.$ZodIssue => b !== undefined)
        .map((b) =>
          b.code === "invalid_value"
            ? `one of ${b.values.map(String).join(" | ")}`
            : b.code === "invalid_type"
              ? (humanExpected[b.expected] ?? b.expected)
              : b.message,
        );
      const enumValues = issue.errors.flatMap((branch) =>
        branch.flatMap((b) => (b.code === "invalid_value" ? b.values.map(String) : [])),
      );
      const near = typeof value === "string" ? suggestion(value, enumValues) : undefined;
      return [
        at(path, {
          message: `got ${show(value)}; expected ${[...new Set(alternatives)].join(", or ")}`,
          ...(near === undefined ? {} : { fix: `did you mean ${near}?` }),
        }),
      ];
    }
    case "invalid_key": {
      const first = issue.issues[0];
      const inner = first?.message ?? issue.message;
      const fix =
        first?.code === "custom" ? (first.params as { fix?: unknown } | undefined)?.fix : undefined;
      return [
        at(path, {
          message: `${inner}, got key ${show(path[path.length - 1])}`,
          ...(typeof fix === "string" ? { fix } : {}),
        }),
      ];
    }
    case "custom": {
      // Refinements in the schema may carry the fix (experiment.ts addIssue).
      const params = issue.params as { fix?: unknown; secret?: unknown } | undefined;
      const fix = params?.fix;
      return [
        at(path, {
          message: params?.secret === true ? issue.message : `${issue.message}, got ${show(value)}`,
          ...(typeof fix === "string" ? { fix } : {}),
        }),
      ];
    }
    case "too_small":
    case "too_big": {
      const big = issue.code === "too_big";
      const bound = String(big ? issue.maximum : issue.minimum);
      const exclusive = issue.inclusive === false;
      const unit =
        issue.origin === "string" ? " characters" : issue.origin === "array" ? " entries" : "";
      const limit = big
        ? `${exclusive ? "below" : "at most"} ${bound}`
        : `${exclusive ? "above" : "at least"} ${bound}`;
      const fix = unit === "" ? `use a value ${limit}` : `use ${limit}${unit}`;
      return [at(path, { message: `${issue.message}, got ${show(value)}`, fix })];
    }
    case "invalid_format":
    default:
      return [at(path, { message: `${issue.message}, got ${show(value)}` })];
  }
}
