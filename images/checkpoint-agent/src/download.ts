/**
 * Download one object with parallel ranged GETs into `<dest>.yunshi-partial`, hash it in
 * order as parts arrive (no second read pass), check size and SHA-256, then rename onto
 * `dest`. A reader of `dest` never sees a partial or unverified file: rename is atomic
 * within one filesystem. Nothing is written through a symlink (safe-path.ts): the parents
 * between the trusted root and `dest` must be real directories, the temp file is created
 * exclusively, and rename replaces a link at `dest` instead of following it.
 */
import { createHash, type Hash } from "node:crypto";
import { lstat, open, rename, rm } from "node:fs/promises";
import { VerificationError } from "./errors.ts";
import { Limiter } from "./limiter.ts";
import type { ObjectStore } from "./object-store.ts";
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

/** Feeds parts to the hashes strictly in order, holding early arrivals until their turn. */
class OrderedHasher {
  private next = 0;
  private readonly pending = new Map<number, Buffer>();
  private readonly waiters: { index: number; resolve: () => void }[] = [];

  constructor(private readonly hash: Hash) {}

  push(index: number, buf: Buffer): void {
    this.pending.set(index, buf);
    for (let b = this.pending.get(this.next); b !== undefined; b = this.pending.get(this.next)) {
      this.hash.update(b);
      this.pending.delete(this.next);
      this.next++;
    }
    for (const w of this.waiters.filter((x) => x.index <= this.next)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve();
    }
  }

  /** Wake every waiter: a part failed and nothing more will be hashed. */
  release(): void {
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** Resolves once every part before `index` has been hashed (bounds held memory). */
  async until(index: number): Promise<void> {
    if (index <= this.next) return;
    await new Promise<void>((resolve) => this.waiters.push({ index, resolve }));
  }
}

export async function downloadToFile(
  store: ObjectStore,
  req: DownloadRequest,
): Promise<DownloadResult> {
  const tmp = `${req.dest}${PARTIAL_SUFFIX}`;
  const fh = await localStep(req.dest, async () => {
    await ensureParentDirs(req.root, req.dest, DIR_MODE);
    return createExclusive(tmp, FILE_MODE);
  });
  const sha = createHash("sha256");
  const hasher = new OrderedHasher(sha);
  const progress = new Progress(req.log, req.label, req.size);
  const partSize = partSizeFor(req.size, req.transfer.partSize);
  const count = Math.ceil(req.size / partSize);
  const limiter = req.limiter ?? new Limiter(req.transfer.concurrency);
  const window = 2 * req.transfer.concurrency;
  let ok = false;
  try {
    const jobs: Promise<void>[] = [];
    let failed = false;
    for (let i = 0; i < count; i++) {
      // Do not run more than `window` parts ahead of the hash, or a slow part would make
      // every later part pile up in memory.
      await hasher.until(i - window);
      // Stop dispatching on the first failure; allSettled below waits for the rest.
      if (failed) break;
      const start = i * partSize;
      const end = Math.min(req.size, start + partSize) - 1;
      const job = limiter.run(async () => {
        const buf = await store.getRange(req.key, start, end);
        await fh.write(buf, 0, buf.length, start);
        progress.add(buf.length);
        hasher.push(i, buf);
      });
      job.catch(() => {
        failed = true;
        hasher.release();
      });
      jobs.push(job);
    }
    const settled = await Promise.allSettled(jobs);
    const rejected = settled.find((s) => s.status === "rejected");
    if (rejected !== undefined) throw rejected.reason;
    const got = (await fh.stat()).size;
    const digest = sha.digest("hex");
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
