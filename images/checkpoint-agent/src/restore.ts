/**
 * The restore init container: bring the newest committed checkpoint that verifies back to
 * the path MMEngine expects, then write `last_checkpoint` (so the launcher passes --resume).
 * A missing, truncated or corrupted object makes it fall back to the previous committed
 * checkpoint; it never hands training a file that fails verification.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { downloadToFile } from "./download.ts";
import { AgentError, VerificationError, errorMessage } from "./errors.ts";
import { writeLastCheckpoint } from "./last-checkpoint.ts";
import { restoreLogs, type SyncCount } from "./log-sync.ts";
import { restoreCandidates, type ManifestEntry } from "./manifest.ts";
import { loadManifest } from "./manifest-io.ts";
import type { ObjectStore } from "./object-store.ts";
import type { LogFn } from "./progress.ts";
import type { TransferOptions } from "./transfer-options.ts";
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

/** Already on disk with the committed size and hash (e.g. the init container re-ran). */
async function alreadyPlaced(path: string, e: ManifestEntry): Promise<boolean> {
  try {
    if ((await stat(path)).size !== e.bytes) return false;
  } catch {
    return false;
  }
  return (await hashFile(path)).sha256 === e.sha256;
}

export async function runRestore(o: RestoreOptions): Promise<RestoreReport> {
  const { store, prefix, log } = o;
  await store.checkBucket();
  const manifest = await loadManifest(store, prefix);
  const where = `s3://${store.bucket}/${prefix}`;
  if (manifest === undefined || manifest.history.length === 0) {
    log(`no committed checkpoint under ${where}: fresh run, nothing restored`);
    return { restored: null, fellBackFrom: [], logs: { files: 0, bytes: 0 } };
  }
  const logs = await restoreLogs(store, prefix, o.workDir, o.transfer, log);
  if (logs.files > 0) log(`restored ${logs.files} log file(s), ${logs.bytes} bytes`);

  const fellBackFrom: { file: string; reason: string }[] = [];
  for (const e of restoreCandidates(manifest)) {
    const dest = join(o.workDir, e.relPath);
    const started = performance.now();
    let reason: string | undefined;
    if (await alreadyPlaced(dest, e)) {
      log(`${e.file} is already in place and verified`);
    } else {
      const head = await store.head(`${prefix}${e.key}`);
      if (head === undefined) reason = "object missing";
      else if (head.size !== e.bytes)
        reason = `object has ${head.size} bytes, manifest says ${e.bytes}`;
      else {
        try {
          await downloadToFile(store, {
            key: `${prefix}${e.key}`,
            size: e.bytes,
            dest,
            label: e.file,
            transfer: o.transfer,
            log,
            sha256: e.sha256,
          });
        } catch (err) {
          if (!(err instanceof VerificationError)) throw err;
          reason = errorMessage(err);
        }
      }
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
