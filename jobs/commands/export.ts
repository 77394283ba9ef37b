/**
 * `yunshi export <experiment> --format onnx`: see jobs/after-training/export.ts; with
 * `--cluster`, the same export as a CPU Job in the team namespace
 * (jobs/after-training/export-on-cluster.ts). Local is the default, as for the other
 * after-training commands, which run where the command runs; `--cluster` is the one
 * switch, as `--local` is the one switch of `submit`.
 */
import type { Command } from "commander";
import { UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { pollMs } from "./logs.ts";
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
      "a picture to verify the export on (repeatable; default: 4 pictures of the validation set; with --cluster an s3:// picture)",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option("--no-upload", "keep the export on this machine only")
    .option(
      "--cluster",
      "run the export as a CPU Job in the experiment's namespace (same hardening and agent as training); it uploads only a verified export",
    )
    .option("--dry-run", "with --cluster: print the Job; submit nothing")
    .option(
      "--wait",
      "with --cluster: wait until the Job finishes (exit 0 verified and uploaded, 1 failed)",
    );
  addStoreOptions(cmd).action(async (experiment: string, opts: Record<string, unknown>) => {
    const samples = Array.isArray(opts.sample) ? opts.sample.map(String) : [];
    if (opts.cluster === true) {
      const clusterOnly = { outDir: "-o/--out-dir", bucket: "--bucket" } as const;
      for (const [k, flag] of Object.entries(clusterOnly))
        if (opts[k] !== undefined)
          throw new UsageError(
            `${flag}: not with --cluster; the Job writes to the experiment's own prefix in the platform's bucket (s3://<bucket>/<namespace>/${experiment}/exports/)`,
          );
      if (opts.upload === false)
        throw new UsageError(
          "--no-upload: not with --cluster; the Job's result is the upload (run without --cluster to keep the export on this machine)",
        );
      const { exportOnCluster } = await import("../after-training/export-on-cluster.ts");
      const store = storeFlagsOf(opts);
      setExit(
        await exportOnCluster({
          experiment,
          format: String(opts.format),
          samples,
          dryRun: opts.dryRun === true,
          wait: opts.wait === true,
          cluster: { context: store.context, namespace: store.namespace },
          env: process.env,
          io,
          pollMs: pollMs(),
        }),
      );
      return;
    }
    for (const [k, flag] of [
      ["dryRun", "--dry-run"],
      ["wait", "--wait"],
    ] as const)
      if (opts[k] === true)
        throw new UsageError(
          `${flag}: only with --cluster (export runs on this machine without it)`,
        );
    const { exportModel } = await import("../after-training/export.ts");
    setExit(
      await exportModel({
        experiment,
        format: String(opts.format),
        outDir: typeof opts.outDir === "string" ? opts.outDir : undefined,
        samples,
        upload: opts.upload !== false,
        store: storeFlagsOf(opts),
        env: process.env,
        io,
      }),
    );
  });
}
