/** `yunshi render exp.yaml... [-o DIR] [--format yaml|json]`: manifests for kubectl/GitOps. */
import { Option, type Command } from "commander";
import { formatIssue } from "../errors.ts";
import type { Io } from "../io.ts";
import { addPlatformOptions, platformFlagsOf } from "./platform-options.ts";

export function registerRender(program: Command, io: Io): void {
  const cmd = program
    .command("render")
    .description("print the Kubernetes objects of experiments (no cluster needed)")
    .argument("<files...>", "exp.yaml files")
    .option("-o, --output-dir <dir>", "write one file per object plus kustomization.yaml")
    .option(
      "--keep-finished",
      "no TTL on Jobs/JobSets: finished runs stay until deleted (GitOps, where removing the spec ends a run; see examples/gitops/)",
    )
    .addOption(
      new Option("--format <format>", "stdout format").choices(["yaml", "json"]).default("yaml"),
    );
  addPlatformOptions(cmd).action(async (files: string[], opts: Record<string, unknown>) => {
    // Loaded here, not at the top: see the note at the top of jobs/program.ts.
    const { renderFiles } = await import("../prepare.ts");
    const { toJsonArray, toYamlDocuments, writeManifestDir } =
      await import("../render/serialize.ts");
    const rendered = await renderFiles(
      files,
      platformFlagsOf(opts),
      (file, w) => io.err(`⚠ ${file}: ${formatIssue(w)}\n`),
      { keepFinished: opts.keepFinished === true },
    );
    const objects = rendered.flatMap((r) => r.objects);
    const dir = opts.outputDir;
    if (typeof dir === "string") {
      const written = await writeManifestDir(dir, objects);
      io.err(`wrote ${written.length} files to ${dir}\n`);
      written.forEach((p) => io.out(`${p}\n`));
      return;
    }
    io.out(opts.format === "json" ? toJsonArray(objects) : toYamlDocuments(objects));
  });
}
