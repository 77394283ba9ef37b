/**
 * `dataset push`: upload a dataset folder to s3://bucket/<namespace>/datasets/<name>/ in
 * parallel, skip what is already there, and commit with the dataset manifest, written last
 * (images/checkpoint-agent/src/dataset-manifest.ts). Every object carries its SHA-256 as
 * metadata, so a push cut short and run again finds what it already uploaded (HEAD) even
 * before any manifest exists; after a commit the manifest answers without a HEAD per file.
 * All S3 traffic goes through the checkpoint agent's ObjectStore (the one S3 module).
 */
import { readFile, stat } from "node:fs/promises";
import { join, posix } from "node:path";
import { crc32Base64 } from "../../images/checkpoint-agent/src/checksum.ts";
import {
  buildDatasetManifest,
  DATASET_MANIFEST_KEY,
  parseDatasetManifest,
  serializeDatasetManifest,
  type DatasetFile,
} from "../../images/checkpoint-agent/src/dataset-manifest.ts";
import { mapLimit } from "../../images/checkpoint-agent/src/limiter.ts";
import type { ObjectInfo, ObjectStore } from "../../images/checkpoint-agent/src/object-store.ts";
import { formatBytes, rateMBps } from "../../images/checkpoint-agent/src/progress.ts";
import { defaultTransfer } from "../../images/checkpoint-agent/src/transfer-options.ts";
import { uploadFile } from "../../images/checkpoint-agent/src/upload.ts";
import { UsageError } from "../errors.ts";
import { saveHashCache, sha256File, sha256Of, type LocalFile } from "./local-files.ts";
import { PushProgress } from "./push-progress.ts";

/** User metadata (x-amz-meta-sha256) holding each object's content hash. */
export const SHA256_METADATA = "sha256";

export interface PushOptions {
  readonly dir: string;
  readonly store: ObjectStore;
  /** Key prefix ending in "/". */
  readonly prefix: string;
  readonly files: readonly LocalFile[];
  readonly concurrency: number;
  readonly progress: (text: string) => void;
  readonly tty: boolean;
  readonly now?: () => Date;
}

export interface PushReport {
  readonly files: number;
  readonly uploaded: number;
  readonly skipped: number;
  readonly uploadedBytes: number;
  readonly totalBytes: number;
  readonly seconds: number;
  /** Objects under the prefix that are not part of this dataset (left alone, not fetched). */
  readonly foreign: number;
  readonly manifestKey: string;
}

const CONTENT_TYPES: Record<string, string> = {
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".png": "image/png",
  ".bmp": "image/bmp",
  ".tif": "image/tiff",
  ".tiff": "image/tiff",
  ".webp": "image/webp",
  ".json": "application/json",
};

export async function pushDataset(o: PushOptions): Promise<PushReport> {
  const { store, prefix } = o;
  const started = performance.now();
  await store.checkBucket();
  const remote = new Map<string, ObjectInfo>((await store.list(prefix)).map((i) => [i.key, i]));
  const manifestKey = `${prefix}${DATASET_MANIFEST_KEY}`;
  const committed = new Map<string, DatasetFile>();
  const oldText = remote.has(manifestKey) ? await store.getText(manifestKey) : undefined;
  if (oldText !== undefined) {
    try {
      for (const f of parseDatasetManifest(oldText, manifestKey).files) committed.set(f.path, f);
    } catch {
      // An unreadable old manifest only costs a HEAD per file; the new one replaces it.
    }
  }

  // Unchanged: same size and the same SHA-256, known from the committed manifest (while the
  // object keeps the ETag it had then) or else from the object's own metadata (a HEAD). A
  // file missing remotely, or of another size, is uploaded without hashing it first.
  const hashes = new Map<string, string>();
  const hashOf = async (f: LocalFile): Promise<string> => {
    const sha = f.cachedSha256 ?? (await sha256File(join(o.dir, f.path)));
    hashes.set(f.path, sha);
    return sha;
  };
  const same = await mapLimit(o.files, 16, async (f) => {
    const r = remote.get(prefix + f.path);
    if (r === undefined || r.size !== f.size) return false;
    const sha = await hashOf(f);
    const c = committed.get(f.path);
    if (c?.sha256 === sha && c.etag !== undefined && c.etag === r.etag) return true;
    const head = await store.head(prefix + f.path);
    return head?.metadata[SHA256_METADATA] === sha;
  });
  const todo = o.files.filter((_, i) => same[i] !== true);
  const todoBytes = todo.reduce((n, f) => n + f.size, 0);
  const progress = new PushProgress(todo.length, todoBytes, o.progress, o.tty);
  await mapLimit(todo, o.concurrency, async (f) => {
    const path = join(o.dir, f.path);
    const key = prefix + f.path;
    const contentType = CONTENT_TYPES[posix.extname(f.path).toLowerCase()];
    if (f.size <= defaultTransfer.partSize) {
      const body = await readFile(path);
      const sha = sha256Of(body);
      const st = await stat(path);
      if (body.length !== f.size || st.mtimeMs !== f.mtimeMs) changedWhilePushed(f.path);
      if (hashes.has(f.path) && hashes.get(f.path) !== sha) changedWhilePushed(f.path);
      hashes.set(f.path, sha);
      await store.putObject(key, body, {
        crc32Base64: crc32Base64(body),
        metadata: { [SHA256_METADATA]: sha },
        ...(contentType === undefined ? {} : { contentType }),
      });
    } else {
      // Big files (a large TIFF) go multipart; they carry no metadata, so an interrupted
      // push uploads them again unless a committed manifest vouches for them.
      const r = await uploadFile(store, {
        path,
        key,
        label: f.path,
        transfer: { ...defaultTransfer, concurrency: 4 },
        log: () => undefined,
        ...(contentType === undefined ? {} : { contentType }),
      });
      const st = await stat(path);
      if (r.bytes !== f.size || st.mtimeMs !== f.mtimeMs) changedWhilePushed(f.path);
      if (hashes.has(f.path) && hashes.get(f.path) !== r.sha256) changedWhilePushed(f.path);
      hashes.set(f.path, r.sha256);
    }
    progress.add(f.size);
  });
  progress.finish();

  const paths = new Set(o.files.map((f) => prefix + f.path));
  const foreign = [...remote.keys()].filter((k) => k !== manifestKey && !paths.has(k)).length;
  // The ETags as they are now, so the next push can trust this manifest without a HEAD each.
  const etags = new Map((await store.list(prefix)).map((i) => [i.key, i.etag]));
  const hashed = o.files.map((f) => ({ ...f, sha256: hashes.get(f.path) ?? "" }));
  await saveHashCache(o.dir, hashed);
  const withEtags = hashed.map(({ path, size, sha256 }): DatasetFile => {
    const etag = etags.get(prefix + path);
    return etag === undefined ? { path, size, sha256 } : { path, size, sha256, etag };
  });
  const manifest = buildDatasetManifest(withEtags, (o.now ?? (() => new Date()))());
  const body = serializeDatasetManifest(manifest);
  await store.putObject(manifestKey, body, {
    crc32Base64: crc32Base64(body),
    contentType: "application/json",
  });
  return {
    files: o.files.length,
    uploaded: todo.length,
    skipped: o.files.length - todo.length,
    uploadedBytes: todoBytes,
    totalBytes: manifest.totalBytes,
    seconds: (performance.now() - started) / 1000,
    foreign,
    manifestKey,
  };
}

function changedWhilePushed(path: string): never {
  throw new UsageError(
    `${path} changed while it was being pushed; push again once nothing writes into the folder`,
  );
}

export function formatPushReport(r: PushReport, uri: string): string {
  const lines = [
    `✓ pushed ${uri}: ${r.files} files, ${formatBytes(r.totalBytes)}; uploaded ${r.uploaded} (${formatBytes(r.uploadedBytes)}, ${rateMBps(r.uploadedBytes, r.seconds).toFixed(1)} MB/s), ${r.skipped} unchanged, in ${r.seconds.toFixed(1)} s`,
    `committed the dataset manifest ${r.manifestKey.split("/").pop() ?? ""} (the fetch-dataset init container verifies every file against it)`,
  ];
  if (r.foreign > 0)
    lines.push(
      `${r.foreign} other object(s) under the prefix are not part of this dataset: left in place, not fetched by pods`,
    );
  return `${lines.join("\n")}\n`;
}
