/**
 * The manifest `checkpoints/LATEST.json` is the commit point: an uploaded object is part of
 * the run only once a manifest naming it has been written (one PutObject, atomic in S3).
 * `history` lists the committed checkpoints still in the bucket, newest first, so restore
 * can fall back when the newest fails verification. All functions here are pure.
 */
import { z } from "zod";
import { AgentError } from "./errors.ts";

export const ManifestEntrySchema = z.object({
  /** Base name, e.g. epoch_3.pth. */
  file: z.string().min(1),
  /** Object key relative to the URI prefix, e.g. checkpoints/epoch_3.pth. */
  key: z.string().min(1),
  /** Path relative to the work dir where restore places it. */
  relPath: z.string().min(1),
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

export function emptyManifest(now: string): Manifest {
  return { version: 1, latest: null, history: [], best: null, updated: now };
}

export function parseManifest(text: string, where: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new AgentError(
      `${where} is not valid JSON (${(err as Error).message}); inspect or delete it`,
    );
  }
  const r = ManifestSchema.safeParse(raw);
  if (!r.success) {
    throw new AgentError(`${where} is not a yunshi manifest: ${z.prettifyError(r.error)}`);
  }
  return r.data;
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

/** Candidates for restore, newest first. */
export function restoreCandidates(m: Manifest): readonly ManifestEntry[] {
  return m.history;
}
