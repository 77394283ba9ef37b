/** `yunshi predict <experiment | checkpoint.pth | s3://…> IMAGES…`: see jobs/after-training/predict.ts. */
import type { Command } from "commander";
import { UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { addStoreOptions, storeFlagsOf } from "./store-options.ts";

export function registerPredict(program: Command, io: Io, setExit: (code: number) => void): void {
  const cmd = program
    .command("predict")
    .description(
      "run a trained detector on pictures: boxes and (Chinese) labels drawn into PNGs, plus detections.json (COCO results)",
    )
    .argument(
      "<model>",
      "an experiment name, a checkpoint .pth, or s3://bucket/namespace/experiment/",
    )
    .argument("<images...>", "pictures, or folders of pictures")
    .option("-o, --out-dir <dir>", "where to write (default: predictions/<experiment>/)")
    .option("--score-thr <score>", "draw and keep detections with at least this score", "0.3")
    .option("--device <device>", "cpu, cuda or cuda:N", "cpu")
    .option(
      "--config <config.py>",
      "the model's config (default: the one saved in the checkpoint)",
    );
  addStoreOptions(cmd).action(
    async (model: string, images: string[], opts: Record<string, unknown>) => {
      const thr = String(opts.scoreThr);
      if (!/^\d*\.?\d+$/.test(thr))
        throw new UsageError(`--score-thr ${JSON.stringify(thr)}: expected a number from 0 to 1`);
      const { predict } = await import("../after-training/predict.ts");
      setExit(
        await predict({
          model,
          images,
          outDir: typeof opts.outDir === "string" ? opts.outDir : undefined,
          scoreThr: Number(thr),
          device: String(opts.device),
          config: typeof opts.config === "string" ? opts.config : undefined,
          store: storeFlagsOf(opts),
          env: process.env,
          io,
        }),
      );
    },
  );
}
