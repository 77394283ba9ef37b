/** `yunshi config exp.yaml [--data-root DIR]`: print the generated MMDetection config. */
import type { Command } from "commander";
import { formatIssue } from "../errors.ts";
import type { Io } from "../io.ts";
import { PodPaths } from "../pod-contract.ts";

export function registerConfig(program: Command, io: Io): void {
  program
    .command("config")
    .description("print the MMDetection 3.x config.py generated from an experiment")
    .argument("<file>", "exp.yaml")
    .option("--data-root <dir>", "dataset directory as the trainer sees it", PodPaths.dataDir)
    .option("--work-dir <dir>", "MMEngine work_dir", PodPaths.workDir)
    .option(
      "--pretrained-dir <dir>",
      "where s3:// pretrained weights are fetched to",
      PodPaths.pretrainedDir,
    )
    .action(
      async (file: string, opts: { dataRoot: string; workDir: string; pretrainedDir: string }) => {
        // Loaded here, not at the top: see the note at the top of jobs/program.ts.
        const { loadExperimentFile } = await import("../spec/load-experiment.ts");
        const { renderMmdetConfig } = await import("../render/mmdet-config.ts");
        const { experiment, warnings, specHash } = await loadExperimentFile(file);
        warnings.forEach((w) => io.err(`⚠ ${file}: ${formatIssue(w)}\n`));
        io.out(
          renderMmdetConfig(experiment, {
            dataRoot: opts.dataRoot,
            workDir: opts.workDir,
            pretrainedDir: opts.pretrainedDir,
            specHash,
          }),
        );
      },
    );
}
