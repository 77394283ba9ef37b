/**
 * fetch against a dataset manifest (dataset-manifest.ts): when the prefix holds one, only
 * the files it lists are fetched, each must exist with the listed size, and each download
 * must hash to the listed SHA-256 before it is renamed into place. A mismatch is fetched
 * once more (a transfer fault), then refused as bad input: a corrupted or half-pushed
 * object will not heal by restarting the pod; pushing the dataset again fixes it.
 */
import {
  DATASET_MANIFEST_KEY,
  parseDatasetManifest,
  type DatasetManifest,
} from "./dataset-manifest.ts";
import { InputError, VerificationError } from "./errors.ts";
import type { ObjectInfo, ObjectStore } from "./object-store.ts";
import type { LogFn } from "./progress.ts";
import { asPrefix, type S3Location } from "./s3-uri.ts";

export interface FetchItem {
  readonly info: ObjectInfo;
  readonly rel: string;
}

export interface DatasetExpectations {
  readonly manifest: DatasetManifest | undefined;
  /** The objects to fetch: all of them without a manifest, else those it lists. */
  readonly items: FetchItem[];
  /** The SHA-256 a fetched file must have, when a manifest lists it. */
  readonly sha256Of: (rel: string) => string | undefined;
}

export async function datasetExpectations(
  store: ObjectStore,
  location: S3Location,
  items: FetchItem[],
  log: LogFn,
): Promise<DatasetExpectations> {
  const key = `${asPrefix(location).prefix}${DATASET_MANIFEST_KEY}`;
  // A single object (s3:// weights) has no manifest; a prefix may.
  const text =
    !location.exact && items.some((i) => i.info.key === key) ? await store.getText(key) : undefined;
  if (text === undefined) return { manifest: undefined, items, sha256Of: () => undefined };
  const uri = `s3://${store.bucket}/${key}`;
  const manifest = parseDatasetManifest(text, uri);
  const listed = new Map(items.map((i) => [i.rel, i]));
  const chosen: FetchItem[] = [];
  const wrong: string[] = [];
  for (const f of manifest.files) {
    const item = listed.get(f.path);
    if (item === undefined) wrong.push(`${f.path} is missing`);
    else if (item.info.size !== f.size)
      wrong.push(`${f.path} is ${item.info.size} bytes, the manifest says ${f.size}`);
    else chosen.push(item);
  }
  if (wrong.length > 0)
    throw new InputError(
      `the dataset does not match its manifest ${uri}: ${wrong.slice(0, 5).join("; ")}${wrong.length > 5 ? `; and ${wrong.length - 5} more` : ""}; push the dataset again (yunshi dataset push)`,
    );
  const extra = items.length - chosen.length - 1;
  log(
    `verifying against the dataset manifest (${manifest.files.length} files, sha256)${extra > 0 ? `; ${extra} other object(s) under the prefix are not part of it and are not fetched` : ""}`,
  );
  const sha = new Map(manifest.files.map((f) => [f.path, f.sha256]));
  return { manifest, items: chosen, sha256Of: (rel) => sha.get(rel) };
}

/** Runs `download` (which checks the SHA-256); one more try on a mismatch, then InputError. */
export async function downloadVerified<T>(
  rel: string,
  expected: string | undefined,
  download: () => Promise<T>,
  log: LogFn,
): Promise<T> {
  try {
    return await download();
  } catch (err) {
    if (expected === undefined || !(err instanceof VerificationError)) throw err;
    log(`${err.message}; fetching ${rel} once more`);
  }
  try {
    return await download();
  } catch (err) {
    if (!(err instanceof VerificationError)) throw err;
    throw new InputError(
      `${err.message}: the object in the bucket is not what the dataset manifest lists (corrupted or changed after the push); push the dataset again (yunshi dataset push)`,
    );
  }
}
