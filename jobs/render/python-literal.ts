/**
 * Python values built as typed objects and serialised once (never templated as text).
 * MMDetection configs need what JSON cannot say: tuples (mmcv's Resize wants a tuple
 * scale), floats that stay floats (`loss_scale=512.0`: an int raises TypeError in
 * AmpOptimWrapper) and references to top-level variables (`pipeline=train_pipeline`).
 */

export class PyFloat {
  constructor(readonly value: number) {}
}
export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}
/** A reference to a top-level variable of the same config file. */
export class PyRef {
  constructor(readonly name: string) {
    if (!IDENTIFIER.test(name)) throw new Error(`not a Python identifier: ${name}`);
  }
}
/** A dict written as `{'key': value}`: for keys that are not identifiers. */
export class PyMapping {
  constructor(readonly entries: ReadonlyArray<readonly [string, PyValue]>) {}
}

export type PyValue =
  | null
  | boolean
  | number
  | string
  | PyFloat
  | PyTuple
  | PyRef
  | PyMapping
  | readonly PyValue[]
  | { readonly [key: string]: PyValue };

export const float = (v: number): PyFloat => new PyFloat(v);
export const tuple = (...items: PyValue[]): PyTuple => new PyTuple(items);
export const ref = (name: string): PyRef => new PyRef(name);

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PYTHON_KEYWORDS = new Set([
  "False",
  "None",
  "True",
  "and",
  "as",
  "assert",
  "async",
  "await",
  "break",
  "class",
  "continue",
  "def",
  "del",
  "elif",
  "else",
  "except",
  "finally",
  "for",
  "from",
  "global",
  "if",
  "import",
  "in",
  "is",
  "lambda",
  "nonlocal",
  "not",
  "or",
  "pass",
  "raise",
  "return",
  "try",
  "while",
  "with",
  "yield",
]);

/**
 * Python string literal; non-ASCII (Chinese class names) stays as UTF-8 text.
 *
 * Braces are written as `\x7b`/`\x7d`. MMEngine's Config.fromfile rewrites the raw text
 * before Python parses it: `{{$VAR:default}}` (environment), `{{ fileDirname }}` and
 * friends, `{{_base_.x}}`, and its replacement un-escapes backslashes. Every one of those
 * patterns starts with two literal braces; with braces escaped in strings, and the
 * serialiser's own dict syntax never writing `{{`, no text of a user can match them
 * (issue 10; checked against the pinned mmengine in test/security/).
 */
export function pyString(s: string): string {
  let out = "'";
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === "{") out += "\\x7b";
    else if (ch === "}") out += "\\x7d";
    else if (ch === "\\") out += "\\\\";
    else if (ch === "'") out += "\\'";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else if (code >= 0x80 && code <= 0x9f) out += `\\x${code.toString(16)}`;
    else if (code === 0x2028 || code === 0x2029) out += `\\u${code.toString(16)}`;
    else out += ch;
  }
  return `${out}'`;
}

function pyNumber(v: number, isFloat: boolean): string {
  if (!Number.isFinite(v)) throw new Error(`cannot write ${v} into a Python config`);
  if (!isFloat && Number.isInteger(v)) return String(v);
  const s = String(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

const WIDTH = 88;

/** Serialise a value; containers break over lines when they do not fit. */
export function pyValue(v: PyValue, indent = 0): string {
  if (v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return pyNumber(v, false);
  if (typeof v === "string") return pyString(v);
  if (v instanceof PyFloat) return pyNumber(v.value, true);
  if (v instanceof PyRef) return v.name;
  if (v instanceof PyTuple) {
    const items = v.items.map((i) => pyValue(i, indent + 4));
    // A one-item tuple needs its comma, `('a',)`; wrapped over lines, every item has one.
    return wrap("(", items, ")", indent, items.length === 1);
  }
  if (v instanceof PyMapping) {
    const items = v.entries.map(([k, x]) => `${pyString(k)}: ${pyValue(x, indent + 4)}`);
    return wrap("{", items, "}", indent);
  }
  if (Array.isArray(v)) {
    return wrap(
      "[",
      (v as readonly PyValue[]).map((i) => pyValue(i, indent + 4)),
      "]",
      indent,
    );
  }
  const entries = Object.entries(v as Record<string, PyValue>);
  if (entries.every(([k]) => IDENTIFIER.test(k) && !PYTHON_KEYWORDS.has(k))) {
    return wrap(
      "dict(",
      entries.map(([k, x]) => `${k}=${pyValue(x, indent + 4)}`),
      ")",
      indent,
    );
  }
  return pyValue(new PyMapping(entries), indent);
}

function wrap(
  open: string,
  items: string[],
  close: string,
  indent: number,
  flatTrailingComma = false,
): string {
  const flat = `${open}${items.join(", ")}${flatTrailingComma ? "," : ""}${close}`;
  if (flat.length + indent <= WIDTH && !flat.includes("\n")) return flat;
  const pad = " ".repeat(indent + 4);
  return `${open}\n${items.map((i) => `${pad}${i},`).join("\n")}\n${" ".repeat(indent)}${close}`;
}

/** `name = value` lines of a config file, in order. */
export function pyAssignments(vars: ReadonlyArray<readonly [string, PyValue]>): string {
  return vars
    .map(([name, value]) => {
      if (!IDENTIFIER.test(name)) throw new Error(`not a Python identifier: ${name}`);
      return `${name} = ${pyValue(value)}`;
    })
    .join("\n");
}
