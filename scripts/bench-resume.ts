/**
 * Time to the first iteration after a restart (issue 15), broken into stages, through the
 * real local run path (`submit --local`: embedded store, restore agent, launcher, train
 * entry, MMDetection on this machine):
 *
 *   start → restore started → restore done → Python imports → model built
 *         → checkpoint loaded → first iteration
 *
 * For each model: a first run until a checkpoint is committed to the store, a kill -9 (a
 * lost machine), then `--restarts` measured reruns, each killed after its first iteration.
 * The trainer stages come from scripts/resume/yunshi_stage_probe.py, loaded into the real
 * run through the config (custom_imports + custom_hooks via the spec's cfgOptions): each
 * prints the wall-clock time it was reached. The rest comes from the run's own output.
 *
 * Models:
 *   quickstart  examples/quickstart.yaml (slim ResNet-18, ~1 M parameters, a few MB)
 *   r50         the same spec without the slimming: Faster R-CNN R50-FPN at full size,
 *               random init (no download), checkpoint with SGD momentum ≈ 330 MB
 *
 * Layouts (`--layout`), alternated restart by restart on the same checkpoint:
 *   sidecar  the pod's layout: prepare (restore) runs beside the trainer, which imports and
 *            builds the model meanwhile and waits for the verdict before training (after)
 *   init     prepare first, then the trainer, as init containers ran it (before)
 *
 * `--store-mbps N` puts the store behind a proxy that paces downloads to N MB/s (the network
 * between a pod and S3); without it restore runs at loopback speed, bound by the CPU that it
 * shares with Python's imports on this machine.
 *
 *   npm run bench:resume -- [--models quickstart,r50] [--restarts 2] [--layout both|sidecar|init]
 *                           [--store-mbps N]
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml, stringify } from "yaml";
import { freePort } from "../jobs/local/machine.ts";
import { PREPARE_BEFORE_TRAINER_ENV } from "../jobs/local/run-local.ts";
import { startBenchS3 } from "./bench-s3rver.ts";
import { startThrottleProxy } from "./resume/throttle-proxy.ts";
import { killRun, startLocalRun, whyNoVenv, type LocalRun } from "../test/local/harness.ts";

const { values } = parseArgs({
  options: {
    models: { type: "string", default: "quickstart,r50" },
    restarts: { type: "string", default: "2" },
    layout: { type: "string", default: "both" },
    "store-mbps": { type: "string", default: "" },
  },
});
const restarts = Number(values.restarts);
type Layout = "sidecar" | "init";
const layouts = (values.layout === "both" ? ["init", "sidecar"] : [values.layout]) as Layout[];
if (!layouts.every((l) => l === "sidecar" || l === "init"))
  throw new Error(`--layout ${values.layout}: sidecar, init or both`);
const why = whyNoVenv();
if (why !== undefined) {
  process.stderr.write(`bench:resume needs the trainer's .venv: ${why}\n`);
  process.exit(2);
}

const REPO = resolve(import.meta.dirname, "..");
const PROBE_DIR = join(REPO, "scripts", "resume");
const STAGES = ["imports", "model-built", "checkpoint-loaded", "first-iteration"] as const;

/** Keys of the quickstart's cfgOptions that slim the model; r50 drops them. */
const SLIMMING = /^model\.(backbone\.(depth|base_channels)|neck\.|rpn_head\.|roi_head\.)/;

type Spec = Record<string, unknown> & {
  name: string;
  dataset: { uri: string };
  train: { cfgOptions?: Record<string, unknown> };
  checkpoint: { every: Record<string, number> };
};

async function specFor(model: string, dir: string): Promise<string> {
  const base = parseYaml(await readFile(join(REPO, "examples", "quickstart.yaml"), "utf8")) as Spec;
  base.dataset.uri = join(REPO, "examples", "data", "quickstart") + "/";
  const options = { ...(base.train.cfgOptions ?? {}) };
  if (model === "r50") {
    base.name = "resume-r50";
    for (const k of Object.keys(options)) if (SLIMMING.test(k)) delete options[k];
    // No pretrained download here; the checkpoint at iteration 1 is the full-size one.
    options["model.backbone.init_cfg"] = null;
    base.checkpoint.every = { iters: 1 };
  } else if (model === "quickstart") {
    base.name = "resume-quickstart";
  } else throw new Error(`--models: unknown model ${model} (quickstart, r50)`);
  // The stage probe, loaded by the config like any custom hook.
  options.custom_imports = { imports: ["yunshi_stage_probe"], allow_failed_imports: false };
  options.custom_hooks = [{ type: "YunshiStageProbeHook" }];
  base.train.cfgOptions = options;
  const file = join(dir, `${base.name}.yaml`);
  await writeFile(file, stringify(base));
  return file;
}

/** A harness time (performance.now() of this process) as Unix seconds. */
const epochOf = (at: number): number => (performance.timeOrigin + at) / 1000;

interface Breakdown {
  /** Seconds since the command started, per stage. */
  readonly at: Record<string, number>;
}

async function measuredRestart(run: LocalRun): Promise<Breakdown> {
  await run.waitFor(/yunshi-stage: first-iteration/, 1_800_000);
  const t0 = epochOf(run.startedAt);
  const lineAt = (re: RegExp): number => {
    const l = run.lines.find((x) => re.test(x.text));
    if (l === undefined) throw new Error(`no line ${re} in the run's output:\n${run.text()}`);
    return epochOf(l.at) - t0;
  };
  const at: Record<string, number> = {
    "restore started": lineAt(/▸ Preparing/),
    "restore done": lineAt(/^ {2}restored \S+ from /),
  };
  for (const stage of STAGES) {
    const l = run.lines.find((x) => x.text.includes(`yunshi-stage: ${stage} `));
    const m = /yunshi-stage: \S+ ([\d.]+)/.exec(l?.text ?? "");
    if (m === null) throw new Error(`no stage ${stage} in the run's output:\n${run.text()}`);
    at[stage] = Number(m[1]) - t0;
  }
  return { at };
}

const base = await mkdtemp(join(tmpdir(), "yunshi-resume-"));
const storeMbps = values["store-mbps"] === "" ? undefined : Number(values["store-mbps"]);
if (storeMbps !== undefined && !(storeMbps > 0))
  throw new Error(`--store-mbps ${values["store-mbps"]}: a number of MB/s above 0`);
const BUCKET = "yunshi-local";
const s3 = storeMbps === undefined ? undefined : await startBenchS3(base, BUCKET);
const proxy =
  s3 === undefined || storeMbps === undefined
    ? undefined
    : await startThrottleProxy(s3.endpoint, storeMbps);
const env: Record<string, string> = {
  PYTHONPATH: [PROBE_DIR, process.env.PYTHONPATH].filter(Boolean).join(":"),
  // The paced store is the user's own endpoint to the CLI: credentials from the environment.
  ...(proxy === undefined
    ? {}
    : {
        AWS_ACCESS_KEY_ID: "S3RVER",
        AWS_SECRET_ACCESS_KEY: "S3RVER",
        AWS_REGION: "us-east-1",
        AWS_EC2_METADATA_DISABLED: "true",
      }),
};
const report: string[] = [
  `bench:resume: ${cpus().length} CPU(s) (${cpus()[0]?.model ?? "?"}), node ${process.version}, ${new Date().toISOString().slice(0, 10)}, store ${storeMbps === undefined ? "on loopback (unpaced)" : `paced to ${storeMbps} MB/s`}`,
];
try {
  for (const model of values.models.split(",")) {
    const spec = await specFor(model, base);
    const name = model === "r50" ? "resume-r50" : "resume-quickstart";
    const stateDir = join(base, `state-${model}`);
    const store =
      proxy === undefined
        ? ["--s3-port", String(await freePort())]
        : ["--s3-endpoint", proxy.endpoint, "--bucket", BUCKET];
    const args = [spec, "--state-dir", stateDir, ...store, "-v"];
    process.stderr.write(`${model}: first run until a checkpoint is committed...\n`);
    const first = startLocalRun(args, { env });
    const committed = await first.waitFor(/committed to the store \(([\d.]+) MB\)/, 1_800_000);
    const checkpointMB = Number(/\(([\d.]+) MB\)/.exec(committed.text)?.[1] ?? NaN);
    await killRun(first, stateDir, name);
    const byLayout = new Map<Layout, Breakdown[]>(layouts.map((l) => [l, []]));
    for (let i = 0; i < restarts; i++) {
      for (const layout of layouts) {
        process.stderr.write(`${model}: restart ${i + 1} of ${restarts} (${layout})...\n`);
        // A replacement pod starts with an empty work dir (emptyDir): restore downloads the
        // checkpoint. A local run keeps its work dir, where restore would only verify it.
        await rm(join(stateDir, "runs", name, "work"), { recursive: true, force: true });
        const run = startLocalRun(args, {
          env: { ...env, [PREPARE_BEFORE_TRAINER_ENV]: layout === "init" ? "1" : "" },
          cli: "bundle",
        });
        byLayout.get(layout)?.push(await measuredRestart(run));
        await killRun(run, stateDir, name);
      }
    }
    for (const [layout, rows] of byLayout) {
      const keys = Object.keys(rows[0]?.at ?? {});
      const median = (xs: number[]): number => {
        const v = [...xs].sort((a, b) => a - b);
        const m = Math.floor(v.length / 2);
        return v.length % 2 ? (v[m] ?? NaN) : ((v[m - 1] ?? 0) + (v[m] ?? 0)) / 2;
      };
      const at = Object.fromEntries(keys.map((k) => [k, median(rows.map((r) => r.at[k] ?? NaN))]));
      report.push(
        "",
        `${model}, ${layout === "init" ? "restore before the trainer starts, as init containers (before)" : "restore beside the trainer's start, prepare sidecar (after)"}: checkpoint ${checkpointMB} MB, median of ${rows.length} restart(s), load average ${loadavg()
          .map((x) => x.toFixed(1))
          .join(" / ")}`,
        "",
        "| stage | reached at | after the stage above |",
        "| --- | --- | --- |",
      );
      // In time order: with the sidecar, restore finishes while Python imports.
      keys.sort((a, b) => (at[a] ?? NaN) - (at[b] ?? NaN));
      let prev = 0;
      const labels: Record<string, string> = {
        "restore started": "CLI start, embedded store, plan → prepare started",
        "restore done": "restore done (agent start, download, verify, place)",
        imports: "Python imports (torch, MMEngine, MMDetection)",
        "model-built": "config, Runner, model and loops built",
        "checkpoint-loaded": "checkpoint loaded (weights, optimizer, iteration)",
        "first-iteration": "first training iteration",
      };
      for (const k of keys) {
        const v = at[k] ?? NaN;
        report.push(`| ${labels[k] ?? k} | ${v.toFixed(1)} s | ${(v - prev).toFixed(1)} s |`);
        prev = v;
      }
      report.push(
        `per restart, first iteration at: ${rows.map((r) => `${(r.at["first-iteration"] ?? NaN).toFixed(1)} s`).join(", ")}`,
      );
    }
  }
} finally {
  await proxy?.close();
  s3?.stop();
  await rm(base, { recursive: true, force: true });
}
process.stdout.write(`${report.join("\n")}\n`);
