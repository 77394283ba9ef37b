/**
 * What the end of a local run says after "Completed": the best validation score and the
 * epoch it came from (when the experiment has checkpoint.best), and how to try the model —
 * a `predict` line on one of the experiment's own validation pictures — and where the
 * curves are. Best effort: a store that cannot be read only loses the score line.
 */
import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { loadManifest } from "../../images/checkpoint-agent/src/manifest-io.ts";
import { createS3Store } from "../../images/checkpoint-agent/src/s3-store.ts";
import { parseS3Uri } from "../../images/checkpoint-agent/src/s3-uri.ts";
import type { Experiment } from "../spec/experiment.ts";
import type { DatasetSource, LocalStore } from "../local/plan.ts";
import { bestMetricOf, formatBestMetric } from "./best-metric.ts";

/** The first validation picture of a local dataset, relative to the working directory. */
async function samplePicture(exp: Experiment, dataset: DatasetSource): Promise<string | undefined> {
  if (dataset.kind !== "local") return undefined;
  try {
    const ann = JSON.parse(
      await readFile(join(dataset.dir, exp.dataset.val.annotations), "utf8"),
    ) as { images?: { file_name?: unknown }[] };
    const first = ann.images?.[0]?.file_name;
    if (typeof first !== "string") return undefined;
    const rel = relative(process.cwd(), join(dataset.dir, exp.dataset.val.images, first));
    return rel.startsWith("..") ? join(dataset.dir, exp.dataset.val.images, first) : rel;
  } catch {
    return undefined;
  }
}

export async function nextSteps(o: {
  experiment: Experiment;
  dataset: DatasetSource;
  store: LocalStore;
  checkpointUri: string;
  stateDir: string;
}): Promise<string[]> {
  const lines: string[] = [];
  try {
    const loc = parseS3Uri(o.checkpointUri);
    const store = createS3Store({
      bucket: loc.bucket,
      config: {
        endpoint: o.store.endpoint,
        region: o.store.region,
        forcePathStyle: true,
        maxAttempts: 1,
        maxBackoffMs: 100,
      },
      ...(o.store.credentials === undefined ? {} : { credentials: o.store.credentials }),
      maxSockets: 2,
      log: () => {},
    });
    const manifest = await loadManifest(store, loc.prefix);
    const best =
      manifest === undefined ? undefined : await bestMetricOf(store, loc.prefix, manifest);
    if (best !== undefined) lines.push(`  best ${formatBestMetric(best)}`);
  } catch {
    // The score line is a nicety; the run itself succeeded.
  }
  const name = o.experiment.name;
  const state = o.stateDir === ".yunshi" ? "" : ` --state-dir ${o.stateDir}`;
  const picture = (await samplePicture(o.experiment, o.dataset)) ?? "<pictures or a folder>";
  lines.push(`  try it: npm run yunshi -- predict ${name} ${picture}${state}`);
  lines.push(`  curves: npm run yunshi -- tensorboard ${name}${state}`);
  lines.push(`  deploy: npm run yunshi -- export ${name} --format onnx${state}`);
  return lines;
}
