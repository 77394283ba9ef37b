/**
 * `yunshi local exp.yaml` (what `yunshi submit exp.yaml --local` becomes, see program.ts):
 * the experiment's pod plan as processes on this machine, with an embedded object store.
 * See docs/local.md.
 */
import type { Command } from "commander";
import { formatIssue, UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { DEFAULT_S3_PORT } from "../local/embedded-s3.ts";

export function registerLocal(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("local")
    .description(
      "run an experiment on this machine: the same pod plan as processes, checkpoints in an embedded S3 (also: submit --local)",
    )
    .argument("<file>", "exp.yaml (a relative dataset.uri is read relative to its folder)")
    .option(
      "--s3-port <port>",
      `port of the embedded object store on 127.0.0.1 (0 picks a free one)`,
      String(DEFAULT_S3_PORT),
    )
    .option(
      "--s3-endpoint <url>",
      "use this S3-compatible endpoint (MinIO) instead of the embedded store",
    )
    .option("--bucket <name>", "bucket for checkpoints and logs (default yunshi-local)")
    .option("--state-dir <dir>", "where runs and the embedded store keep their files", ".yunshi")
    .option("-v, --verbose", "also print every line of the trainer and the checkpoint agent")
    .action(async (file: string, opts: Record<string, unknown>) => {
      const port = Number(opts.s3Port);
      if (!/^\d+$/.test(String(opts.s3Port)))
        throw new UsageError(`--s3-port ${JSON.stringify(opts.s3Port)}: expected a port number`);
      // Loaded here, not at the top: see the note at the top of jobs/program.ts.
      const { loadExperimentFile } = await import("../spec/load-experiment.ts");
      const { runLocal } = await import("../local/run-local.ts");
      const loaded = await loadExperimentFile(file);
      loaded.warnings.forEach((w) => io.err(`⚠ ${file}: ${formatIssue(w)}\n`));
      const code = await runLocal({
        file,
        experiment: loaded.experiment,
        specHash: loaded.specHash,
        stateDir: typeof opts.stateDir === "string" ? opts.stateDir : ".yunshi",
        s3Port: port,
        ...(typeof opts.s3Endpoint === "string" ? { s3Endpoint: opts.s3Endpoint } : {}),
        ...(typeof opts.bucket === "string" ? { bucket: opts.bucket } : {}),
        verbose: opts.verbose === true,
        env: process.env,
        io,
      });
      setExit(code);
    });
}

/**
 * `submit FILE --local` is served by the `local` command: submit.ts belongs to the cluster
 * path, so program.ts rewrites the argv before parsing. Returns the argv to parse.
 */
export function routeSubmitLocal(argv: readonly string[]): string[] {
  const i = argv.indexOf("submit");
  if (i < 0 || !argv.slice(0, i).every((a) => a.startsWith("-")) || !argv.includes("--local"))
    return [...argv];
  return [...argv.slice(0, i), "local", ...argv.slice(i + 1).filter((a) => a !== "--local")];
}
