/**
 * `yunshi submit exp.yaml --dry-run`: render and print what would be applied.
 * Sending to a cluster lives in jobs/cluster/ (issue #6); without it, submit needs
 * --dry-run and says so.
 */
import type { Command } from "commander";
import { formatIssue, UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { objectNames } from "../labels.ts";
import { renderFiles } from "../prepare.ts";
import { checkpointUri } from "../render-pod-template.ts";
import { toYamlDocuments } from "../serialize.ts";
import { addPlatformOptions, platformFlagsOf } from "./platform-options.ts";

export function registerSubmit(program: Command, io: Io): void {
  const cmd = program
    .command("submit")
    .description("run an experiment on the cluster (--dry-run: print what would be applied)")
    .argument("<file>", "exp.yaml")
    .option("--dry-run", "render and print the objects; contact nothing");
  addPlatformOptions(cmd).action(async (file: string, opts: Record<string, unknown>) => {
    if (opts.dryRun !== true) {
      throw new UsageError(
        "submitting to a cluster is not available in this build; use --dry-run to print the objects, or `yunshi render -o DIR` for GitOps",
      );
    }
    const [r] = await renderFiles([file], platformFlagsOf(opts), (f, w) =>
      io.err(`⚠ ${f}: ${formatIssue(w)}\n`),
    );
    if (r === undefined) return;
    const e = r.loaded.experiment;
    const ns = r.platform.namespace;
    io.out(toYamlDocuments(r.objects));
    io.err(
      [
        `dry run: nothing was sent. Would apply ${r.objects.length} objects to namespace ${ns}:`,
        ...r.objects.map((o) => `  ${o.kind}/${o.metadata?.name ?? ""}`),
        `experiment ${e.name}: ${e.resources.nodes} node(s) × ${e.resources.gpusPerNode} GPU, queue ${e.queue ?? r.platform.queue}, ${e.resources.spot ? "spot" : "on-demand"}`,
        `checkpoints and logs: ${checkpointUri(r.platform, ns, e.name)}`,
        `next: yunshi submit ${file}   (then: yunshi status ${objectNames(e.name).workload})`,
        "",
      ].join("\n"),
    );
  });
}
