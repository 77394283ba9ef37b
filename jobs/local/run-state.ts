/**
 * `.yunshi/runs/<name>/run.json`: which processes a local run owns. Two uses:
 * - refuse a second concurrent run of the same experiment (same work dir, same store prefix);
 * - after a kill -9 of the run (a lost machine, in the preemption tests), clean up what
 *   survived it. The launcher starts training in its own session (so a timeout can kill the
 *   whole training tree), hence a kill of our process group leaves training running: the next
 *   run kills that process group before it restores, as a new pod never sees the old one.
 */
import { readFile, rename, writeFile } from "node:fs/promises";

export interface RunState {
  readonly pid: number;
  readonly startedAt: string;
  /** Process groups that do not die with ours (the launcher's training session). */
  readonly detachedGroups: readonly number[];
}

export async function readRunState(file: string): Promise<RunState | undefined> {
  try {
    const raw = JSON.parse(await readFile(file, "utf8")) as Partial<RunState>;
    if (typeof raw.pid !== "number") return undefined;
    return {
      pid: raw.pid,
      startedAt: String(raw.startedAt ?? ""),
      detachedGroups: Array.isArray(raw.detachedGroups)
        ? raw.detachedGroups.filter((g): g is number => typeof g === "number")
        : [],
    };
  } catch {
    return undefined;
  }
}

export async function writeRunState(file: string, state: RunState): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, file);
}

/** The command line of a live process, or undefined if there is none (Linux /proc). */
export async function cmdlineOf(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").join(" ");
  } catch {
    try {
      process.kill(pid, 0);
      return ""; // alive, command line unknown (no /proc)
    } catch {
      return undefined;
    }
  }
}

/**
 * Kill what a dead earlier run left behind. `looksLike` guards against pid reuse: only a
 * process group whose leader still runs our training entry is killed.
 */
export async function reapStale(
  state: RunState,
  log: (line: string) => void,
  looksLike: (cmdline: string) => boolean,
): Promise<number> {
  let reaped = 0;
  for (const group of state.detachedGroups) {
    const cmd = await cmdlineOf(group);
    if (cmd === undefined || !looksLike(cmd)) continue;
    try {
      process.kill(-group, "SIGKILL");
      reaped++;
      log(`stopped training process group ${group} left over from an interrupted run`);
    } catch {
      // Already gone.
    }
  }
  return reaped;
}
