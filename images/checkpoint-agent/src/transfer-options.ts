import { InputError } from "./errors.ts";
import { MiB } from "./progress.ts";

/** Part size and parallelism for multipart uploads and ranged downloads. */
export interface TransferOptions {
  readonly partSize: number;
  readonly concurrency: number;
}

// 16 MiB parts × 8 in flight ≈ 128 MiB of upload buffers: near line rate on a 10–25 Gb/s
// node without crowding the trainer's memory (downloads hold no parts: download.ts). S3
// allows at most 10,000 parts.
export const defaultTransfer: TransferOptions = { partSize: 16 * MiB, concurrency: 8 };
const MIN_PART = 5 * MiB;
const MAX_PARTS = 10_000;

/** Grow the part size when a file would need more than S3's 10,000 parts. */
export function partSizeFor(size: number, wanted: number): number {
  const min = Math.ceil(size / MAX_PARTS);
  return Math.max(wanted, min, MIN_PART);
}

export function parsePartSizeMiB(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 5 || n > 5 * 1024) {
    throw new InputError(
      `--part-size-mib: ${JSON.stringify(value)} must be an integer 5–5120 (S3 part limits)`,
    );
  }
  return n * MiB;
}

export function parseConcurrency(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new InputError(`--concurrency: ${JSON.stringify(value)} must be an integer 1–64`);
  }
  return n;
}
