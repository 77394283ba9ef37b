/**
 * The files of a dataset folder: relative path, size, and the SHA-256 when it is already
 * known. Hidden files (convert's marker, this hash cache) are not part of the dataset; the
 * manifest's own name is reserved. Hashes are cached in DIR/.yunshi-hashes.json by size,
 * modification time and inode, so a rerun over 2,000 unchanged pictures reads none of them;
 * a file that has to be uploaded anyway is hashed from the bytes read for the upload.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DATASET_MANIFEST_KEY } from "../../images/checkpoint-agent/src/dataset-manifest.ts";
import { mapLimit } from "../../images/checkpoint-agent/src/limiter.ts";
import { unsafeRelPathReason } from "../../images/checkpoint-agent/src/safe-path.ts";
import { DatasetError } from "./problems.ts";
import { scanSourceTree } from "./source-tree.ts";

export const HASH_CACHE = ".yunshi-hashes.json";

export interface LocalFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  /** From the cache, when size, mtime and inode still match. */
  readonly cachedSha256: string | undefined;
}

type HashCache = Record<string, { size: number; mtimeMs: number; ino: number; sha256: string }>;

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export function sha256Of(body: Buffer): string {
  return createHash("sha256").update(body).digest("hex");
}

async function loadCache(dir: string): Promise<HashCache> {
  try {
    const raw = JSON.parse(await readFile(join(dir, HASH_CACHE), "utf8")) as unknown;
    return typeof raw === "object" && raw !== null
      ? (Object.assign(Object.create(null), raw) as HashCache)
      : {};
  } catch {
    return {};
  }
}

export async function listDatasetFiles(dir: string): Promise<LocalFile[]> {
  const tree = await scanSourceTree(dir);
  if (tree.problems.length > 0) throw new DatasetError(`dataset push ${dir}`, tree.problems);
  const files = tree.files.filter((f) => f !== DATASET_MANIFEST_KEY);
  // A name the pods' fetch would refuse (a backslash, a control character, a segment too
  // long with the temp suffix) is refused here, before anything is uploaded.
  const unsafe = files.flatMap((path) => {
    const why = unsafeRelPathReason(path);
    return why === undefined
      ? []
      : [{ file: path, message: `cannot be a dataset file name: ${why}`, fix: "rename it" }];
  });
  if (unsafe.length > 0) throw new DatasetError(`dataset push ${dir}`, unsafe);
  const cache = await loadCache(dir);
  return mapLimit(files, 16, async (path) => {
    const st = await stat(join(dir, path));
    const known = cache[path];
    const valid =
      known !== undefined &&
      known.size === st.size &&
      known.mtimeMs === st.mtimeMs &&
      known.ino === st.ino;
    return {
      path,
      size: st.size,
      mtimeMs: st.mtimeMs,
      ino: st.ino,
      cachedSha256: valid ? known.sha256 : undefined,
    };
  });
}

/** Best effort: a read-only folder only costs the hashing next time. */
export async function saveHashCache(
  dir: string,
  files: readonly (LocalFile & { readonly sha256: string })[],
): Promise<void> {
  const cache: HashCache = {};
  for (const f of files)
    cache[f.path] = { size: f.size, mtimeMs: f.mtimeMs, ino: f.ino, sha256: f.sha256 };
  const tmp = join(dir, `${HASH_CACHE}.yunshi-partial`);
  await writeFile(tmp, JSON.stringify(cache))
    .then(() => rename(tmp, join(dir, HASH_CACHE)))
    .catch(() => undefined);
}
