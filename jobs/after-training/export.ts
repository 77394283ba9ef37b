/**
 * `yunshi export <experiment> --format onnx [-o DIR]`: the experiment's best (else latest)
 * committed checkpoint to ONNX with MMDeploy 1.3.1, verified against PyTorch on sample
 * pictures by images/trainer/yunshi_export.py, then uploaded next to the checkpoints
 * under `<experiment>/exports/onnx/`. An export that fails verification is neither kept
 * as a success nor uploaded.
 */
import { readdir } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { uploadFile } from "../../images/checkpoint-agent/src/upload.ts";
import { defaultTransfer } from "../../images/checkpoint-agent/src/transfer-options.ts";
import { UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { ExitCode } from "../io.ts";
import { openExperimentStore, type StoreFlags } from "./experiment-store.ts";
import { fetchCheckpoint } from "./fetch-checkpoint.ts";
import { badInputOf, runTrainerScript, trainerPython, type ScriptEvent } from "./trainer-python.ts";
import { EXPORT_FORMATS, exportsKey } from "./export-formats.ts";

export { EXPORT_FORMATS, exportsKey };

export interface ExportOptions {
  readonly experiment: string;
  readonly format: string;
  readonly outDir?: string | undefined;
  readonly samples: readonly string[];
  readonly upload: boolean;
  readonly store: StoreFlags;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly io: Io;
}

function display(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") || rel === "" ? path : rel;
}

export async function exportModel(o: ExportOptions): Promise<number> {
  const say = (line: string): void => o.io.out(`${line}\n`);
  if (!(EXPORT_FORMATS as readonly string[]).includes(o.format))
    throw new UsageError(
      `--format ${JSON.stringify(o.format)}: the formats are ${EXPORT_FORMATS.join(", ")}`,
    );
  const python = trainerPython(o.env);
  const s = await openExperimentStore(o.experiment, o.env, o.store);
  try {
    const got = await fetchCheckpoint(s, o.store.stateDir, () => {});
    say(`model: ${got.kind} committed checkpoint ${got.uri} from the ${s.where}`);
    const outDir = resolve(o.outDir ?? join("exports", s.name, o.format));
    const onEvent = (e: ScriptEvent): void => {
      if (e.event === "exporting")
        say(`exporting with ${String(e.tool)} (ONNX opset ${String(e.opset)})…`);
      else if (e.event === "exported")
        say(`  end2end.onnx: ${(Number(e.bytes) / 1e6).toFixed(1)} MB in ${String(e.seconds)} s`);
      else if (e.event === "verified") {
        const problems = e.problems as string[];
        say(
          `  verify [${String(e.index)}/${String(e.total)}] ${display(String(e.file))}: ${String(e.detections)} detection(s); ` +
            `max box diff ${String(e.max_box_diff_px)} px, max score diff ${String(e.max_score_diff)}; ` +
            `PyTorch ${String(e.pytorch_ms)} ms, ONNX Runtime ${String(e.onnxruntime_ms)} ms` +
            (problems.length > 0 ? `\n    ✖ ${problems.join("\n    ✖ ")}` : " ✓"),
        );
      }
    };
    const run = await runTrainerScript({
      python,
      script: "yunshi_export.py",
      args: [
        "--checkpoint",
        got.path,
        "--out-dir",
        outDir,
        ...o.samples.flatMap((p) => ["--sample", resolve(p)]),
      ],
      env: o.env,
      onEvent,
    });
    const bad = badInputOf(run);
    if (bad !== undefined) throw new UsageError(bad);
    const failed = run.events.find((e) => e.event === "verification-failed");
    if (failed !== undefined) {
      if (typeof failed.problem === "string") o.io.err(`✖ ${failed.problem}\n`);
      o.io.err(
        `error: the ONNX model does not agree with PyTorch within the tolerance; see ${display(join(outDir, "verification.json"))}. Nothing was uploaded.\n`,
      );
      return ExitCode.failure;
    }
    const done = run.events.find((e) => e.event === "done");
    if (run.code !== 0 || done === undefined) {
      o.io.err(`${run.tail.slice(-15).join("\n")}\n`);
      o.io.err(
        `error: export failed (the trainer's Python exited with ${run.code ?? run.signal}); its last lines are above\n`,
      );
      return ExitCode.failure;
    }
    const tol = done.tolerance as { score_thr: number; box_px: number; score: number };
    say(
      `verified: ONNX Runtime agrees with PyTorch (detections with score ≥ ${tol.score_thr}: same labels, boxes within ${tol.box_px} px, scores within ${tol.score}); ` +
        `median CPU latency PyTorch ${String(done.median_pytorch_ms)} ms, ONNX Runtime ${String(done.median_onnxruntime_ms)} ms`,
    );
    say(
      `wrote ${display(outDir)}/ (end2end.onnx, deploy_config.py, model.json, predict.py, verification.json)`,
    );
    if (!o.upload) return ExitCode.ok;
    const base = `${s.prefix}${exportsKey(o.format)}`;
    const files = (await readdir(outDir, { withFileTypes: true })).filter((f) => f.isFile());
    for (const f of files)
      await uploadFile(s.store, {
        path: join(outDir, f.name),
        key: `${base}${f.name}`,
        label: f.name,
        transfer: defaultTransfer,
        log: () => {},
      });
    say(`uploaded ${files.length} file(s) to s3://${s.store.bucket}/${base} (${s.where})`);
    say(`try it: python ${display(join(outDir, "predict.py"))} <picture>`);
    return ExitCode.ok;
  } finally {
    await s.close();
  }
}
