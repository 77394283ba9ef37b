/**
 * Kubernetes shows the contents of a container's termination message file in its status
 * (`state.terminated.message`), which `yunshi status` prints. The agent writes the reason it
 * failed there, so a corrupt manifest or an unusable URI is visible without reading logs.
 */
import { closeSync, constants, openSync, writeSync } from "node:fs";

/** The kubelet's default terminationMessagePath; it exists only inside a pod. */
export const DEFAULT_TERMINATION_LOG = "/dev/termination-log";
/** Override for local runs and tests (LauncherEnv.terminationLog in jobs/pod-contract.ts). */
export const TERMINATION_LOG_ENV = "YUNSHI_TERMINATION_LOG";
/** The kubelet keeps at most 4096 bytes of a message. */
const MAX_BYTES = 4096;

/**
 * Write `message` into the termination message file when one exists. Never creates a file
 * (outside a pod there is none to write), never follows a symlink, never throws: the exit
 * code already tells the failure, this only adds words.
 */
export function writeTerminationMessage(
  env: Readonly<Record<string, string | undefined>>,
  message: string,
): void {
  const path = env[TERMINATION_LOG_ENV] ?? DEFAULT_TERMINATION_LOG;
  let bytes = Buffer.from(message, "utf8");
  if (bytes.length > MAX_BYTES) bytes = bytes.subarray(0, MAX_BYTES);
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW);
    try {
      writeSync(fd, bytes);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not in a pod, or not writable: the log line and the exit code remain
  }
}
