/**
 * The manifest `checkpoints/LATEST.json` is the commit point: an uploaded object is part of
 * the run only once a manifest naming it has been written (one PutObject, atomic in S3).
 * `history` lists the committed checkpoints still in the bucket, newest first, so restore
 * can fall back when the newest fails verification. All functions here are pure.
 */
// A namespace import, not `{ z }`: the CLI bundle then keeps only the parts of zod it uses
// (scripts/build-cli.js; `{ z }` kept all 40 locales, half of the bundle).
import * as z from "zod";
import { InputError } from "./errors.ts";
import { CHECKPOINTS_DIR } from "./layout.ts";
import { unsafeRelPathReason } from "./safe-path.ts";

/** A relative, '/'-separated path that cannot leave the directory it is joined to. */
const safeRelative = (what: string) =>
  z.string().superRefine((value, ctx) => {
    const reason = unsafeRelPathReason(value);
    if (reason !== undefined) ctx.addIssue({ code: "custom", message: `${what}: ${reason}` });
  });

export const ManifestEntrySchema = z.object({
  /** Base name, e.g. epoch_3.pth. */
  file: safeRelative("file").refine((f) => !f.includes("/"), "file: must be a base name"),
  /** Object key relative to the URI prefix, e.g. checkpoints/epoch_3.pth. */
  key: safeRelative("key").refine(
    (k) => k.startsWith(CHECKPOINTS_DIR),
    `key: must lie under ${CHECKPOINTS_DIR}`,
  ),
  /** Path relative to the work dir where restore places it. */
  relPath: safeRelative("relPath"),
  /** Absolute path the trainer wrote (what `last_checkpoint` said). */
  path: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  epoch: z.number().int().nonnegative().optional(),
  iter: z.number().int().nonnegative().optional(),
  /** ISO time of the commit. */
  time: z.string(),
});
export type ManifestEntry = z.infer<typeof ManifestEntrySchema>;

export const ManifestSchema = z.object({
  version: z.literal(1),
  /** Newest committed checkpoint (= history[0]); null before the first commit. */
  latest: ManifestEntrySchema.nullable(),
  history: z.array(ManifestEntrySchema),
  /** The save_best checkpoint; never pruned. */
  best: ManifestEntrySchema.nullable(),
  updated: z.string(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

/**
 * The manifest's frame: what must hold for the file to be a manifest at all. Entries are
 * checked one by one afterwards, so that one bad entry (a relPath with '..', a key outside
 * the prefix) is skipped like a checkpoint that fails verification instead of making the
 * whole run unrestorable.
 */
const ManifestFrameSchema = z.object({
  version: z.literal(1),
  latest: z.unknown(),
  history: z.array(z.unknown()),
  best: z.unknown(),
  updated: z.string(),
});

/** The manifest is unreadable as a whole: exit 2, because a retry reads the same bytes. */
export class CorruptManifestError extends InputError {
  override readonly name: string = "CorruptManifestError";
}

/** A history entry that failed the entry schema; restore treats it as failed verification. */
export interface RejectedEntry {
  /** Its position in `history` (newest first). */
  readonly index: number;
  /** The entry's `file` when it is a string, else a placeholder for messages. */
  readonly file: string;
  readonly reason: string;
}

export interface ParsedManifest {
  /** The manifest with only the entries that passed the schema. */
  readonly manifest: Manifest;
  readonly rejected: readonly RejectedEntry[];
  /** History newest first, valid or not: what restore walks through. */
  readonly candidates: readonly ({ entry: ManifestEntry } | { rejected: RejectedEntry })[];
}

export function emptyManifest(now: string): Manifest {
  return { version: 1, latest: null, history: [], best: null, updated: now };
}

const CORRUPT_FIX =
  "inspect it, then put back a good copy or delete it (training then starts without a checkpoint)";

function entryName(raw: unknown, index: number): string {
  const file =
    typeof raw === "object" && raw !== null ? (raw as { file?: unknown }).file : undefined;
  return typeof file === "string" ? file.slice(0, 200) : `history[${index}]`;
}

function issuesOf(error: z.ZodError): string {
  return error.issues.map((i) => i.message).join("; ");
}

/**
 * Parse LATEST.json. A file that is not a manifest at all throws CorruptManifestError; an
 * entry that fails the entry schema is left out of `manifest` and listed in `rejected`.
 */
export function parseManifestChecked(text: string, where: string): ParsedManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CorruptManifestError(
      `${where} is not valid JSON (${(err as Error).message}); ${CORRUPT_FIX}`,
    );
  }
  const frame = ManifestFrameSchema.safeParse(raw);
  if (!frame.success) {
    throw new CorruptManifestError(
      `${where} is not a yunshi manifest: ${z.prettifyError(frame.error)}; ${CORRUPT_FIX}`,
    );
  }
  const f = frame.data;
  const rejected: RejectedEntry[] = [];
  const candidates: ParsedManifest["candidates"][number][] = [];
  const history: ManifestEntry[] = [];
  f.history.forEach((item, index) => {
    const r = ManifestEntrySchema.safeParse(item);
    if (r.success) {
      history.push(r.data);
      candidates.push({ entry: r.data });
    } else {
      const bad = {
        index,
        file: entryName(item, index),
        reason: `unsafe manifest entry (${issuesOf(r.error)})`,
      };
      rejected.push(bad);
      candidates.push({ rejected: bad });
    }
  });
  const single = (v: unknown): ManifestEntry | null => {
    if (v === null || v === undefined) return null;
    const r = ManifestEntrySchema.safeParse(v);
    return r.success ? r.data : null;
  };
  const manifest: Manifest = {
    version: 1,
    latest: history[0] ?? null,
    history,
    best: single(f.best),
    updated: f.updated,
  };
  return { manifest, rejected, candidates };
}

/** Parse LATEST.json, keeping only entries that pass the schema. */
export function parseManifest(text: string, where: string): Manifest {
  return parseManifestChecked(text, where).manifest;
}

export interface CommitResult {
  readonly manifest: Manifest;
  /** Entries dropped from the manifest whose objects may now be deleted. */
  readonly pruned: readonly ManifestEntry[];
}

/** Add a committed checkpoint; keep the newest `keep`, never the best's object. */
export function commitCheckpoint(
  m: Manifest,
  entry: ManifestEntry,
  keep: number,
  now: string,
): CommitResult {
  // Same key uploaded again (e.g. an epoch retrained after a fallback): the object was
  // overwritten, so the older entry no longer describes it.
  const history = [entry, ...m.history.filter((e) => e.key !== entry.key)];
  const kept = history.slice(0, keep);
  const dropped = history.slice(keep);
  const manifest: Manifest = { ...m, latest: entry, history: kept, updated: now };
  return { manifest, pruned: dropped.filter((e) => !keysInUse(manifest).has(e.key)) };
}

/** Replace the best checkpoint; the previous best's object may then be deleted. */
export function commitBest(m: Manifest, entry: ManifestEntry, now: string): CommitResult {
  const manifest: Manifest = { ...m, best: entry, updated: now };
  const old = m.best;
  const pruned = old !== null && !keysInUse(manifest).has(old.key) ? [old] : [];
  return { manifest, pruned };
}

export function keysInUse(m: Manifest): Set<string> {
  const keys = new Set(m.history.map((e) => e.key));
  if (m.best !== null) keys.add(m.best.key);
  return keys;
}

/** Candidates for restore, newest first; rejected entries keep their place. */
export function restoreCandidates(p: ParsedManifest): ParsedManifest["candidates"] {
  return p.candidates;
}
