/**
 * `fetch`: copy every object under a prefix (or one object) into a local directory, e.g.
 * the dataset and s3:// pretrained weights in an init container. Files already fetched
 * with the same size and ETag (recorded in DEST/.yunshi-fetch.json) are skipped, which
 * makes a restarted pod's init container nearly free.
 */
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { datasetExpectations, downloadVerified } from "./dataset-verify.ts";
import { downloadToFile } from "./download.ts";
import { InputError } from "./errors.ts";
import { Limiter, mapLimit } from "./limiter.ts";
import type { ObjectInfo, ObjectStore } from "./object-store.ts";
import { formatBytes, rateMBps, type LogFn } from "./progress.ts";
import { asPrefix, type S3Location } from "./s3-uri.ts";
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
    const raw = JSON.parse(await readFile(join(dest, FETCH_STATE), "utf8")) as unknown;
    return typeof raw === "object" && raw !== null ? (raw as FetchState) : {};
  } catch {
    return {};
  }
}

async function saveState(dest: string, state: FetchState): Promise<void> {
  const tmp = join(dest, `${FETCH_STATE}.yunshi-partial`);
  await writeFile(tmp, JSON.stringify(state, null, 1));
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
  for (const { rel, info } of items) {
    // A key such as "a/../../etc/x" must not write outside DEST.
    if (rel.split("/").some((s) => s === ".." || s === "." || s === "")) {
      throw new InputError(
        `object ${JSON.stringify(info.key)} has an unsafe path under ${uri}; rename it`,
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
        const dest = join(o.dest, rel);
        const known = state[rel];
        if (
          known !== undefined &&
          info.etag !== undefined &&
          known.etag === info.etag &&
          known.size === info.size
        ) {
          const st = await stat(dest).catch(() => undefined);
          if (st !== undefined && st.size === info.size && st.mtimeMs === known.mtimeMs) {
            skipped++;
            return;
          }
        }
        const sha256 = sha256Of(rel);
        const download = (): Promise<unknown> =>
          downloadToFile(store, {
            key: info.key,
            size: info.size,
            dest,
            label: rel,
            transfer: o.transfer,
            ...(sha256 === undefined ? {} : { sha256 }),
            // Per-file lines only for big files; the summary below covers the rest.
            log: info.size >= 64 * 1024 * 1024 ? log : () => undefined,
            limiter,
          });
        await downloadVerified(rel, sha256, download, log);
        const st = await stat(dest);
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
