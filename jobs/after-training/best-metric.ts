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
import { resolveS3Config } from "../../images/checkpoint-agent/src/s3-config.ts";
import { createS3Store } from "../../images/checkpoint-agent/src/s3-store.ts";
import { asPrefix, parseS3Uri } from "../../images/checkpoint-agent/src/s3-uri.ts";
import { awsCredentialsConfigured, type ManifestOptions } from "../cluster/checkpoint-manifest.ts";

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
  if (!awsCredentialsConfigured(opts.env)) return undefined;
  try {
    const loc = asPrefix(parseS3Uri(uri));
    const env = {
      ...opts.env,
      ...(opts.env.AWS_REGION || opts.env.AWS_DEFAULT_REGION || !opts.region
        ? {}
        : { AWS_REGION: opts.region }),
      ...(opts.env.AWS_ENDPOINT_URL_S3 || opts.env.AWS_ENDPOINT_URL || !opts.endpoint
        ? {}
        : { AWS_ENDPOINT_URL_S3: opts.endpoint }),
    };
    const store = createS3Store({
      bucket: loc.bucket,
      config: { ...resolveS3Config(env), maxAttempts: 1 },
      maxSockets: 2,
      log: () => {},
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), opts.timeoutMs ?? 5000);
    });
    const read = async (): Promise<BestMetric | undefined> => {
      const manifest = await loadManifest(store, loc.prefix);
      return manifest === undefined ? undefined : bestMetricOf(store, loc.prefix, manifest);
    };
    return await Promise.race([read(), timeout]).finally(() => clearTimeout(timer));
  } catch {
    return undefined;
  }
}
