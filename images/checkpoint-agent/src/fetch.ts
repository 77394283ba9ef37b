/**
 * `fetch`: copy every object under a prefix (or one object) into a local directory, e.g.
 * the dataset and s3:// pretrained weights in an init container. Files already fetched
 * with the same size and ETag (recorded in DEST/.yunshi-fetch.json) are skipped, which
 * makes a restarted pod's init container nearly free.
 */
import { lstat, mkdir, rename } from "node:fs/promises";
import { join, posix } from "node:path";
import { datasetExpectations, downloadVerified } from "./dataset-verify.ts";
import { downloadToFile, FILE_MODE } from "./download.ts";
import { InputError } from "./errors.ts";
import { Limiter, mapLimit } from "./limiter.ts";
import type { ObjectInfo, ObjectStore } from "./object-store.ts";
import { formatBytes, rateMBps, type LogFn } from "./progress.ts";
import { asPrefix, type S3Location } from "./s3-uri.ts";
import { createExclusive, openNoFollow, safeJoin, UnsafePathError } from "./safe-path.ts";
import type { TransferOptions } from "./transfer-options.ts";

export const FETCH_STATE = ".yunshi-fetch.json";

export interface FetchOptions {
  readonly store: ObjectStore;
  readonly location: S3Location;
  readonly dest: string;
  readonly transfer: TransferOptions;
  readonly log: LogFn;
}

export interface FetchReport {
  readonly files: number;
  readonly bytes: number;
  readonly skipped: number;
  readonly seconds: number;
}

type FetchState = Record<string, { size: number; etag: string; mtimeMs: number }>;

async function loadState(dest: string): Promise<FetchState> {
  try {
    const fh = await openNoFollow(join(dest, FETCH_STATE));
    try {
      const raw = JSON.parse(await fh.readFile("utf8")) as unknown;
      // Null prototype: a planted "__proto__" key stays a plain key.
      return typeof raw === "object" && raw !== null
        ? (Object.assign(Object.create(null), raw) as FetchState)
        : {};
    } finally {
      await fh.close();
    }
  } catch {
    return {};
  }
}

async function saveState(dest: string, state: FetchState): Promise<void> {
  const tmp = join(dest, `${FETCH_STATE}.yunshi-partial`);
  const fh = await createExclusive(tmp, FILE_MODE);
  try {
    await fh.writeFile(JSON.stringify(state, null, 1));
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dest, FETCH_STATE));
}

/** Which objects to copy, and where under dest each goes. */
async function plan(
  store: ObjectStore,
  loc: S3Location,
): Promise<{ info: ObjectInfo; rel: string }[]> {
  if (loc.exact) {
    const one = await store.head(loc.prefix);
    if (one !== undefined) return [{ info: one, rel: posix.basename(loc.prefix) }];
  }
  const p = asPrefix(loc).prefix;
  return (await store.list(p))
    .filter((o) => !o.key.endsWith("/"))
    .map((o) => ({ info: o, rel: o.key.slice(p.length) }));
}

export async function runFetch(o: FetchOptions): Promise<FetchReport> {
  const { store, log } = o;
  const started = performance.now();
  await store.checkBucket();
  const uri = `s3://${store.bucket}/${o.location.prefix}`;
  const listed = await plan(store, o.location);
  if (listed.length === 0) {
    throw new InputError(
      `--uri: nothing found at ${uri} (no such object and no objects under that prefix)`,
    );
  }
  // A dataset pushed by `yunshi dataset push` is fetched and verified against its manifest.
  const { items, sha256Of } = await datasetExpectations(store, o.location, listed, log);
  const targets = new Map<string, string>();
  for (const { rel, info } of items) {
    // A key such as "a/../../etc/x" must not write outside DEST (safe-path.ts).
    try {
      targets.set(rel, safeJoin(o.dest, rel, "object path"));
    } catch (err) {
      if (!(err instanceof UnsafePathError)) throw err;
      throw new InputError(
        `object ${JSON.stringify(info.key)} under ${uri}: ${err.message}; rename the object`,
      );
    }
  }
  const total = items.reduce((n, i) => n + i.info.size, 0);
  log(`fetching ${items.length} object(s), ${formatBytes(total)} from ${uri} to ${o.dest}`);
  await mkdir(o.dest, { recursive: true });
  const state = await loadState(o.dest);
  const limiter = new Limiter(o.transfer.concurrency);
  let bytes = 0;
  let skipped = 0;
  let files = 0;
  let lastReport = performance.now();
  try {
    await mapLimit(
      items,
      Math.max(1, Math.min(4, o.transfer.concurrency)),
      async ({ info, rel }) => {
        const dest = targets.get(rel) ?? safeJoin(o.dest, rel, "object path");
        const known = state[rel];
        if (
          known !== undefined &&
          info.etag !== undefined &&
          known.etag === info.etag &&
          known.size === info.size
        ) {
          const st = await lstat(dest).catch(() => undefined);
          if (st?.isFile() === true && st.size === info.size && st.mtimeMs === known.mtimeMs) {
            skipped++;
            return;
          }
        }
        const sha256 = sha256Of(rel);
        const download = (): Promise<unknown> =>
          downloadToFile(store, {
            key: info.key,
            size: info.size,
            root: o.dest,
            dest,
            label: rel,
            transfer: o.transfer,
            ...(sha256 === undefined ? {} : { sha256 }),
            // Per-file lines only for big files; the summary below covers the rest.
            log: info.size >= 64 * 1024 * 1024 ? log : () => undefined,
            limiter,
          });
        await downloadVerified(rel, sha256, download, log).catch((err: unknown) => {
          // A symlink or a directory in the way, a name too long: the destination, not the
          // network, is the problem, and a retry would meet it again.
          if (err instanceof UnsafePathError) {
            throw new InputError(
              `--dest: cannot place object ${JSON.stringify(info.key)}: ${err.message}`,
            );
          }
          throw err;
        });
        const st = await lstat(dest);
        if (info.etag !== undefined)
          state[rel] = { size: info.size, etag: info.etag, mtimeMs: st.mtimeMs };
        files++;
        bytes += info.size;
        if (performance.now() - lastReport > 2000) {
          lastReport = performance.now();
          const s = (lastReport - started) / 1000;
          log(
            `fetched ${files + skipped}/${items.length} files, ${formatBytes(bytes)}, ${rateMBps(bytes, s).toFixed(1)} MB/s, ${s.toFixed(1)} s`,
          );
        }
      },
    );
  } finally {
    await saveState(o.dest, state);
  }
  const seconds = (performance.now() - started) / 1000;
  log(
    `fetched ${files} file(s), ${formatBytes(bytes)} in ${seconds.toFixed(1)} s (${rateMBps(bytes, seconds).toFixed(1)} MB/s); ${skipped} already present`,
  );
  return { files, bytes, skipped, seconds };
}
