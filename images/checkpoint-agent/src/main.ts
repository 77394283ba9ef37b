#!/usr/bin/env node
/**
 * Process wrapper: signals, exit codes (jobs/pod-contract.ts AgentExit) and output sinks.
 * First SIGTERM/SIGINT: graceful stop (finish the upload in flight, final sync, exit 0).
 * Second: hard stop (abort the multipart upload, exit 1); the manifest still names only
 * complete uploads because it is written after CompleteMultipartUpload.
 */
import { buildProgram, isUsageError } from "./cli.ts";
import { AbortedError, ExitCode, errorMessage, exitCodeFor } from "./errors.ts";
import type { ObjectStore } from "./object-store.ts";
import { writeTerminationMessage } from "./termination-message.ts";

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const stop = new AbortController();
const abort = new AbortController();
let inflight: { store: ObjectStore; key: string; uploadId: string } | undefined;

// Only the sidecar has something to finish; restore and fetch stop at once (their partial
// files carry a temp name and are never mistaken for complete ones).
const graceful = process.argv[2] === "snapshot";
// The prepare sidecar, once its verdict is written, only waits for the pod to stop.
let idle = false;

function onSignal(signal: NodeJS.Signals): void {
  if (idle) {
    stop.abort();
    return;
  }
  if (!graceful) {
    log(`${signal}: stopping; nothing partial is left under a final name`);
    process.exit(ExitCode.failed);
  }
  if (!stop.signal.aborted) {
    log(`${signal}: finishing the upload in flight and the final sync (send again to abort)`);
    stop.abort();
    return;
  }
  log(`${signal} again: aborting; uncommitted uploads stay invisible`);
  abort.abort();
  const hardExit = (): never => process.exit(ExitCode.failed);
  // Give AbortMultipartUpload a moment, but never outlive the grace period because of it.
  setTimeout(hardExit, 3000).unref();
  if (inflight === undefined) hardExit();
  else void inflight.store.abortMultipart(inflight.key, inflight.uploadId).finally(hardExit);
}
process.on("SIGTERM", onSignal);
process.on("SIGINT", onSignal);

async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram({
    env: process.env,
    log,
    out: (line) => process.stdout.write(`${line}\n`),
    stop: stop.signal,
    abort: abort.signal,
    onIdle: () => {
      idle = true;
    },
    onMultipart: (store, key, uploadId) => {
      inflight = uploadId === undefined ? undefined : { store, key, uploadId };
    },
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return ExitCode.ok;
  } catch (err) {
    if (isUsageError(err)) {
      // --help and --version also arrive here (exitOverride), with exit code 0.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.invalidInput;
    }
    const code = err instanceof AbortedError ? ExitCode.failed : exitCodeFor(err);
    log(`error: ${errorMessage(err)}`);
    writeTerminationMessage(process.env, `exit ${code}: ${errorMessage(err)}`);
    if (process.env["YUNSHI_DEBUG"] === "1" && err instanceof Error && err.stack) log(err.stack);
    process.stdout.write(
      `${JSON.stringify({ ok: false, exitCode: code, error: errorMessage(err) })}\n`,
    );
    return code;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Keep-alive sockets and timers must not hold a finished command open.
    setTimeout(() => process.exit(code), 100).unref();
  },
  (err: unknown) => {
    log(`fatal: ${errorMessage(err)}`);
    process.exit(ExitCode.failed);
  },
);
