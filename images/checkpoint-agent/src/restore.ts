/**
 * The restore init container: bring the newest committed checkpoint that verifies back to
 * the path MMEngine expects, then write `last_checkpoint` (so the launcher passes --resume).
 * A missing, truncated or corrupted object, or a manifest entry whose relPath or key could
 * leave the work dir or the experiment's prefix, makes it fall back to the previous
 * committed checkpoint; it never hands training a file that fails verification, and never
 * writes outside the work dir or through a symlink (safe-path.ts).
 */
import { lstat } from "node:fs/promises";
import { downloadToFile } from "./download.ts";
import { AgentError, VerificationError, errorMessage } from "./errors.ts";
import { writeLastCheckpoint } from "./last-checkpoint.ts";
import { restoreLogs, type SyncCount } from "./log-sync.ts";
import { restoreCandidates, type ManifestEntry } from "./manifest.ts";
import { loadManifestChecked } from "./manifest-io.ts";
import type { ObjectStore } from "./object-store.ts";
import type { LogFn } from "./progress.ts";
import type { TransferOptions } from "./transfer-options.ts";
import { safeJoin, safeObjectKey, UnsafePathError } from "./safe-path.ts";
import { hashFile } from "./work-dir.ts";

export interface RestoreOptions {
  readonly store: ObjectStore;
  readonly prefix: string;
  readonly workDir: string;
  readonly transfer: TransferOptions;
  readonly log: LogFn;
}

export interface RestoreReport {
  /** The checkpoint now named by last_checkpoint; null for a fresh run. */
  readonly restored: {
    file: string;
    path: string;
    bytes: number;
    sha256: string;
    seconds: number;
  } | null;
  /** Committed checkpoints skipped because they failed verification, newest first. */
  readonly fellBackFrom: { file: string; reason: string }[];
  readonly logs: SyncCount;
}

/**
 * Already on disk as a regular file with the committed size and hash (e.g. the init
 * container re-ran). lstat: a symlink, even to the right bytes, is replaced, not trusted.
 */
async function alreadyPlaced(path: string, e: ManifestEntry): Promise<boolean> {
  try {
    const st = await lstat(path);
    if (!st.isFile() || st.size !== e.bytes) return false;
    return (await hashFile(path)).sha256 === e.sha256;
  } catch {
    return false;
  }
}

export async function runRestore(o: RestoreOptions): Promise<RestoreReport> {
  const { store, prefix, log } = o;
  await store.checkBucket();
  const parsed = await loadManifestChecked(store, prefix);
  const where = `s3://${store.bucket}/${prefix}`;
  if (parsed === undefined || parsed.candidates.length === 0) {
    log(`no committed checkpoint under ${where}: fresh run, nothing restored`);
    return { restored: null, fellBackFrom: [], logs: { files: 0, bytes: 0 } };
  }
  const logs = await restoreLogs(store, prefix, o.workDir, o.transfer, log);
  if (logs.files > 0) log(`restored ${logs.files} log file(s), ${logs.bytes} bytes`);

  const fellBackFrom: { file: string; reason: string }[] = [];
  for (const candidate of restoreCandidates(parsed)) {
    if ("rejected" in candidate) {
      const { file, reason } = candidate.rejected;
      log(
        `committed checkpoint ${file} failed verification (${reason}): falling back to the previous one`,
      );
      fellBackFrom.push({ file, reason });
      continue;
    }
    const e = candidate.entry;
    const started = performance.now();
    let reason: string | undefined;
    let dest = "";
    try {
      // The schema already refused these; the joins are the one place that decides.
      dest = safeJoin(o.workDir, e.relPath, "manifest relPath");
      const key = safeObjectKey(prefix, e.key, "manifest key");
      if (await alreadyPlaced(dest, e)) {
        log(`${e.file} is already in place and verified`);
      } else {
        const head = await store.head(key);
        if (head === undefined) reason = "object missing";
        else if (head.size !== e.bytes)
          reason = `object has ${head.size} bytes, manifest says ${e.bytes}`;
        else {
          await downloadToFile(store, {
            key,
            size: e.bytes,
            root: o.workDir,
            dest,
            label: e.file,
            transfer: o.transfer,
            log,
            sha256: e.sha256,
          });
        }
      }
    } catch (err) {
      if (!(err instanceof VerificationError || err instanceof UnsafePathError)) throw err;
      reason = errorMessage(err);
    }
    if (reason !== undefined) {
      log(
        `committed checkpoint ${e.file} failed verification (${reason}): falling back to the previous one`,
      );
      fellBackFrom.push({ file: e.file, reason });
      continue;
    }
    await writeLastCheckpoint(o.workDir, dest);
    const seconds = (performance.now() - started) / 1000;
    log(`restored ${e.file} to ${dest}; last_checkpoint updated`);
    return {
      restored: { file: e.file, path: dest, bytes: e.bytes, sha256: e.sha256, seconds },
      fellBackFrom,
      logs,
    };
  }
  throw new AgentError(
    `none of the ${fellBackFrom.length} committed checkpoint(s) under ${where} passed verification; refusing to start training from a broken checkpoint (${fellBackFrom.map((f) => `${f.file}: ${f.reason}`).join("; ")})`,
  );
}
