/**
 * `yunshi dataset convert | check | push`: from LabelImg/labelme folders (Chinese names
 * welcome) to a verified COCO dataset in S3 (docs/datasets.md). The work is in
 * jobs/dataset/, loaded inside each action (start-up stays fast: see jobs/program.ts).
 */
import type { Command } from "commander";
import type { DatasetLayout } from "../dataset/layout.ts";
import { UsageError } from "../errors.ts";
import type { Io } from "../io.ts";

const FORMATS = ["voc", "yolo", "labelme"] as const;

interface SpecChoice {
  readonly layout: DatasetLayout;
  readonly classes: readonly string[] | undefined;
  readonly classesField: string;
}

/** Layout and classes from --spec, or the default layout and --classes. */
async function specChoice(opts: Record<string, unknown>): Promise<SpecChoice> {
  const { DEFAULT_LAYOUT, layoutFromSpec } = await import("../dataset/layout.ts");
  const { checkClassList, parseClassList } = await import("../dataset/class-names.ts");
  const { DatasetError } = await import("../dataset/problems.ts");
  const spec = typeof opts.spec === "string" ? opts.spec : undefined;
  const classesFlag = typeof opts.classes === "string" ? opts.classes : undefined;
  if (spec !== undefined && classesFlag !== undefined)
    throw new UsageError(
      "--classes and --spec: give one; with --spec the classes are the spec's dataset.classes",
    );
  if (spec !== undefined) {
    const { loadExperimentFile } = await import("../spec/load-experiment.ts");
    const { experiment } = await loadExperimentFile(spec);
    return {
      layout: layoutFromSpec(experiment, spec),
      classes: experiment.dataset.classes,
      classesField: `${spec} dataset.classes`,
    };
  }
  if (classesFlag === undefined)
    return { layout: DEFAULT_LAYOUT, classes: undefined, classesField: "--classes" };
  const classes = parseClassList(classesFlag);
  const problems = checkClassList(classes, "--classes");
  if (problems.length > 0) throw new DatasetError("--classes", problems);
  return { layout: DEFAULT_LAYOUT, classes, classesField: "--classes" };
}

async function assertDir(path: string, what: string): Promise<void> {
  const { stat } = await import("node:fs/promises");
  const st = await stat(path).catch(() => undefined);
  if (st === undefined) throw new UsageError(`${what} ${JSON.stringify(path)}: no such folder`);
  if (!st.isDirectory()) throw new UsageError(`${what} ${JSON.stringify(path)}: not a folder`);
}

export function registerDataset(program: Command, io: Io): void {
  const dataset = program
    .command("dataset")
    .description("LabelImg/labelme folders → a checked COCO dataset in S3 (docs/datasets.md)")
    .addHelpText(
      "after",
      `
Examples:
  yunshi dataset convert 标注/ -o data/cn-traffic --from voc --spec exp.yaml
  yunshi dataset convert labels/ -o data/cn-traffic --from yolo --classes 行人,车辆 --val 0.2
  yunshi dataset check data/cn-traffic --spec exp.yaml
  yunshi dataset push data/cn-traffic s3://bucket/vision/datasets/cn-traffic/

Bad input exits 2 and names file and line; nothing is written or uploaded.`,
    );

  dataset
    .command("convert")
    .description(
      "convert Pascal VOC (LabelImg), YOLO (LabelImg) or labelme annotations to COCO JSON in the spec's layout",
    )
    .argument("<src>", "folder of pictures and annotation files (any depth; names kept exactly)")
    .requiredOption("-o, --out <dir>", "output folder (new, or an earlier convert's output)")
    .requiredOption("--from <format>", `annotation format: ${FORMATS.join(" | ")}`)
    .option("--classes <names>", "class names in order, comma-separated, e.g. 行人,车辆")
    .option("--spec <exp.yaml>", "take classes and layout (dataset.train/val) from the spec")
    .option("--val <fraction>", "share of pictures for val (stable: a hash of each path)", "0.2")
    .option("--seed <n>", "split seed; another seed gives another split", "0")
    .option(
      "--split <how>",
      "hash: split by a hash of each path (--val, --seed); folders: keep SRC's train/ and val/ folders",
      "hash",
    )
    .option("--include-unlabeled", "use pictures without an annotation file as background")
    .action(async (src: string, opts: Record<string, unknown>) => {
      const from = String(opts.from);
      if (!(FORMATS as readonly string[]).includes(from))
        throw new UsageError(
          `--from ${JSON.stringify(from)}: expected one of ${FORMATS.join(", ")}`,
        );
      const val = Number(opts.val);
      if (!(val >= 0 && val < 1))
        throw new UsageError(
          `--val ${JSON.stringify(opts.val)}: expected a fraction from 0 to below 1, e.g. 0.2`,
        );
      const seed = Number(opts.seed);
      if (!Number.isSafeInteger(seed) || seed < 0)
        throw new UsageError(`--seed ${JSON.stringify(opts.seed)}: expected a whole number ≥ 0`);
      const split = String(opts.split);
      if (split !== "hash" && split !== "folders")
        throw new UsageError(`--split ${JSON.stringify(split)}: expected hash or folders`);
      await assertDir(src, "source");
      const choice = await specChoice(opts);
      const { convertDataset } = await import("../dataset/convert.ts");
      const { formatConvertReport, formatNotes } = await import("../dataset/summary.ts");
      const out = String(opts.out);
      const report = await convertDataset({
        src,
        out,
        from: from as (typeof FORMATS)[number],
        classes: choice.classes,
        classesField: choice.classesField,
        layout: choice.layout,
        valFraction: val,
        seed,
        split,
        includeUnlabeled: opts.includeUnlabeled === true,
      });
      io.err(formatNotes(report.notes));
      io.out(formatConvertReport(report, out));
    });

  dataset
    .command("check")
    .description(
      "check a COCO dataset folder: JSON, categories = classes, every picture, ids, boxes; prints a class histogram",
    )
    .argument("<dir>", "dataset folder (what dataset.uri points at)")
    .option(
      "--spec <exp.yaml>",
      "check the spec's layout and classes (default: annotations/{train,val}.json)",
    )
    .option("--classes <names>", "expected classes in order, comma-separated")
    .action(async (dir: string, opts: Record<string, unknown>) => {
      await assertDir(dir, "dataset");
      const choice = await specChoice(opts);
      const { checkDataset } = await import("../dataset/check.ts");
      const { formatCheckReport, formatNotes } = await import("../dataset/summary.ts");
      const report = await checkDataset({ dir, layout: choice.layout, classes: choice.classes });
      io.err(formatNotes(report.warnings));
      io.out(formatCheckReport(report, dir));
    });

  dataset
    .command("push")
    .description(
      "upload a dataset folder to S3 (parallel, skips unchanged files, resumable) and commit its manifest",
    )
    .argument("<dir>", "dataset folder")
    .argument("<uri>", "s3://bucket/<namespace>/datasets/<name>/")
    .option("--spec <exp.yaml>", "check the folder against the spec first")
    .option("--no-check", "upload without running dataset check first")
    .option("--concurrency <n>", "files in flight", "16")
    .option("--s3-endpoint <url>", "S3-compatible endpoint (MinIO); default: AWS S3")
    .action(async (dir: string, uri: string, opts: Record<string, unknown>) => {
      await assertDir(dir, "dataset");
      const { parseS3Uri, asPrefix, formatUri } =
        await import("../../images/checkpoint-agent/src/s3-uri.ts");
      const { InputError } = await import("../../images/checkpoint-agent/src/errors.ts");
      const { parseConcurrency } =
        await import("../../images/checkpoint-agent/src/transfer-options.ts");
      try {
        const location = asPrefix(parseS3Uri(uri, "URI"));
        const concurrency = parseConcurrency(String(opts.concurrency));
        if (!/^[^/]+\/datasets\/[^/]+\/$/.test(location.prefix))
          io.err(
            `⚠ ${uri}: datasets usually live at s3://${location.bucket}/<namespace>/datasets/<name>/; a namespace's pods may read only its own prefix\n`,
          );
        if (opts.check !== false) {
          const choice = await specChoice(opts);
          const { checkDataset } = await import("../dataset/check.ts");
          await checkDataset({ dir, layout: choice.layout, classes: choice.classes });
        }
        const { listDatasetFiles } = await import("../dataset/local-files.ts");
        const { pushDataset, formatPushReport } = await import("../dataset/push.ts");
        const { createS3Store } = await import("../../images/checkpoint-agent/src/s3-store.ts");
        const { resolveS3Config } = await import("../../images/checkpoint-agent/src/s3-config.ts");
        const endpoint = typeof opts.s3Endpoint === "string" ? opts.s3Endpoint : undefined;
        const config = resolveS3Config(
          endpoint === undefined ? process.env : { ...process.env, AWS_ENDPOINT_URL_S3: endpoint },
          { pathStyle: endpoint !== undefined },
        );
        const files = await listDatasetFiles(dir);
        const store = createS3Store({
          bucket: location.bucket,
          config,
          maxSockets: concurrency + 4,
          log: (line) => io.err(`${line}\n`),
        });
        const report = await pushDataset({
          dir,
          store,
          prefix: location.prefix,
          files,
          concurrency,
          progress: (text) => io.err(text),
          tty: process.stderr.isTTY,
        });
        io.out(formatPushReport(report, formatUri(location.bucket, location.prefix)));
      } catch (err) {
        if (err instanceof InputError) throw new UsageError(err.message);
        throw err;
      }
    });
}
