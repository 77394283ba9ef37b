/**
 * Download one object with parallel ranged GETs into `<dest>.yunshi-partial`: worker
 * threads receive the parts and write them at their offsets (range-receiver.ts), while this
 * thread hashes the file in order as its prefix completes (ordered-file-hash.ts), so the
 * hash overlaps the download. Then check size and SHA-256 and rename onto `dest`. A reader of `dest` never sees a partial or unverified file: rename is atomic
 * within one filesystem. Nothing is written through a symlink (safe-path.ts): the parents
 * between the trusted root and `dest` must be real directories, the temp file is created
 * exclusively, and rename replaces a link at `dest` instead of following it.
 */
import { lstat, open, rename, rm } from "node:fs/promises";
import { VerificationError } from "./errors.ts";
import { Limiter } from "./limiter.ts";
import type { ObjectStore } from "./object-store.ts";
import { OrderedFileHash } from "./ordered-file-hash.ts";
import { Progress, type LogFn } from "./progress.ts";
import {
  createExclusive,
  describeFsError,
  ensureParentDirs,
  UnsafePathError,
} from "./safe-path.ts";
import { partSizeFor, type TransferOptions } from "./transfer-options.ts";

export const PARTIAL_SUFFIX = ".yunshi-partial";

/**
 * Files the agent places are group-writable: the trainer runs as another uid sharing the
 * pod's fsGroup and must be able to rewrite `last_checkpoint` and delete old checkpoints.
 */
export const FILE_MODE = 0o664;
export const DIR_MODE = 0o2775;

export interface DownloadRequest {
  readonly key: string;
  readonly size: number;
  /** The directory the caller trusts (work dir, --dest); `dest` lies below it (safeJoin). */
  readonly root: string;
  readonly dest: string;
  readonly label: string;
  readonly transfer: TransferOptions;
  readonly log: LogFn;
  /** Hex SHA-256 the bytes must have (from the manifest). */
  readonly sha256?: string;
  /** Shared across files so a whole fetch stays within one concurrency budget. */
  readonly limiter?: Limiter;
}

export interface DownloadResult {
  readonly bytes: number;
  readonly sha256: string;
  readonly seconds: number;
}

export async function downloadToFile(
  store: ObjectStore,
  req: DownloadRequest,
): Promise<DownloadResult> {
  const tmp = `${req.dest}${PARTIAL_SUFFIX}`;
  const fh = await localStep(req.dest, async () => {
    await ensureParentDirs(req.root, req.dest, DIR_MODE);
    return createExclusive(tmp, FILE_MODE, true);
  });
  const hash = new OrderedFileHash(fh, req.size, req.label);
  const progress = new Progress(req.log, req.label, req.size);
  const partSize = partSizeFor(req.size, req.transfer.partSize);
  const count = Math.ceil(req.size / partSize);
  const limiter = req.limiter ?? new Limiter(req.transfer.concurrency);
  let ok = false;
  try {
    let failed = false;
    const jobs = Array.from({ length: count }, (_, i) =>
      limiter.run(async () => {
        // Start nothing new after the first failure; allSettled below waits for the rest.
        if (failed) return;
        const start = i * partSize;
        const end = Math.min(req.size, start + partSize) - 1;
        try {
          await store.getRangeInto(req.key, start, end, fh.fd);
        } catch (err) {
          failed = true;
          throw err;
        }
        progress.add(end - start + 1);
        hash.complete(start, end + 1);
      }),
    );
    const settled = await Promise.allSettled(jobs);
    const rejected = settled.find((s) => s.status === "rejected");
    if (rejected !== undefined) throw rejected.reason;
    const digest = await hash.digest();
    const got = (await fh.stat()).size;
    if (got !== req.size) {
      throw new VerificationError(`${req.label}: size ${got} bytes, expected ${req.size}`);
    }
    if (req.sha256 !== undefined && digest !== req.sha256) {
      throw new VerificationError(`${req.label}: sha256 ${digest}, expected ${req.sha256}`);
    }
    // No fsync of the data: a process crash cannot expose a partial file (rename is atomic),
    // and after a machine crash restore re-verifies whatever is on disk before trusting it.
    await fh.chmod(FILE_MODE); // open()'s mode is filtered by the umask
    await fh.close();
    await localStep(req.dest, async () => {
      // rename(2) onto a directory fails with a raw EISDIR; say what is in the way.
      const there = await lstat(req.dest).catch(() => undefined);
      if (there?.isDirectory() === true) {
        throw new UnsafePathError(
          `${req.dest} is a directory where a file should go; remove or rename it`,
        );
      }
      await rename(tmp, req.dest);
    });
    ok = true;
    return { bytes: req.size, sha256: digest, seconds: progress.finish("downloaded") };
  } finally {
    if (!ok) {
      // No read of the file may still be running when it is closed and removed.
      await hash.stop();
      await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
    }
  }
}

/** Run a local file-system step; errno failures become an UnsafePathError in plain words. */
async function localStep<T>(path: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const plain = describeFsError(err, path);
    if (plain === undefined) throw err;
    throw new UnsafePathError(plain, { cause: err });
  }
}

/** fsync a directory so a rename survives a node crash (ext4/xfs need it). */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, "r");
  try {
    await d.sync();
  } catch {
    // Some filesystems (overlay on some kernels) refuse fsync on directories: best effort.
  } finally {
    await d.close();
  }
}
