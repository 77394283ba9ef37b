import { describe, expect, it } from "vitest";
import { SpecError } from "../../jobs/errors.ts";
import { parseExperiment } from "../../jobs/spec/load-experiment.ts";
import { run } from "../../jobs/program.ts";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { baseSpec, patched, specYaml } from "../spec-fixtures.ts";

interface Case {
  readonly title: string;
  readonly yaml: string;
  /** Expected issue path and a fragment of its message. */
  readonly path: string;
  readonly message: RegExp;
  readonly fix?: RegExp;
}

const c = (
  title: string,
  patch: Record<string, unknown>,
  path: string,
  message: RegExp,
  fix?: RegExp,
): Case => ({
  title,
  yaml: specYaml(patched(patch)),
  path,
  message,
  ...(fix === undefined ? {} : { fix }),
});

const invalidSpecs: Case[] = [
  c(
    "lossScale without fp16",
    { train: { precision: "fp32", lossScale: 512 } },
    "train.lossScale",
    /only to precision fp16/,
    /precision: fp16/,
  ),
  c(
    "lossScale with bf16",
    { train: { precision: "bf16", lossScale: 512 } },
    "train.lossScale",
    /only to precision fp16/,
  ),
  c("keep below 2", { checkpoint: { keep: 1 } }, "checkpoint.keep", /at least 2/),
  c("empty classes", { dataset: { classes: [] } }, "dataset.classes", /at least one class/),
  c(
    "duplicate classes",
    { dataset: { classes: ["行人", "车辆", "行人"] } },
    "dataset.classes.2",
    /duplicate class name "行人"/,
  ),
  c("name with upper case", { name: "Bad_Name" }, "name", /DNS-1123/),
  c("name too long", { name: "a".repeat(51) }, "name", /at most 50/),
  c("name starting with a digit", { name: "1abc" }, "name", /starting with a letter/),
  c("unknown top-level key", { epochs: 12 }, "epochs", /unknown field "epochs"/),
  c(
    "typo batchPerGPU",
    { train: { batchPerGPU: 2 } },
    "train.batchPerGPU",
    /did you mean "batchPerGpu"/,
    /rename it to batchPerGpu/,
  ),
  c(
    "typo in checkpoint.every",
    { checkpoint: { every: { epoch: 1 } } },
    "checkpoint.every.epoch",
    /did you mean "epochs"/,
  ),
  c("zero epochs", { train: { epochs: 0 } }, "train.epochs", /too small|>0/i),
  c("negative workers", { train: { workersPerGpu: -1 } }, "train.workersPerGpu", /too small|>=0/i),
  c("fractional batch", { train: { batchPerGpu: 1.5 } }, "train.batchPerGpu", /integer/),
  c(
    "precision typo",
    { train: { precision: "fp33" } },
    "train.precision",
    /one of fp32 \| fp16 \| bf16/,
    /did you mean fp32/,
  ),
  c(
    "pretrained typo",
    { model: { pretrained: "cocoo" } },
    "model.pretrained",
    /expected one of coco \| none/,
    /did you mean coco/,
  ),
  c(
    "model config not mmdet::",
    { model: { config: "configs/faster_rcnn.py" } },
    "model.config",
    /mmdet::/,
  ),
  c(
    "unknown base without numClassesAt",
    { model: { config: "mmdet::foo/bar_r50.py", pretrained: "none" } },
    "model.config",
    /does not know where num_classes/,
    /numClassesAt/,
  ),
  c(
    "pretrained coco for a base without a checkpoint",
    { model: { config: "mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py", pretrained: "coco" } },
    "model.pretrained",
    /no COCO checkpoint/,
    /pretrained: none/,
  ),
  c(
    "fp16 on CPU",
    { train: { precision: "fp16" }, resources: { gpusPerNode: 0 } },
    "train.precision",
    /needs a GPU/,
  ),
  c(
    "persistent workers without workers",
    { train: { workersPerGpu: 0, persistentWorkers: true } },
    "train.persistentWorkers",
    /workersPerGpu > 0/,
  ),
  c(
    "momentum with AdamW",
    { train: { optimizer: { type: "AdamW", lr: 0.0001, momentum: 0.9 } } },
    "train.optimizer.momentum",
    /SGD only/,
  ),
  c(
    "steps with cosine",
    { train: { schedule: { policy: "cosine", steps: [8] } } },
    "train.schedule.steps",
    /policy step only/,
  ),
  c(
    "step after the last epoch",
    { train: { epochs: 12, schedule: { policy: "step", steps: [8, 13] } } },
    "train.schedule.steps.1",
    /after the last epoch/,
  ),
  c(
    "minLr above lr",
    { train: { optimizer: { type: "SGD", lr: 0.01 }, schedule: { policy: "cosine", minLr: 0.1 } } },
    "train.schedule.minLr",
    /below the optimizer lr/,
  ),
  c(
    "negative lr",
    { train: { optimizer: { type: "SGD", lr: -1 } } },
    "train.optimizer.lr",
    /too small|>0/i,
  ),
  c(
    "both minMemoryGiB and instanceTypes",
    { resources: { gpu: { minMemoryGiB: 16, instanceTypes: ["g5.2xlarge"] } } },
    "resources.gpu",
    /not both/,
  ),
  c(
    "bad instance type",
    { resources: { gpu: { instanceTypes: ["G5 large"] } } },
    "resources.gpu.instanceTypes.0",
    /EC2 instance type/,
  ),
  c(
    "too many GPUs per node",
    { resources: { gpusPerNode: 9 } },
    "resources.gpusPerNode",
    /too big|<=8/i,
  ),
  c("bad maxRuntime", { maxRuntime: "1 day" }, "maxRuntime", /duration/),
  c(
    "absolute annotation path",
    { dataset: { train: { annotations: "/etc/passwd", images: "train/" } } },
    "dataset.train.annotations",
    /relative to dataset.uri/,
  ),
  c(
    "path escaping the dataset",
    { dataset: { val: { annotations: "../x.json", images: "val/" } } },
    "dataset.val.annotations",
    /without a leading/,
  ),
  c("missing required dataset", { dataset: undefined }, "dataset", /required field is missing/),
  c("wrong version", { version: 2 }, "version", /expected 1/),
  c("bad dataset uri scheme", { dataset: { uri: "gs://bucket/x/" } }, "dataset.uri", /s3:\/\//),
  c(
    "cfgOptions bad key",
    { train: { cfgOptions: { "model..x": 1 } } },
    "train.cfgOptions.model..x",
    /dotted config key/,
  ),
  c(
    "cfgOptions changing _base_",
    { train: { cfgOptions: { _base_: "x" } } },
    "train.cfgOptions._base_",
    /cannot change _base_/,
  ),
  c("retries negative", { retries: -1 }, "retries", /too small|>=0/i),
  c(
    "bestRule without best",
    { checkpoint: { bestRule: "less" } },
    "checkpoint.bestRule",
    /needs checkpoint.best/,
  ),
  c(
    "betas with SGD",
    { train: { optimizer: { type: "SGD", lr: 0.02, betas: [0.9, 0.999] } } },
    "train.optimizer.betas",
    /Adam and AdamW only/,
  ),
];

describe("invalid specs", () => {
  it("has at least 20 distinct cases", () => {
    expect(new Set(invalidSpecs.map((s) => s.title)).size).toBeGreaterThanOrEqual(20);
  });

  it.each(invalidSpecs)("$title → $path", (tc) => {
    let error: unknown;
    try {
      parseExperiment(tc.yaml, "exp.yaml");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SpecError);
    const issues = (error as SpecError).issues;
    const issue = issues.find((i) => i.path === tc.path);
    expect(issue, `issues were: ${JSON.stringify(issues)}`).toBeDefined();
    expect(issue?.message).toMatch(tc.message);
    if (tc.fix !== undefined) expect(issue?.fix).toMatch(tc.fix);
    // Every issue that exists in the source points at a line of it.
    if (tc.path !== "dataset") expect(issue?.line).toBeGreaterThan(0);
  });

  it.each(invalidSpecs)(
    "CLI: $title → exit 2, nothing on stdout, the path on stderr",
    async (tc) => {
      const dir = await mkdtemp(join(tmpdir(), "yunshi-spec-"));
      const file = join(dir, "exp.yaml");
      await writeFile(file, tc.yaml);
      let out = "";
      let err = "";
      const code = await run(["validate", file], {
        out: (s) => (out += s),
        err: (s) => (err += s),
      });
      expect(code).toBe(2);
      expect(out).toBe("");
      expect(err).toContain(tc.path);
      const renderCode = await run(["render", file], {
        out: (s) => (out += s),
        err: () => undefined,
      });
      expect(renderCode).toBe(2);
      expect(out).toBe("");
    },
  );
});

describe("YAML-level problems", () => {
  it("reports a syntax error with its line", () => {
    expect(() => parseExperiment("version: 1\nname: [unclosed\n", "x.yaml")).toThrowError(
      /YAML syntax/,
    );
    try {
      parseExperiment("version: 1\nname: a\nname: b\n", "x.yaml");
    } catch (e) {
      const issue = (e as SpecError).issues[0];
      expect(issue?.message).toMatch(/unique|duplicate/i);
      expect(issue?.line).toBe(3);
    }
  });

  it("rejects a document that is not a mapping", () => {
    expect(() => parseExperiment("- a\n- b\n", "x.yaml")).toThrowError(/must be a YAML mapping/);
    expect(() => parseExperiment("", "x.yaml")).toThrowError(/must be a YAML mapping/);
  });

  it("points at the offending key, line and column", () => {
    const yaml = "version: 1\nname: ok\ntrain:\n  batchPerGPU: 2\n";
    try {
      parseExperiment(yaml, "x.yaml");
      expect.unreachable();
    } catch (e) {
      const issue = (e as SpecError).issues.find((i) => i.path === "train.batchPerGPU");
      expect(issue).toMatchObject({ line: 4, column: 3 });
    }
  });
});

describe("valid specs", () => {
  it("fills documented defaults", () => {
    const { experiment } = parseExperiment(specYaml(baseSpec()));
    expect(experiment.train.epochs).toBe(12);
    expect(experiment.checkpoint).toMatchObject({ keep: 3, every: { epochs: 1 } });
    expect(experiment.resources).toMatchObject({
      nodes: 1,
      gpusPerNode: 1,
      spot: true,
      gpu: { minMemoryGiB: 16 },
    });
    expect(experiment.retries).toBe(10);
    expect(experiment.maxRuntime).toBe("24h");
  });

  it("warns, without failing, for SGD on a Swin base", () => {
    const { warnings } = parseExperiment(
      specYaml(
        patched({
          model: { config: "mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py" },
          train: { optimizer: { type: "SGD", lr: 0.02 } },
        }),
      ),
    );
    expect(warnings.map((w) => w.path)).toContain("train.optimizer.type");
    expect(warnings.find((w) => w.path === "train.optimizer.type")?.message).toMatch(/AdamW/);
  });

  it("hashes meaning, not formatting", () => {
    const a = parseExperiment(
      "version: 1\nname: x\n" + specYaml(baseSpec()).replace(/^version: 1\nname: unit-test\n/, ""),
    );
    const b = parseExperiment(specYaml({ ...baseSpec(), name: "x" }));
    expect(a.specHash).toBe(b.specHash);
    const c2 = parseExperiment(specYaml(patched({ name: "x", train: { epochs: 13 } })));
    expect(c2.specHash).not.toBe(a.specHash);
  });
});
