/** `yunshi validate exp.yaml...`: check specs; prints one line per valid file. */
import { realpath } from "node:fs/promises";
import { dirname, isAbsolute, relative, sep } from "node:path";
import type { Command } from "commander";
import { formatIssue, SpecError, UsageError } from "../errors.ts";
import { ExitCode, type Io } from "../io.ts";
import { addPlatformOptions, platformFlagsOf } from "./platform-options.ts";

export function registerValidate(program: Command, io: Io, setExit: (code: number) => void): void {
  const cmd = program
    .command("validate")
    .description(
      "check experiment specs without a cluster, with every check render runs (exit 2 if any is invalid)",
    )
    .argument("<files...>", "exp.yaml files");
  addPlatformOptions(cmd).action(async (files: string[], opts: Record<string, unknown>) => {
    // Loaded here, not at the top: see the note at the top of jobs/program.ts.
    const { loadExperimentFile } = await import("../spec/load-experiment.ts");
    const { assertFitsPlatform, limitsSource, platformFromFlags, renderChecked } =
      await import("../prepare.ts");
    const flags = platformFlagsOf(opts);
    const ok: string[] = [];
    let invalid = false;
    for (const file of files) {
      try {
        const loaded = await loadExperimentFile(file);
        const { experiment: e, warnings } = loaded;
        warnings.forEach((w) => io.err(`⚠ ${file}: ${formatIssue(w)}\n`));
        // Render the config and the objects and run the job rules, exactly as render does
        // (a local dataset path is fine here: it is what submit --local reads).
        const platform = platformFromFlags(flags, e);
        // With --platform-file: a run that platform can never admit is invalid here too.
        const objects = renderChecked(loaded, platform);
        assertFitsPlatform(loaded, platform, limitsSource(flags), file, objects);
        // A local dataset folder gets `yunshi dataset check` too (docs/datasets.md), but
        // only inside the spec's own folder: validate runs on strangers' specs in CI, and a
        // spec must not make it read (and quote) files elsewhere on the runner.
        const { checkLocalDataset, localDatasetDir } = await import("../dataset/local-dataset.ts");
        const dir = localDatasetDir(e.dataset.uri, file);
        if (dir !== undefined && !(await isInsideFolderOf(dir, file))) {
          io.err(
            `⚠ ${file}: dataset.uri ${JSON.stringify(e.dataset.uri)} is outside the spec's folder, so validate does not read it\n    fix: submit --local checks it, or run yunshi dataset check ${dir} --spec ${file}\n`,
          );
        } else await checkLocalDataset(e, file);
        const r = e.resources;
        ok.push(
          `✓ ${file}: ${e.name} — ${e.model.config}, ${e.dataset.classes.length} classes, ${r.nodes} node${r.nodes === 1 ? "" : "s"} × ${r.gpusPerNode} GPU, ${e.train.epochs} epochs, ${e.train.precision}\n`,
        );
      } catch (err) {
        if (!(err instanceof SpecError || err instanceof UsageError)) throw err;
        invalid = true;
        io.err(`${err.message}\n`);
      }
    }
    // An invalid spec prints nothing on stdout, so scripts can trust it.
    if (invalid) setExit(ExitCode.invalidInput);
    else ok.forEach((line) => io.out(line));
  });
}

/** Whether `dir` (symlinks resolved) lies inside the folder holding `specFile`; a missing
 * `dir` counts as inside (there is nothing to read). */
async function isInsideFolderOf(dir: string, specFile: string): Promise<boolean> {
  const real = await realpath(dir).catch(() => undefined);
  if (real === undefined) return true;
  const root = await realpath(dirname(specFile));
  const rel = relative(root, real);
  return rel === "" || (!isAbsolute(rel) && rel !== ".." && !rel.startsWith(`..${sep}`));
}
