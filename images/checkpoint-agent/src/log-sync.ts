/**
 * Logs, TensorBoard events and goodput.json follow the work dir to `logs/` so they survive
 * the pod; restore brings them back so event files and logs continue across restarts.
 * Growing files are re-uploaded whole when their size or mtime changes (they are small
 * next to checkpoints; S3 has no append).
 */
import { lstat } from "node:fs/promises";
import { downloadToFile } from "./download.ts";
import { errorMessage } from "./errors.ts";
import { LOGS_DIR, logKey } from "./layout.ts";
import type { ObjectStore } from "./object-store.ts";
import type { LogFn } from "./progress.ts";
import type { TransferOptions } from "./transfer-options.ts";
import { uploadFile } from "./upload.ts";
import { safeJoin } from "./safe-path.ts";
import { isLogPath, listLogFiles } from "./work-dir.ts";

export interface SyncCount {
  files: number;
  bytes: number;
}

const quiet: LogFn = () => undefined;

export class LogSync {
  private readonly seen = new Map<string, { size: number; mtimeMs: number }>();
  private remoteSizes = new Map<string, number>();

  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    private readonly workDir: string,
    private readonly transfer: TransferOptions,
  ) {}

  /** Learn what is already in the bucket, so files restore just placed are not re-sent. */
  async seed(): Promise<void> {
    const base = `${this.prefix}${LOGS_DIR}`;
    const objects = await this.store.list(base);
    this.remoteSizes = new Map(objects.map((o) => [o.key.slice(base.length), o.size]));
  }

  async sync(): Promise<SyncCount> {
    const count: SyncCount = { files: 0, bytes: 0 };
    for (const f of await listLogFiles(this.workDir)) {
      const prev = this.seen.get(f.relPath);
      if (prev !== undefined && prev.size === f.size && prev.mtimeMs === f.mtimeMs) continue;
      if (prev === undefined && this.remoteSizes.get(f.relPath) === f.size) {
        this.seen.set(f.relPath, { size: f.size, mtimeMs: f.mtimeMs });
        continue;
      }
      try {
        const r = await uploadFile(this.store, {
          path: f.path,
          key: `${this.prefix}${logKey(f.relPath)}`,
          label: f.relPath,
          transfer: this.transfer,
          log: quiet,
        });
        // Record what was read, not what the listing said: the file may have grown since.
        this.seen.set(f.relPath, { size: r.bytes, mtimeMs: f.mtimeMs });
        count.files++;
        count.bytes += r.bytes;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // rotated away
        throw err;
      }
    }
    return count;
  }
}

/**
 * Download `logs/` into the work dir; files already present with the same size stay. Only
 * paths the sidecar would sync as logs come back (never a .pth or `last_checkpoint`), and
 * an unsafe name is skipped with a warning.
 */
export async function restoreLogs(
  store: ObjectStore,
  prefix: string,
  workDir: string,
  transfer: TransferOptions,
  log: LogFn,
): Promise<SyncCount> {
  const base = `${prefix}${LOGS_DIR}`;
  const count: SyncCount = { files: 0, bytes: 0 };
  for (const o of await store.list(base)) {
    const rel = o.key.slice(base.length);
    if (rel.endsWith("/")) continue; // a folder marker, not a file
    let dest: string;
    try {
      dest = safeJoin(workDir, rel, "log object");
    } catch (err) {
      log(`skipping log object ${JSON.stringify(o.key)}: ${errorMessage(err)}`);
      continue;
    }
    if (!isLogPath(rel)) {
      log(`skipping log object ${JSON.stringify(o.key)}: ${rel} is not a log file name`);
      continue;
    }
    try {
      const st = await lstat(dest);
      if (st.isFile() && st.size === o.size) continue;
    } catch {
      // not there yet
    }
    try {
      await downloadToFile(store, {
        key: o.key,
        size: o.size,
        root: workDir,
        dest,
        label: rel,
        transfer,
        log: quiet,
      });
      count.files++;
      count.bytes += o.size;
    } catch (err) {
      log(`warning: could not restore log ${rel}: ${errorMessage(err)}`);
    }
  }
  return count;
}
