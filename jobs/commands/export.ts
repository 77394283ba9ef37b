/** `yunshi export <experiment> --format onnx`: see jobs/after-training/export.ts. */
import type { Command } from "commander";
import type { Io } from "../io.ts";
import { addStoreOptions, storeFlagsOf } from "./store-options.ts";

export function registerExport(program: Command, io: Io, setExit: (code: number) => void): void {
  const cmd = program
    .command("export")
    .description(
      "export an experiment's best checkpoint to ONNX (MMDeploy), verified against PyTorch, and upload it next to the checkpoints",
    )
    .argument("<experiment>", "an experiment name, or s3://bucket/namespace/experiment/")
    .requiredOption("--format <format>", "onnx")
    .option("-o, --out-dir <dir>", "where to write (default: exports/<experiment>/<format>/)")
    .option(
      "--sample <picture>",
      "a picture to verify the export on (repeatable; default: 4 pictures of the validation set)",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option("--no-upload", "keep the export on this machine only");
  addStoreOptions(cmd).action(async (experiment: string, opts: Record<string, unknown>) => {
    const { exportModel } = await import("../after-training/export.ts");
    setExit(
      await exportModel({
        experiment,
        format: String(opts.format),
        outDir: typeof opts.outDir === "string" ? opts.outDir : undefined,
        samples: Array.isArray(opts.sample) ? opts.sample.map(String) : [],
        upload: opts.upload !== false,
        store: storeFlagsOf(opts),
        env: process.env,
        io,
      }),
    );
  });
}
