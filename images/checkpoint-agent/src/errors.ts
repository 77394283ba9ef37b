/**
 * The agent's typed errors. The exit code follows jobs/pod-contract.ts `AgentExit`:
 * 2 for input a retry cannot fix (bad URI, unreadable work dir, missing bucket), 1 for
 * everything else (network, S3 errors, a checkpoint that fails verification everywhere).
 */

/** Invalid input: exit 2. The message names the field, the value and the fix. */
export class InputError extends Error {
  override readonly name: string = "InputError";
}

/** A failure a retry (of the whole container) may fix: exit 1. */
export class AgentError extends Error {
  override readonly name = "AgentError";
}

/** An S3 call failed; `retryable` says whether backing off and trying again may help. */
export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(
    message: string,
    readonly code: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The run was cut short (second SIGTERM): exit 1, nothing committed for the cut upload. */
export class AbortedError extends Error {
  override readonly name = "AbortedError";
}

export const ExitCode = { ok: 0, failed: 1, invalidInput: 2 } as const;

export function exitCodeFor(err: unknown): number {
  return err instanceof InputError ? ExitCode.invalidInput : ExitCode.failed;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A downloaded object's size or SHA-256 does not match what was committed. */
export class VerificationError extends Error {
  override readonly name = "VerificationError";
}
