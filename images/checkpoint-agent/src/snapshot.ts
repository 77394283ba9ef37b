/**
 * The snapshot sidecar. Polls `last_checkpoint` (inotify is unreliable on overlay and some
 * emptyDir media); for each new value: upload the named file, write the manifest (commit),
 * prune beyond --keep. Also commits the save_best checkpoint and syncs logs. A first stop
 * signal lets the upload in flight finish and runs a final pass; a hard stop (second signal)
 * abandons the upload, and since the manifest is written only after CompleteMultipartUpload
 * it never names an incomplete object.
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { bestFilePrefix, isAfter, isBestFile, parseStep, type Step } from "./checkpoint-names.ts";
import { AbortedError, AgentError, InputError, errorMessage } from "./errors.ts";
import { checkpointKey } from "./layout.ts";
import {
  BadLastCheckpointError,
  readLastCheckpoint,
  resolveNamed,
  type NamedCheckpoint,
} from "./last-checkpoint.ts";
import { LogSync, type SyncCount } from "./log-sync.ts";
import {
  commitBest,
  commitCheckpoint,
  emptyManifest,
  type Manifest,
  type ManifestEntry,
} from "./manifest.ts";
import { loadManifestChecked, saveManifest } from "./manifest-io.ts";
import type { ObjectStore } from "./object-store.ts";
import type { LogFn } from "./progress.ts";
import type { TransferOptions } from "./transfer-options.ts";
import { uploadFile } from "./upload.ts";
import { hashFile } from "./work-dir.ts";

export interface SnapshotOptions {
  readonly store: ObjectStore;
  readonly prefix: string;
  readonly workDir: string;
  readonly keep: number;
  readonly bestMetric: string | undefined;
  readonly intervalMs: number;
  readonly logsIntervalMs: number;
  readonly transfer: TransferOptions;
  readonly log: LogFn;
  /** One pass (with final-sync rules), then return. */
  readonly once: boolean;
  /** Graceful stop: finish what is in flight, run the final pass, return. */
  readonly stop: AbortSignal;
  /** Hard stop: abandon the upload in flight. */
  readonly abort: AbortSignal;
  /** How long a best file must stay unchanged at the final pass to count as complete. */
  readonly stableMs?: number;
  readonly onMultipart?: (key: string, uploadId: string | undefined) => void;
}

export interface CommitReport {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly seconds: number;
}

export interface SnapshotReport {
  readonly committed: CommitReport[];
  readonly best: CommitReport[];
  /** Checkpoints found already committed (e.g. just restored): not uploaded again. */
  readonly alreadyCommitted: string[];
  readonly pruned: string[];
  readonly logs: SyncCount;
  errors: number;
  readonly stoppedBy: "once" | "signal";
}

interface Fingerprint {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

const sameFp = (a: Fingerprint | undefined, b: Fingerprint): boolean =>
  a !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;

/** Only a regular file counts: lstat, so a symlink (to anywhere) is never uploaded. */
async function fingerprint(path: string): Promise<Fingerprint | undefined> {
  try {
    const st = await lstat(path);
    return st.isFile() ? { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino } : undefined;
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export async function runSnapshot(o: SnapshotOptions): Promise<SnapshotReport> {
  const { store, prefix, log } = o;
  const report: SnapshotReport = {
    committed: [],
    best: [],
    alreadyCommitted: [],
    pruned: [],
    logs: { files: 0, bytes: 0 },
    errors: 0,
    stoppedBy: o.once ? "once" : "signal",
  };
  await store.checkBucket();
  const loaded = await loadManifestChecked(store, prefix);
  for (const bad of loaded?.rejected ?? []) {
    // Left out of the next manifest written; its object is never deleted by key.
    log(`warning: dropping manifest entry ${bad.file}: ${bad.reason}`);
  }
  let manifest: Manifest = loaded?.manifest ?? emptyManifest(new Date().toISOString());
  const logSync = new LogSync(store, prefix, o.workDir, o.transfer);
  await logSync.seed();
  const handled = new Map<string, Fingerprint>();
  const warned = new Set<string>();
  let lastStep: Step | undefined;
  let lastLogSync = 0;

  const entryFor = (
    named: NamedCheckpoint,
    key: string,
    bytes: number,
    sha256: string,
  ): ManifestEntry => {
    const step = parseStep(named.file);
    return {
      file: named.file,
      key,
      relPath: named.relPath,
      path: named.path,
      bytes,
      sha256,
      ...(step?.unit === "epoch" ? { epoch: step.n } : {}),
      ...(step?.unit === "iter" ? { iter: step.n } : {}),
      time: new Date().toISOString(),
    };
  };

  const prune = async (entries: readonly ManifestEntry[]): Promise<void> => {
    // The manifest that no longer names them is already written: deleting is now safe,
    // and a failed delete only leaves an orphan object.
    for (const e of entries) {
      try {
        await store.delete(`${prefix}${e.key}`);
        report.pruned.push(e.file);
        log(`pruned ${e.file}`);
      } catch (err) {
        log(`warning: could not delete ${e.key}: ${errorMessage(err)}`);
      }
    }
  };

  const upload = async (
    named: NamedCheckpoint,
    label: string,
  ): Promise<{ entry: ManifestEntry; r: CommitReport }> => {
    const key = checkpointKey(named.file);
    log(`uploading ${label} to s3://${store.bucket}/${prefix}${key}`);
    const res = await uploadFile(store, {
      path: named.path,
      key: `${prefix}${key}`,
      label,
      transfer: o.transfer,
      log,
      signal: o.abort,
      onMultipart: (id) => o.onMultipart?.(`${prefix}${key}`, id),
    });
    const head = await store.head(`${prefix}${key}`);
    if (head === undefined || head.size !== res.bytes) {
      throw new AgentError(
        `after upload, s3://${store.bucket}/${prefix}${key} has size ${head?.size ?? "none"}, expected ${res.bytes}`,
      );
    }
    return {
      entry: entryFor(named, key, res.bytes, res.sha256),
      r: { file: named.file, bytes: res.bytes, sha256: res.sha256, seconds: res.seconds },
    };
  };

  /** The file `last_checkpoint` names, if new: skip when already committed, else upload + commit. */
  const warnOnce = (key: string, line: string): void => {
    if (warned.has(key)) return;
    warned.add(key);
    log(`warning: ${line}`);
  };

  const syncLatest = async (): Promise<void> => {
    let value: string | undefined;
    try {
      value = await readLastCheckpoint(o.workDir);
    } catch (err) {
      if (!(err instanceof BadLastCheckpointError)) throw err;
      warnOnce(err.message, `${err.message}; nothing uploaded for it`);
      return;
    }
    if (value === undefined) return;
    const named = resolveNamed(o.workDir, value);
    if (named === undefined) {
      // Only files inside the work dir are checkpoints of this run (SECURITY.md).
      warnOnce(
        value,
        `last_checkpoint names ${JSON.stringify(value)}, outside the work dir ${o.workDir}; only files inside it are uploaded`,
      );
      return;
    }
    const fp = await fingerprint(named.path);
    if (fp === undefined) {
      if (!handled.has(named.path)) {
        warnOnce(
          named.path,
          `last_checkpoint names ${named.path}, which is not a regular file (yet); symlinks are never uploaded`,
        );
      }
      return;
    }
    lastStep = parseStep(named.file) ?? lastStep;
    if (sameFp(handled.get(named.path), fp)) return;
    const committed = manifest.history.find(
      (e) => e.relPath === named.relPath && e.bytes === fp.size,
    );
    if (committed !== undefined && (await hashFile(named.path)).sha256 === committed.sha256) {
      log(
        `${named.file} is already committed (sha256 matches the manifest): not uploading it again`,
      );
      report.alreadyCommitted.push(named.file);
      handled.set(named.path, fp);
      return;
    }
    const { entry, r } = await upload(named, named.file);
    const c = commitCheckpoint(manifest, entry, o.keep, new Date().toISOString());
    await saveManifest(store, prefix, c.manifest);
    manifest = c.manifest;
    handled.set(named.path, fp);
    report.committed.push(r);
    log(`committed ${named.file} (${entry.bytes} bytes, sha256 ${entry.sha256.slice(0, 12)}…)`);
    await prune(c.pruned);
  };

  /**
   * save_best writes best_<metric>_<epoch|iter>_N.pth after validation and does not touch
   * last_checkpoint. It is complete once last_checkpoint has moved past step N; at the
   * final pass (the trainer has exited) once it stops changing.
   */
  const syncBest = async (final: boolean): Promise<void> => {
    if (o.bestMetric === undefined) return;
    const metric = o.bestMetric;
    let names: string[];
    try {
      names = (await readdir(o.workDir)).filter((n) => isBestFile(n, metric));
    } catch {
      return;
    }
    const newest = names
      .map((n) => ({ n, step: parseStep(n) }))
      .sort((a, b) => (b.step?.n ?? 0) - (a.step?.n ?? 0))[0];
    if (newest === undefined) return;
    const named = resolveNamed(o.workDir, join(o.workDir, newest.n));
    if (named === undefined) return;
    const fp = await fingerprint(named.path);
    if (fp === undefined || sameFp(handled.get(named.path), fp)) return;
    if (manifest.best?.file === named.file && manifest.best.bytes === fp.size) {
      handled.set(named.path, fp);
      return;
    }
    let ready = isAfter(lastStep, newest.step);
    if (!ready && final) {
      await new Promise((r) => setTimeout(r, o.stableMs ?? 1000));
      ready = sameFp(await fingerprint(named.path), fp);
    }
    if (!ready) return;
    const { entry, r } = await upload(named, `best ${named.file}`);
    const c = commitBest(manifest, entry, new Date().toISOString());
    await saveManifest(store, prefix, c.manifest);
    manifest = c.manifest;
    handled.set(named.path, fp);
    report.best.push(r);
    log(`committed best checkpoint ${named.file} (${bestFilePrefix(metric)}*)`);
    await prune(c.pruned);
  };

  const syncLogs = async (): Promise<void> => {
    const n = await logSync.sync();
    report.logs.files += n.files;
    report.logs.bytes += n.bytes;
    lastLogSync = performance.now();
  };

  const pass = async (final: boolean): Promise<void> => {
    for (const step of [syncLatest, () => syncBest(final), syncLogs]) {
      if (step === syncLogs && !final && performance.now() - lastLogSync < o.logsIntervalMs)
        continue;
      try {
        await step();
      } catch (err) {
        if (err instanceof InputError || err instanceof AbortedError) throw err;
        report.errors++;
        log(`error: ${errorMessage(err)}${final ? "" : " (will retry)"}`);
        if (final) throw err;
      }
    }
  };

  log(
    `watching ${join(o.workDir, "last_checkpoint")} every ${o.intervalMs / 1000} s → s3://${store.bucket}/${prefix} (keep ${o.keep}${o.bestMetric === undefined ? "" : `, best ${o.bestMetric}`})`,
  );
  if (o.once) {
    await pass(true);
    return report;
  }
  while (!o.stop.aborted) {
    await pass(false);
    await sleep(o.intervalMs, o.stop);
  }
  log("stop requested: finishing uploads and running the final sync");
  await pass(true);
  return report;
}
