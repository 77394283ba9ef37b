/** MMEngine checkpoint file names (CheckpointHook), parsed without touching the disk. */
import { InputError } from "./errors.ts";

export interface Step {
  readonly unit: "epoch" | "iter";
  readonly n: number;
}

/** `epoch_12.pth` → {epoch, 12}; `best_coco_bbox_mAP_iter_500.pth` → {iter, 500}. */
export function parseStep(file: string): Step | undefined {
  const m = /(?:^|_)(epoch|iter)_(\d+)\.pth$/.exec(file);
  if (!m) return undefined;
  return { unit: m[1] === "epoch" ? "epoch" : "iter", n: Number(m[2]) };
}

/** True when `a` is strictly later than `b` in the same unit. */
export function isAfter(a: Step | undefined, b: Step | undefined): boolean {
  return a !== undefined && b !== undefined && a.unit === b.unit && a.n > b.n;
}

/**
 * `--best coco/bbox_mAP` → the prefix of the file MMEngine's save_best writes:
 * `best_{key.replace('/', '_')}_{epoch|iter}_{N}.pth` (CheckpointHook._save_best_checkpoint).
 */
export function bestFilePrefix(metric: string): string {
  return `best_${metric.split("/").join("_")}_`;
}

export function isBestFile(file: string, metric: string): boolean {
  const prefix = bestFilePrefix(metric);
  return file.startsWith(prefix) && /^(epoch|iter)_\d+\.pth$/.test(file.slice(prefix.length));
}

export function parseBestMetric(value: string): string {
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(value) || value.includes("..")) {
    throw new InputError(
      `--best: ${JSON.stringify(value)} is not a metric name; use the key of save_best, e.g. coco/bbox_mAP`,
    );
  }
  return value;
}

export function parseKeep(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw new InputError(
      `--keep: ${JSON.stringify(value)} must be an integer 1–1000 (committed checkpoints kept)`,
    );
  }
  return n;
}
