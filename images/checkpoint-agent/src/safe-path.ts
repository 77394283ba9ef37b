/**
 * The one place where a name that came from the object store (a manifest entry's relPath or
 * key, a log or dataset object's key) becomes a local path, and where files are created
 * without following symlinks. The bucket is shared and not trusted (SECURITY.md, "The object
 * store"): a name must not climb out of the directory it is placed in, and a symlink planted
 * in the work dir or the fetch destination must never be written through.
 */
import { constants } from "node:fs";
import { lstat, mkdir, open, unlink, type FileHandle } from "node:fs/promises";
import { isAbsolute, join } from "node:path";

/** Linux NAME_MAX: the longest file name (one path segment), in bytes. */
const NAME_MAX = 255;
/** Linux PATH_MAX, in bytes, terminating NUL included. */
const PATH_MAX = 4096;
/**
 * The longest suffix the agent appends to a name it places (`<name>.yunshi-partial`, the
 * temp file renamed onto the final name); a segment must leave room for it.
 */
const LONGEST_TEMP_SUFFIX = ".yunshi-partial".length;
export const MAX_SEGMENT_BYTES = NAME_MAX - LONGEST_TEMP_SUFFIX;

/** A name from the bucket that must not become a local path (or an object key). */
export class UnsafePathError extends Error {
  override readonly name = "UnsafePathError";
}

/**
 * Why `rel` is not a safe relative path (undefined when it is): it must be non-empty,
 * relative, '/'-separated, without '.', '..' or empty segments, backslashes, NUL or other
 * control characters, and each segment must fit a file name with the temp suffix.
 */
export function unsafeRelPathReason(rel: string): string | undefined {
  if (rel === "") return "it is empty";
  if (isAbsolute(rel) || rel.startsWith("/")) return "it is an absolute path";
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(rel)) return "it contains a control character";
  if (rel.includes("\\")) return "it contains a backslash";
  for (const segment of rel.split("/")) {
    if (segment === "..") return "it has a '..' segment";
    if (segment === "." || segment === "") return "it has an empty or '.' segment";
    const bytes = Buffer.byteLength(segment, "utf8");
    if (bytes > MAX_SEGMENT_BYTES) {
      return `a segment is ${bytes} bytes long; file names here may have at most ${MAX_SEGMENT_BYTES}`;
    }
  }
  return undefined;
}

/**
 * `root/rel` for a `rel` that came from the bucket; throws UnsafePathError naming `what`
 * when `rel` could escape `root` or cannot be a file name on Linux.
 */
export function safeJoin(root: string, rel: string, what: string): string {
  const reason = unsafeRelPathReason(rel);
  if (reason !== undefined) {
    throw new UnsafePathError(
      `${what} ${JSON.stringify(rel)} is not a safe relative path: ${reason}`,
    );
  }
  const path = join(root, rel);
  if (Buffer.byteLength(path, "utf8") >= PATH_MAX) {
    throw new UnsafePathError(
      `${what} ${JSON.stringify(rel)} makes a path of ${Buffer.byteLength(path, "utf8")} bytes under ${root}; Linux allows ${PATH_MAX - 1}`,
    );
  }
  return path;
}

/** `prefix + key` for an object key from a manifest; the key must stay under the prefix. */
export function safeObjectKey(prefix: string, key: string, what: string): string {
  const reason = unsafeRelPathReason(key);
  if (reason !== undefined) {
    throw new UnsafePathError(
      `${what} ${JSON.stringify(key)} is not a key under the experiment's prefix: ${reason}`,
    );
  }
  return `${prefix}${key}`;
}

/**
 * Create the directories between `root` (trusted: an operator's flag) and `path`'s parent,
 * refusing any that exists as a symlink or a non-directory: following one would place the
 * file outside `root`. `path` must come from safeJoin(root, ...).
 */
export async function ensureParentDirs(root: string, path: string, mode: number): Promise<void> {
  await mkdir(root, { recursive: true, mode });
  const rel = path.slice(root.length).replace(/^\/+/, "");
  const segments = rel.split("/").slice(0, -1);
  let dir = root;
  for (const segment of segments) {
    dir = join(dir, segment);
    try {
      await mkdir(dir, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const st = await lstat(dir);
    if (st.isSymbolicLink()) {
      throw new UnsafePathError(`${dir} is a symlink; refusing to write through it`);
    }
    if (!st.isDirectory()) {
      throw new UnsafePathError(`${dir} exists and is not a directory`);
    }
  }
}

/**
 * Open `path` for writing as a new file: a leftover file or symlink of that name (a temp
 * file from a killed run, or one planted to redirect the write) is unlinked first (unlink
 * removes the link itself, never its target), then O_CREAT|O_EXCL|O_NOFOLLOW makes sure
 * the file opened is the one just created. `readBack`: also open it for reading (a download
 * hashes what it wrote by reading it back).
 */
export async function createExclusive(
  path: string,
  mode: number,
  readBack = false,
): Promise<FileHandle> {
  try {
    await unlink(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EISDIR" || code === "EPERM") {
      throw new UnsafePathError(`${path} exists and is a directory; remove it`);
    }
    if (code !== "ENOENT") throw err;
  }
  const access = readBack ? constants.O_RDWR : constants.O_WRONLY;
  const flags = access | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  return open(path, flags, mode);
}

/** Open an existing file for reading without following a symlink at its last segment. */
export async function openNoFollow(path: string): Promise<FileHandle> {
  return open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
}

/** What a local file-system error means, in words a user can act on (no raw errno codes). */
export function describeFsError(err: unknown, path: string): string | undefined {
  switch ((err as NodeJS.ErrnoException).code) {
    case "ENAMETOOLONG":
      return `${path}: the name is too long for the file system (at most ${NAME_MAX} bytes a segment, ${PATH_MAX - 1} in all)`;
    case "EISDIR":
      return `${path} is a directory where a file should go; remove or rename it`;
    case "ENOTDIR":
      return `a parent of ${path} is a file where a directory should go; remove or rename it`;
    case "ELOOP":
      return `${path} is a symlink; refusing to follow it`;
    case "EEXIST":
      return `${path} appeared while it was being created (another writer?); refusing to overwrite it`;
    default:
      return undefined;
  }
}
