/** Where commands write: results to `out` (stdout), diagnostics to `err` (stderr). */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Exit codes of every yunshi command (../shared/design.md). */
export const ExitCode = { ok: 0, failure: 1, invalidInput: 2 } as const;
