/**
 * `push`: upload the regular files of one local directory under an S3 prefix, e.g. a
 * verified ONNX export (jobs/after-training/export-job.ts) to `<experiment>/exports/onnx/`.
 *
 * With `verdict`, nothing is uploaded unless that file in the directory is a JSON object
 * with `"verified": true` (what images/trainer/yunshi_export.py writes once ONNX Runtime
 * agrees with PyTorch); it is uploaded last, so a reader that finds it under the prefix
 * finds the files it vouches for beside it. Only top-level regular files go: symlinks and
 * folders are skipped (named in the log), never followed.
 */
import { constants } from "node:fs";
import { access, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InputError } from "./errors.ts";
import type { ObjectStore } from "./object-store.ts";
import type { LogFn } from "./progress.ts";
import { openNoFollow, unsafeRelPathReason } from "./safe-path.ts";
import type { TransferOptions } from "./transfer-options.ts";
import { uploadFile } from "./upload.ts";

export interface PushOptions {
  readonly store: ObjectStore;
  /** Key prefix ("" or ending with "/"). */
  readonly prefix: string;
  readonly dir: string;
  /** A file in `dir` that must say `"verified": true` before anything is uploaded. */
  readonly verdict?: string | undefined;
  readonly transfer: TransferOptions;
  readonly log: LogFn;
}

export interface PushReport {
  readonly files: number;
  readonly bytes: number;
  readonly keys: readonly string[];
  readonly seconds: number;
}

/**
 * Validate `--dir`: an existing, readable directory. Unlike the work dir of restore and
 * snapshot it need not be writable: the export pod mounts it read-only into the uploader.
 */
export async function checkReadableDir(flag: string, dir: string): Promise<string> {
  if (dir.trim() === "") throw new InputError(`${flag}: must not be empty`);
  const abs = resolve(dir);
  const st = await stat(abs).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      code === "ENOENT"
        ? `${flag}: ${JSON.stringify(abs)} does not exist`
        : `${flag}: cannot read ${JSON.stringify(abs)} (${code ?? "error"})`,
    );
  });
  if (!st.isDirectory()) throw new InputError(`${flag}: ${JSON.stringify(abs)} is not a directory`);
  try {
    await access(abs, constants.R_OK | constants.X_OK);
  } catch {
    throw new InputError(
      `${flag}: ${JSON.stringify(abs)} is not readable by uid ${process.getuid?.() ?? "?"}`,
    );
  }
  return abs;
}

/** Why the verdict file does not allow the upload; undefined when it does. */
async function verdictProblem(path: string): Promise<string | undefined> {
  let text: string;
  try {
    const fh = await openNoFollow(path);
    try {
      if (!(await fh.stat()).isFile()) return "it is not a regular file";
      text = await fh.readFile("utf8");
    } finally {
      await fh.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "ENOENT"
      ? "it does not exist (the export did not finish)"
      : `it cannot be read (${code ?? String(err)})`;
  }
  let verdict: unknown;
  try {
    verdict = JSON.parse(text);
  } catch {
    return "it is not JSON";
  }
  if (typeof verdict !== "object" || verdict === null) return "it is not a JSON object";
  const verified = (verdict as { verified?: unknown }).verified;
  return verified === true ? undefined : `it says "verified": ${JSON.stringify(verified ?? null)}`;
}

export async function runPush(o: PushOptions): Promise<PushReport> {
  const started = performance.now();
  if (o.verdict !== undefined) {
    const reason = unsafeRelPathReason(o.verdict);
    if (reason !== undefined || o.verdict.includes("/"))
      throw new InputError(
        `--verified: ${JSON.stringify(o.verdict)} must be a file name inside --dir (${reason ?? "it has a '/'"})`,
      );
    const problem = await verdictProblem(join(o.dir, o.verdict));
    if (problem !== undefined)
      throw new InputError(
        `--verified ${o.verdict}: ${problem}; refusing to upload an unverified export from ${o.dir}`,
      );
  }
  await o.store.checkBucket();
  const entries = await readdir(o.dir, { withFileTypes: true });
  const files = entries
    .filter((e) => {
      if (e.isFile()) return true;
      o.log(`skipping ${e.name}: not a regular file`);
      return false;
    })
    .map((e) => e.name)
    .sort()
    // The verdict last: it vouches for the files already there.
    .sort((a, b) => Number(a === o.verdict) - Number(b === o.verdict));
  if (files.length === 0) throw new InputError(`--dir: ${o.dir} holds no files to upload`);
  let bytes = 0;
  const keys: string[] = [];
  for (const name of files) {
    const key = `${o.prefix}${name}`;
    const r = await uploadFile(o.store, {
      path: join(o.dir, name),
      key,
      label: name,
      transfer: o.transfer,
      log: o.log,
    });
    bytes += r.bytes;
    keys.push(key);
  }
  const seconds = (performance.now() - started) / 1000;
  o.log(`pushed ${files.length} file(s) to s3://${o.store.bucket}/${o.prefix}`);
  return { files: files.length, bytes, keys, seconds };
}
