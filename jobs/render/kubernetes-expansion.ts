/**
 * The kubelet expands `$(VAR)` in a container's `command`, `args` and env `value`s, with
 * `$$` as the escape for one `$`. A user's string (an s3:// key, an endpoint) must reach
 * the program exactly as written, so every `$` in such a string is doubled; expansion then
 * turns each `$$` back into `$` and finds no reference to expand.
 *
 * `expandLikeKubelet` is a line-by-line port of Kubernetes'
 * third_party/forked/golang/expansion/expand.go (the function the kubelet runs), used by
 * the local runner, which plays the kubelet's part, and by the tests as the real rule.
 */

/** Escapes a literal string for a container's command, args or env value. */
export function escapeForKubelet(literal: string): string {
  return literal.replaceAll("$", "$$$$");
}

const OPERATOR = 0x24; // $
const REFERENCE_OPENER = 0x28; // (
const REFERENCE_CLOSER = 0x29; // )

/**
 * Expands `$(NAME)` with `mapping` the way the kubelet does. Go strings are bytes, so this
 * works on UTF-8 bytes too, quirks included: Go's `string(input[0])` turns a lone byte
 * into the rune of that value, so a raw `$` before a non-ASCII character garbles it —
 * one more reason every `$` is escaped. Kubernetes' mapping keeps an undefined reference
 * as written, which is the default here.
 */
export function expandLikeKubelet(
  input: string,
  mapping: (name: string) => string = (name) => `$(${name})`,
): string {
  const bytes = Buffer.from(input, "utf8");
  const out: Buffer[] = [];
  let checkpoint = 0;
  for (let cursor = 0; cursor < bytes.length; cursor++) {
    if (bytes[cursor] === OPERATOR && cursor + 1 < bytes.length) {
      out.push(bytes.subarray(checkpoint, cursor));
      const [read, isVar, advance] = tryReadVariableName(bytes.subarray(cursor + 1));
      out.push(isVar ? Buffer.from(mapping(read.toString("utf8")), "utf8") : read);
      cursor += advance;
      checkpoint = cursor + 1;
    }
  }
  out.push(bytes.subarray(checkpoint));
  return Buffer.concat(out).toString("utf8");
}

function tryReadVariableName(input: Buffer): [Buffer, boolean, number] {
  switch (input[0]) {
    case OPERATOR:
      // Escaped operator: return it.
      return [input.subarray(0, 1), false, 1];
    case REFERENCE_OPENER:
      for (let i = 1; i < input.length; i++) {
        if (input[i] === REFERENCE_CLOSER) return [input.subarray(1, i), true, i + 1];
      }
      // Incomplete reference: return the beginning `$(`.
      return [Buffer.from("$("), false, 1];
    default:
      // Not the beginning of an expression: the operator and the first byte, as Go's
      // string(byte) writes it (the rune of that byte's value).
      return [Buffer.from(`$${String.fromCharCode(input[0] ?? 0)}`, "utf8"), false, 1];
  }
}
