/**
 * The dataset manifest: the commit point of `yunshi dataset push`, and what the
 * fetch-dataset init container verifies against. One JSON object at
 * `<dataset prefix>/yunshi-dataset.json` listing every file of the dataset with its size
 * and SHA-256. It is written last, so a dataset whose upload was cut short keeps its
 * previous manifest (or none) and is never fetched half-new.
 */
import { InputError } from "./errors.ts";
import { unsafeRelPathReason } from "./safe-path.ts";

export const DATASET_MANIFEST_KEY = "yunshi-dataset.json";
export const DATASET_MANIFEST_FORMAT = "yunshi-dataset/v1";

export interface DatasetFile {
  /** Relative to the dataset prefix, '/'-separated, exactly the local relative path. */
  readonly path: string;
  readonly size: number;
  /** Lower-case hex. */
  readonly sha256: string;
  /**
   * The object's ETag when it was committed: a later push trusts the manifest's hash only
   * while the object still has this ETag (an object replaced behind its back has another).
   */
  readonly etag?: string;
}

export interface DatasetManifest {
  readonly format: typeof DATASET_MANIFEST_FORMAT;
  readonly createdAt: string;
  readonly totalBytes: number;
  readonly files: readonly DatasetFile[];
}

export function buildDatasetManifest(files: readonly DatasetFile[], now: Date): DatasetManifest {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    format: DATASET_MANIFEST_FORMAT,
    createdAt: now.toISOString(),
    totalBytes: sorted.reduce((n, f) => n + f.size, 0),
    files: sorted,
  };
}

export function serializeDatasetManifest(m: DatasetManifest): Buffer {
  return Buffer.from(`${JSON.stringify(m, null, 1)}\n`, "utf8");
}

/** Parses and checks a manifest read from the bucket (untrusted: every field is checked). */
export function parseDatasetManifest(text: string, where: string): DatasetManifest {
  const bad = (why: string): InputError =>
    new InputError(`${where}: not a valid dataset manifest (${why}); push the dataset again`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw bad(err instanceof Error ? err.message : String(err));
  }
  const m = raw as Partial<Record<keyof DatasetManifest, unknown>>;
  if (typeof raw !== "object" || raw === null || m.format !== DATASET_MANIFEST_FORMAT)
    throw bad(`format is not ${DATASET_MANIFEST_FORMAT}`);
  if (!Array.isArray(m.files)) throw bad("no files list");
  const files: DatasetFile[] = [];
  const seen = new Set<string>();
  for (const f of m.files as Partial<Record<keyof DatasetFile, unknown>>[]) {
    const { path, size, sha256, etag } = f;
    // The agent's one rule for names from the bucket (safe-path.ts); fetch joins them safely too.
    const unsafe = typeof path === "string" ? unsafeRelPathReason(path) : "it is missing";
    if (typeof path !== "string" || unsafe !== undefined)
      throw bad(`unsafe path ${JSON.stringify(path)}: ${unsafe ?? ""}`);
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0)
      throw bad(`bad size for ${path}`);
    if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256))
      throw bad(`bad sha256 for ${path}`);
    if (seen.has(path)) throw bad(`${path} is listed twice`);
    seen.add(path);
    files.push({ path, size, sha256, ...(typeof etag === "string" ? { etag } : {}) });
  }
  return {
    format: DATASET_MANIFEST_FORMAT,
    createdAt: typeof m.createdAt === "string" ? m.createdAt : "",
    totalBytes: files.reduce((n, f) => n + f.size, 0),
    files,
  };
}
