/**
 * MMEngine's `<work_dir>/last_checkpoint`: one line, the absolute path of the newest
 * complete checkpoint. It is written after the .pth, so it is the only reliable signal that
 * a checkpoint is complete (the .pth itself is written in place, non-atomically).
 */
import { open, readFile, rename } from "node:fs/promises";
import { basename, isAbsolute, join, relative, sep } from "node:path";
import { FILE_MODE, syncDir } from "./download.ts";

export const LAST_CHECKPOINT = "last_checkpoint";

export async function readLastCheckpoint(workDir: string): Promise<string | undefined> {
  try {
    const text = (await readFile(join(workDir, LAST_CHECKPOINT), "utf8")).trim();
    return text === "" ? undefined : text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

export interface NamedCheckpoint {
  readonly path: string;
  /** Where it sits relative to the work dir (its base name when outside it). */
  readonly relPath: string;
  readonly file: string;
}

export function resolveNamed(workDir: string, value: string): NamedCheckpoint {
  const path = isAbsolute(value) ? value : join(workDir, value);
  const rel = relative(workDir, path);
  const inside = rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
  return { path, relPath: inside ? rel : basename(path), file: basename(path) };
}

/** Write `last_checkpoint` atomically (temp + rename + dir fsync), after the .pth is in place. */
export async function writeLastCheckpoint(workDir: string, checkpointPath: string): Promise<void> {
  const target = join(workDir, LAST_CHECKPOINT);
  const tmp = `${target}.yunshi-partial`;
  const fh = await open(tmp, "w", FILE_MODE);
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
