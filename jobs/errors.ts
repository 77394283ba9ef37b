/**
 * Typed errors in one place. The CLI maps them to exit codes: SpecError and UsageError
 * → 2 (invalid input, nothing submitted or written); anything else → 1.
 */

/** One problem in a spec, located as precisely as the source allows. */
export interface SpecIssue {
  /** Dotted path such as `train.lossScale`; empty for the document itself. */
  readonly path: string;
  readonly message: string;
  /** 1-based position in the YAML source, when known. */
  readonly line?: number;
  readonly column?: number;
  /** What to do about it. */
  readonly fix?: string;
}

export class SpecError extends Error {
  override readonly name = "SpecError";
  constructor(
    readonly file: string,
    readonly issues: readonly SpecIssue[],
  ) {
    super(formatIssues(file, issues, "✖"));
  }
}

/** Bad command-line usage or a spec that cannot be used in the requested mode. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export function formatIssue(issue: SpecIssue): string {
  const where =
    issue.line === undefined
      ? ""
      : ` (line ${issue.line}${issue.column === undefined ? "" : `, column ${issue.column}`})`;
  const head = `${issue.path === "" ? "(document)" : issue.path}${where}: ${issue.message}`;
  return issue.fix === undefined ? head : `${head}\n    fix: ${issue.fix}`;
}

export function formatIssues(file: string, issues: readonly SpecIssue[], mark: string): string {
  const n = issues.length;
  const lines = issues.map((i) => `  ${formatIssue(i)}`);
  return [`${mark} ${file}: ${n} problem${n === 1 ? "" : "s"}`, ...lines].join("\n");
}
