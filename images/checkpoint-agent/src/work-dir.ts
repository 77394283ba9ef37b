/** Local file-system checks and listings; no S3 here. */
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { access, lstat, readdir, stat } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { AgentError, InputError } from "./errors.ts";
import { LAST_CHECKPOINT } from "./last-checkpoint.ts";
import { openNoFollow } from "./safe-path.ts";

/**
 * Validate a directory flag before anything is written. `allowMissing`: restore and fetch
 * may fill a directory that does not exist yet (they create it only when they write into
 * it); an existing non-directory or an unreadable / unwritable one is an input error.
 */
export async function checkDir(flag: string, dir: string, allowMissing: boolean): Promise<string> {
  if (dir.trim() === "") throw new InputError(`${flag}: must not be empty`);
  const abs = resolve(dir);
  let st;
  try {
    st = await stat(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") {
      throw new InputError(`${flag}: cannot read ${JSON.stringify(abs)} (${code ?? "error"})`);
    }
    if (!allowMissing) {
      throw new InputError(
        `${flag}: ${JSON.stringify(abs)} does not exist; mount or create the directory first`,
      );
    }
    return abs;
  }
  if (!st.isDirectory()) throw new InputError(`${flag}: ${JSON.stringify(abs)} is not a directory`);
  try {
    await access(abs, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch {
    throw new InputError(
      `${flag}: ${JSON.stringify(abs)} is not readable and writable by uid ${process.getuid?.() ?? "?"}`,
    );
  }
  return abs;
}

/** SHA-256 (hex) and size of a regular file (never through a symlink), one sequential pass. */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  const fh = await openNoFollow(path);
  try {
    if (!(await fh.stat()).isFile()) throw new AgentError(`${path} is not a regular file`);
    for await (const chunk of fh.createReadStream({
      highWaterMark: 4 * 1024 * 1024,
      autoClose: false,
    })) {
      const b = chunk as Buffer;
      h.update(b);
      bytes += b.length;
    }
  } finally {
    await fh.close();
  }
  return { sha256: h.digest("hex"), bytes };
}

export interface LocalFile {
  readonly relPath: string;
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

// Model weights go through the checkpoint protocol (never as logs); agent temp files and
// the fetch state are private.
const NOT_LOGS = /(\.pth|\.pt|\.safetensors|\.yunshi-partial)$|(^|\/)\.yunshi/;

/**
 * Whether a work-dir path is a log the sidecar syncs. Log restore takes back only such
 * paths, so an object planted under `logs/` cannot become a checkpoint or `last_checkpoint`.
 */
export function isLogPath(relPath: string): boolean {
  return relPath !== LAST_CHECKPOINT && !NOT_LOGS.test(relPath);
}

/** Files synced to `logs/`: MMEngine's `<timestamp>/` logs and vis_data, goodput.json, ... */
export async function listLogFiles(workDir: string): Promise<LocalFile[]> {
  const out: LocalFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // removed while walking
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      const rel = relative(workDir, path).split("\\").join("/");
      if (e.isDirectory()) {
        await walk(path);
      } else if (e.isFile() && isLogPath(rel)) {
        try {
          const st = await lstat(path);
          if (!st.isFile()) continue;
          out.push({ relPath: rel, path, size: st.size, mtimeMs: st.mtimeMs });
        } catch {
          // removed while walking
        }
      }
    }
  };
  await walk(workDir);
  return out;
}
