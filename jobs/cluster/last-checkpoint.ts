/**
 * The last committed checkpoint of a run from the snapshot sidecar's log ("committed
 * epoch_12.pth (...)", images/checkpoint-agent/src/snapshot.ts), which the agent prints
 * right after it commits the manifest. The manifest in S3 is the source of truth
 * (checkpoint-manifest.ts); this is the fallback when it cannot be read from here.
 */
import { ContainerNames } from "../pod-contract.ts";
import type { ClusterClient } from "./client.ts";
import type { ExperimentState } from "./experiments.ts";

export interface LastCheckpoint {
  file: string;
  epoch?: number;
  iter?: number;
  /** When it was committed (from the manifest). */
  time?: string;
  /** Where the information came from. */
  source: "snapshot log" | "S3 manifest";
}

const COMMITTED = /committed ((epoch|iter)_(\d+)\.pth)/g;

/** The last "committed <file>" line of a snapshot log (best checkpoints are not "latest"). */
export function lastCommitted(log: string): LastCheckpoint | undefined {
  let last: RegExpExecArray | undefined;
  for (const m of log.matchAll(COMMITTED)) last = m;
  if (!last) return undefined;
  const [, file, unit, n] = last as unknown as [string, string, "epoch" | "iter", string];
  return { file, [unit]: Number(n), source: "snapshot log" };
}

const rankOf = (p: {
  metadata: { annotations?: Record<string, string>; labels?: Record<string, string> };
}) =>
  p.metadata.annotations?.["batch.kubernetes.io/job-completion-index"] ??
  p.metadata.labels?.["batch.kubernetes.io/job-completion-index"] ??
  "0";

/** Look through the rank-0 pods, newest first, for the last committed checkpoint. */
export async function lastCheckpointFromLogs(
  client: ClusterClient,
  state: ExperimentState,
): Promise<LastCheckpoint | undefined> {
  const pods = state.pods
    .filter((p) => rankOf(p) === "0")
    .sort((a, b) =>
      (b.metadata.creationTimestamp ?? "").localeCompare(a.metadata.creationTimestamp ?? ""),
    )
    .slice(0, 3);
  for (const p of pods) {
    let text = "";
    try {
      await client.podLogs(
        state.namespace,
        p.metadata.name,
        ContainerNames.snapshot,
        { tailLines: 500 },
        (t) => (text += t),
      );
    } catch {
      continue; // not started, gone, or not allowed: try the previous pod
    }
    const found = lastCommitted(text);
    if (found) return found;
  }
  return undefined;
}
