/**
 * The best validation score so far and the epoch it came from, for `yunshi status`.
 *
 * The manifest (`checkpoints/LATEST.json`) names the save_best checkpoint, e.g.
 * `best_coco_bbox_mAP_50_iter_144.pth`: the metric (with "/" written as "_") and the step
 * of the checkpoint. The score itself is in MMEngine's `vis_data/scalars.json` (one JSON
 * object a line; validation lines carry the metrics and `step` = the epoch), which the
 * snapshot sidecar syncs to `logs/`. The best line is the one save_best chose: the highest
 * value (the lowest for a `less` metric such as a loss).
 */
import type { Manifest } from "../../images/checkpoint-agent/src/manifest.ts";
import { loadManifest } from "../../images/checkpoint-agent/src/manifest-io.ts";
import type { ObjectStore } from "../../images/checkpoint-agent/src/object-store.ts";
import { readRunStore, type ManifestOptions } from "../cluster/checkpoint-manifest.ts";

export interface BestMetric {
  /** e.g. coco/bbox_mAP_50 */
  readonly metric: string;
  readonly value: number;
  /** Validation step: the epoch for epoch-based training. */
  readonly epoch: number;
  /** The save_best checkpoint the manifest names. */
  readonly file: string;
}

/** `best_coco_bbox_mAP_50_iter_144.pth` → `coco_bbox_mAP_50` (the metric with "/" as "_"). */
export function bestFileMetric(file: string): string | undefined {
  return /^best_(.+)_(?:epoch|iter)_\d+\.pth$/.exec(file)?.[1];
}

/** The best validation line of scalars.json text(s) for the metric the best file names. */
export function bestFromScalars(
  file: string,
  scalarsTexts: readonly string[],
): BestMetric | undefined {
  const flat = bestFileMetric(file);
  if (flat === undefined) return undefined;
  const lowerIsBetter = /loss/i.test(flat);
  let best: BestMetric | undefined;
  for (const text of scalarsTexts)
    for (const line of text.split("\n")) {
      if (!line.startsWith("{")) continue;
      let row: Record<string, unknown>;
      try {
        row = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue; // a line still being written
      }
      const step = row.step;
      if (typeof step !== "number") continue;
      for (const [key, value] of Object.entries(row)) {
        if (!key.includes("/") || key.split("/").join("_") !== flat || typeof value !== "number")
          continue;
        const better =
          best === undefined || (lowerIsBetter ? value < best.value : value > best.value);
        if (better) best = { metric: key, value, epoch: step, file };
      }
    }
  return best;
}

/** Reads the manifest's best entry and the synced scalars.json files. */
export async function bestMetricOf(
  store: ObjectStore,
  prefix: string,
  manifest: Manifest,
): Promise<BestMetric | undefined> {
  if (manifest.best === null) return undefined;
  const objects = (await store.list(`${prefix}logs/`)).filter((o) =>
    o.key.endsWith("/vis_data/scalars.json"),
  );
  const texts = await Promise.all(objects.map(async (o) => (await store.getText(o.key)) ?? ""));
  return bestFromScalars(manifest.best.file, texts);
}

export function formatBestMetric(b: BestMetric): string {
  return `${b.metric} ${b.value.toFixed(4)} at epoch ${b.epoch} (${b.file})`;
}

/**
 * For `yunshi status <name>`: the best metric of the experiment at `uri`, read like the
 * last checkpoint is (jobs/cluster/checkpoint-manifest.ts): only with AWS credentials on
 * this machine, one attempt, a time limit; undefined when it cannot be read.
 */
export async function bestMetricFromUri(
  uri: string,
  opts: ManifestOptions,
): Promise<BestMetric | undefined> {
  return readRunStore(uri, opts, async (store, prefix) => {
    const manifest = await loadManifest(store, prefix);
    return manifest === undefined ? undefined : bestMetricOf(store, prefix, manifest);
  });
}
