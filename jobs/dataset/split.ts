/**
 * Train/val split that does not reshuffle: each picture's side is decided by a hash of
 * (seed, its relative path) alone, thresholded at the val fraction. Adding pictures cannot
 * move an old one to the other side, and the same folder always splits the same way on
 * every machine. (A shuffled list would move many old pictures whenever one is added.)
 */
import { createHash } from "node:crypto";

export type Subset = "train" | "val";

/** A number in [0, 1), uniform over paths, fixed by (seed, path). */
export function splitKey(seed: number, path: string): number {
  const digest = createHash("sha256").update(`${seed}\u0000${path}`, "utf8").digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

export function subsetOf(seed: number, path: string, valFraction: number): Subset {
  return splitKey(seed, path) < valFraction ? "val" : "train";
}
