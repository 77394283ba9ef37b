/**
 * The checkpoint to use after training: the experiment's best committed checkpoint
 * (save_best), else its latest, as the manifest `checkpoints/LATEST.json` names them —
 * the commit point, so a checkpoint still uploading is never used. Downloaded once into a
 * local cache (`.yunshi/models/<bucket>/<prefix>/`) and verified against the manifest's
 * SHA-256; a cached copy that still matches is reused.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { downloadToFile } from "../../images/checkpoint-agent/src/download.ts";
import type { ManifestEntry } from "../../images/checkpoint-agent/src/manifest.ts";
import { loadManifest } from "../../images/checkpoint-agent/src/manifest-io.ts";
import { defaultTransfer } from "../../images/checkpoint-agent/src/transfer-options.ts";
import { UsageError } from "../errors.ts";
import type { ExperimentStore } from "./experiment-store.ts";

export interface FetchedCheckpoint {
  /** Local path of the verified file. */
  readonly path: string;
  readonly file: string;
  readonly uri: string;
  /** Which committed checkpoint this is. */
  readonly kind: "best" | "latest" | "named";
  readonly epoch?: number;
  readonly iter?: number;
  /** True when the cached copy was used. */
  readonly cached: boolean;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The manifest's best entry, else its latest; a UsageError when nothing is committed. */
export async function chosenEntry(
  s: ExperimentStore,
): Promise<{ entry: ManifestEntry; kind: "best" | "latest" }> {
  const manifest = await loadManifest(s.store, s.prefix);
  if (manifest?.best) return { entry: manifest.best, kind: "best" };
  if (manifest?.latest) return { entry: manifest.latest, kind: "latest" };
  throw new UsageError(
    `no committed checkpoint for ${s.name} in ${s.uri} (${s.where}): ${manifest === undefined ? "there is no checkpoints/LATEST.json" : "the manifest lists none yet"}. ` +
      `Train it (or let the run reach its first checkpoint), then try again; \`yunshi status ${s.name}\` shows its progress`,
  );
}

export async function fetchCheckpoint(
  s: ExperimentStore,
  stateDir: string,
  log: (line: string) => void,
): Promise<FetchedCheckpoint> {
  const cacheRoot = join(resolve(stateDir), "models");
  const bucket = s.store.bucket;
  if (s.object !== undefined) {
    const info = await s.store.head(s.object);
    if (info === undefined) throw new UsageError(`${s.uri}: no such object`);
    const file = s.object.split("/").at(-1) ?? s.object;
    const dest = join(cacheRoot, bucket, s.object);
    await mkdir(cacheRoot, { recursive: true });
    await downloadToFile(s.store, {
      key: s.object,
      size: info.size,
      root: cacheRoot,
      dest,
      label: file,
      transfer: defaultTransfer,
      log,
    });
    return { path: dest, file, uri: s.uri, kind: "named", cached: false };
  }

  const { entry, kind } = await chosenEntry(s);
  const key = `${s.prefix}${entry.key}`;
  const dest = join(cacheRoot, bucket, key);
  const found = {
    path: dest,
    file: entry.file,
    uri: `s3://${bucket}/${key}`,
    kind,
    ...(entry.epoch === undefined ? {} : { epoch: entry.epoch }),
    ...(entry.iter === undefined ? {} : { iter: entry.iter }),
  };
  if (existsSync(dest) && (await sha256Of(dest)) === entry.sha256)
    return { ...found, cached: true };
  await mkdir(cacheRoot, { recursive: true });
  await downloadToFile(s.store, {
    key,
    size: entry.bytes,
    root: cacheRoot,
    dest,
    label: entry.file,
    transfer: defaultTransfer,
    log,
    sha256: entry.sha256,
  });
  return { ...found, cached: false };
}
