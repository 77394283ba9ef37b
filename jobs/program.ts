/**
 * The yunshi command line as a function: run(argv, io) → exit code. jobs/cli.ts is the
 * process entry; tests call run() directly. Exit codes: 0 ok, 2 invalid input (nothing
 * submitted or written), 1 anything else. No stack traces unless --debug.
 *
 * Adding a command — keep start-up fast (issue 15; `npm run bench:cli` measures it):
 * - one file in jobs/commands/ exporting `registerX(program, io, …)`, registered below;
 * - at its top level it imports only commander, types (`import type`), and light
 *   helpers: ../errors.ts, ../io.ts, ../pod-contract.ts, ../labels.ts, ./platform-options.ts,
 *   ./cluster-options.ts;
 * - everything its action needs — the spec loader, renderers, jobs/cluster/* (Kubernetes
 *   client), the S3 SDK, jobs/local/* — it imports inside the action:
 *       .action(async (file: string) => {
 *         const { loadExperimentFile } = await import("../spec/load-experiment.ts");
 * The bundle (scripts/build-cli.js, one CommonJS file) initialises such a module, and
 * require()s the packages it imports, only when that command runs; a top-level import
 * runs on every start. test/cli-startup.test.ts makes the Kubernetes client, the AWS SDK
 * and kubernetes-models unloadable and runs --help, validate, render, config and
 * submit --dry-run: a top-level import of them fails it.
 */
import { Command, CommanderError } from "commander";
import { registerCancel } from "./commands/cancel.ts";
import { registerConfig } from "./commands/config.ts";
import { registerExport } from "./commands/export.ts";
import { registerDataset } from "./commands/dataset.ts";
import { registerLocal, routeSubmitLocal } from "./commands/local.ts";
import { registerLogs } from "./commands/logs.ts";
import { registerPredict } from "./commands/predict.ts";
import { registerRender } from "./commands/render.ts";
import { registerStatus } from "./commands/status.ts";
import { registerSubmit } from "./commands/submit.ts";
import { registerTensorboard } from "./commands/tensorboard.ts";
import { registerValidate } from "./commands/validate.ts";
import { SpecError, UsageError } from "./errors.ts";
import { ExitCode, type Io } from "./io.ts";
import { VERSION } from "./version.ts";

export async function run(argv: readonly string[], io: Io): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const setExit = (code: number): void => {
    exitCode = code;
  };
  const program = new Command()
    .name("yunshi")
    .description(
      "云视 yunshi: exp.yaml → MMDetection 3.x training on Kubernetes, resumable from S3 checkpoints",
    )
    .version(VERSION)
    .option("--debug", "print stack traces of failures")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
    });
  registerValidate(program, io, setExit);
  registerRender(program, io);
  registerConfig(program, io);
  registerSubmit(program, io);
  registerStatus(program, io);
  registerLogs(program, io);
  registerCancel(program, io);
  registerLocal(program, io, setExit);
  registerDataset(program, io);
  registerPredict(program, io, setExit);
  registerExport(program, io, setExit);
  registerTensorboard(program, io, setExit);
  program.addHelpText(
    "after",
    `
Examples:
  yunshi validate examples/*.yaml
  yunshi submit examples/quickstart.yaml --local   # train on this machine
  yunshi submit exp.yaml --dry-run
  yunshi render exp.yaml -o deploy/exp      # one file per object + kustomization.yaml
  yunshi config exp.yaml                    # the generated MMDetection config.py
  yunshi dataset convert 标注/ -o data --from voc --spec exp.yaml   # LabelImg → COCO

Exit codes: 0 ok, 2 invalid input (nothing submitted or written), 1 other failures.`,
  );

  try {
    // `submit --local` runs on this machine (jobs/commands/local.ts); submit.ts stays the
    // cluster path, so the route is chosen here, before commander parses.
    await program.parseAsync(routeSubmitLocal(argv), { from: "user" });
    return exitCode;
  } catch (err) {
    const debug = argv.includes("--debug");
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version")
        return ExitCode.ok;
      if (err.code === "commander.help") return ExitCode.ok;
      return ExitCode.invalidInput;
    }
    if (err instanceof SpecError || err instanceof UsageError) {
      io.err(`${err.message}\n`);
      if (debug && err.stack !== undefined) io.err(`${err.stack}\n`);
      return ExitCode.invalidInput;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.err(`error: ${message}\n`);
    if (debug && err instanceof Error && err.stack !== undefined) io.err(`${err.stack}\n`);
    else io.err("(run with --debug for details)\n");
    return ExitCode.failure;
  }
}
