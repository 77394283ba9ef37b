/**
 * MMEngine's `<work_dir>/last_checkpoint`: one line, the absolute path of the newest
 * complete checkpoint. It is written after the .pth, so it is the only reliable signal that
 * a checkpoint is complete (the .pth itself is written in place, non-atomically).
 */
import { rename } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { FILE_MODE, syncDir } from "./download.ts";
import { createExclusive, openNoFollow } from "./safe-path.ts";

export const LAST_CHECKPOINT = "last_checkpoint";

/** `last_checkpoint` exists but cannot name a checkpoint (a symlink, or not UTF-8). */
export class BadLastCheckpointError extends Error {
  override readonly name = "BadLastCheckpointError";
}

/**
 * The path `last_checkpoint` names, or undefined when there is none. A symlink in its place
 * is refused (it could make the sidecar read any file), and so are bytes that are not UTF-8.
 */
export async function readLastCheckpoint(workDir: string): Promise<string | undefined> {
  const marker = join(workDir, LAST_CHECKPOINT);
  let bytes: Buffer;
  try {
    const fh = await openNoFollow(marker);
    try {
      bytes = await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP")
      throw new BadLastCheckpointError(`${marker} is a symlink; refusing to follow it`);
    throw err;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes).trim();
  } catch {
    throw new BadLastCheckpointError(`${marker} is not UTF-8 text; it must hold one path`);
  }
  return text === "" ? undefined : text;
}

export interface NamedCheckpoint {
  readonly path: string;
  /** Where it sits relative to the work dir ('/'-separated). */
  readonly relPath: string;
  readonly file: string;
}

/**
 * The checkpoint `last_checkpoint` names, when it lies inside the work dir; undefined when it
 * names a path outside it (only files inside are ever uploaded: SECURITY.md).
 */
export function resolveNamed(workDir: string, value: string): NamedCheckpoint | undefined {
  const path = isAbsolute(value) ? value : join(workDir, value);
  const rel = relative(workDir, path);
  const inside = rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
  if (!inside) return undefined;
  const relPath = rel.split(sep).join("/");
  return { path: join(workDir, rel), relPath, file: relPath.split("/").at(-1) ?? relPath };
}

/** Write `last_checkpoint` atomically (temp + rename + dir fsync), after the .pth is in place. */
export async function writeLastCheckpoint(workDir: string, checkpointPath: string): Promise<void> {
  const target = join(workDir, LAST_CHECKPOINT);
  const tmp = `${target}.yunshi-partial`;
  const fh = await createExclusive(tmp, FILE_MODE);
  try {
    await fh.writeFile(checkpointPath, "utf8");
    await fh.chmod(FILE_MODE);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, target);
  await syncDir(workDir);
}
