/**
 * `yunshi predict <experiment | checkpoint.pth | s3://…> IMAGES…`: the trained detector on
 * the user's pictures. Finds the experiment's best (else latest) committed checkpoint,
 * downloads and verifies it, then runs images/trainer/yunshi_predict.py in the trainer's
 * Python (MMDetection's init_detector/inference_detector and DetLocalVisualizer, with a
 * CJK font for Chinese class names). Writes one PNG per picture and detections.json (COCO
 * results format) into the output folder, with progress as it goes.
 */
import { existsSync, statSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { ExitCode } from "../io.ts";
import { openExperimentStore, type StoreFlags } from "./experiment-store.ts";
import { fetchCheckpoint } from "./fetch-checkpoint.ts";
import { badInputOf, runTrainerScript, trainerPython, type ScriptEvent } from "./trainer-python.ts";

export const DEVICE_PATTERN = /^(cpu|cuda(:\d+)?)$/;

export interface PredictOptions {
  readonly model: string;
  readonly images: readonly string[];
  readonly outDir?: string | undefined;
  readonly scoreThr: number;
  readonly device: string;
  readonly config?: string | undefined;
  readonly store: StoreFlags;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly io: Io;
}

/** Checks that need no Python and no network; a UsageError names the flag and the fix. */
export function checkPredictInput(o: PredictOptions): void {
  if (!Number.isFinite(o.scoreThr) || o.scoreThr < 0 || o.scoreThr > 1)
    throw new UsageError(
      `--score-thr ${JSON.stringify(o.scoreThr)}: expected a number from 0 to 1, e.g. 0.3`,
    );
  if (!DEVICE_PATTERN.test(o.device))
    throw new UsageError(`--device ${JSON.stringify(o.device)}: use cpu, cuda or cuda:N`);
  if (o.images.length === 0)
    throw new UsageError("no pictures given: name image files or folders after the model");
  for (const p of o.images)
    if (!existsSync(p))
      throw new UsageError(`${p}: no such file or folder (pictures are read from this machine)`);
  if (o.config !== undefined && !existsSync(o.config))
    throw new UsageError(`--config ${o.config}: no such file`);
}

function display(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") || rel === "" ? path : rel;
}

export async function predict(o: PredictOptions): Promise<number> {
  const say = (line: string): void => o.io.out(`${line}\n`);
  checkPredictInput(o);
  const python = trainerPython(o.env);

  let checkpoint: string;
  let name: string;
  const asFile = o.model.endsWith(".pth") && !o.model.startsWith("s3://");
  if (asFile) {
    if (!existsSync(o.model) || !statSync(o.model).isFile())
      throw new UsageError(`${o.model}: no such checkpoint file`);
    checkpoint = resolve(o.model);
    name = basename(o.model, ".pth");
    say(`model: ${display(checkpoint)}`);
  } else {
    const s = await openExperimentStore(o.model, o.env, o.store);
    try {
      const got = await fetchCheckpoint(s, o.store.stateDir, () => {});
      checkpoint = got.path;
      name = s.name;
      const step =
        got.epoch !== undefined
          ? ` (epoch ${got.epoch})`
          : got.iter !== undefined
            ? ` (iter ${got.iter})`
            : "";
      say(
        `model: ${got.kind === "named" ? "" : `${got.kind} committed checkpoint `}${got.uri}${step} from the ${s.where}` +
          `${got.cached ? ", cached" : ", downloaded and verified"} → ${display(got.path)}`,
      );
    } finally {
      await s.close();
    }
  }

  const outDir = resolve(o.outDir ?? join("predictions", name));
  const onEvent = (e: ScriptEvent): void => {
    if (e.event === "model")
      say(
        `classes: ${(e.classes as string[]).join(", ")}; device ${String(e.device)}; labels drawn with ${typeof e.font === "string" ? e.font : "the default font"}`,
      );
    else if (e.event === "warning") o.io.err(`⚠ ${String(e.message)}\n`);
    else if (e.event === "image") {
      const labels = e.labels as string[];
      const counts = new Map<string, number>();
      labels.forEach((l) => counts.set(l, (counts.get(l) ?? 0) + 1));
      const found =
        labels.length === 0
          ? "nothing above the threshold"
          : [...counts].map(([l, n]) => `${n} × ${l}`).join(", ");
      say(`[${String(e.index)}/${String(e.total)}] ${display(String(e.file))}: ${found}`);
    }
  };
  const run = await runTrainerScript({
    python,
    script: "yunshi_predict.py",
    args: [
      "--checkpoint",
      checkpoint,
      ...(o.config === undefined ? [] : ["--config", resolve(o.config)]),
      "--out-dir",
      outDir,
      "--score-thr",
      String(o.scoreThr),
      "--device",
      o.device,
      "--",
      ...o.images.map((p) => resolve(p)),
    ],
    env: o.env,
    onEvent,
  });
  const bad = badInputOf(run);
  if (bad !== undefined) throw new UsageError(bad);
  const done = run.events.find((e) => e.event === "done");
  if (run.code !== 0 || done === undefined) {
    o.io.err(`${run.tail.slice(-15).join("\n")}\n`);
    o.io.err(
      `error: predict failed (the trainer's Python exited with ${run.code ?? run.signal}); its last lines are above\n`,
    );
    return ExitCode.failure;
  }
  say(
    `wrote ${String(done.images)} picture(s) with boxes and labels and detections.json (${String(done.detections)} detection(s), score ≥ ${o.scoreThr}) to ${display(outDir)}/`,
  );
  return ExitCode.ok;
}
