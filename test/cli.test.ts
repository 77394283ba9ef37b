import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { run } from "../jobs/program.ts";
import { VERSION } from "../jobs/version.ts";

const exec = promisify(execFile);

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await run(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

describe("yunshi CLI", () => {
  it("keeps its version equal to package.json's", async () => {
    const pkg = JSON.parse(await readFile("package.json", "utf8")) as { version: string };
    expect(VERSION).toBe(pkg.version);
    expect((await cli("--version")).out.trim()).toBe(VERSION);
  });

  it("validate prints one line per valid spec", async () => {
    const r = await cli("validate", "examples/quickstart.yaml", "examples/swin-t-retinanet.yaml");
    expect(r.code).toBe(0);
    expect(r.out.trim().split("\n")).toHaveLength(2);
  });

  it("validate of a missing file exits 2 with the reason", async () => {
    const r = await cli("validate", "nope.yaml");
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toContain("no such file");
  });

  it("render prints YAML documents, --format json one array", async () => {
    const yaml = await cli("render", "examples/cn-traffic-faster-rcnn.yaml");
    expect(yaml.code).toBe(0);
    const docs = parseAllDocuments(yaml.out).map((d) => d.toJS() as { kind: string });
    expect(docs.map((d) => d.kind)).toEqual(["ConfigMap", "Service", "Job"]);
    const json = await cli(
      "render",
      "examples/cn-traffic-faster-rcnn.yaml",
      "examples/multinode-2x8-faster-rcnn.yaml",
      "--format",
      "json",
    );
    const arr = JSON.parse(json.out) as Array<{ kind: string }>;
    expect(arr.map((o) => o.kind)).toEqual(["ConfigMap", "Service", "Job", "ConfigMap", "JobSet"]);
  });

  it("render -o writes one file per object and a kustomization", async () => {
    const dir = await mkdtemp(join(tmpdir(), "yunshi-render-"));
    const r = await cli("render", "examples/multinode-2x8-faster-rcnn.yaml", "-o", dir);
    expect(r.code).toBe(0);
    const files = (await readdir(dir)).sort();
    expect(files).toEqual([
      "configmap-cn-traffic-frcnn-2x8-config.yaml",
      "jobset-cn-traffic-frcnn-2x8.yaml",
      "kustomization.yaml",
    ]);
    const k = parseAllDocuments(
      await readFile(join(dir, "kustomization.yaml"), "utf8"),
    )[0]!.toJS() as { resources: string[] };
    expect(k.resources.sort()).toEqual(files.filter((f) => f !== "kustomization.yaml"));
  });

  it("render -o of an invalid spec writes nothing", async () => {
    const dir = join(await mkdtemp(join(tmpdir(), "yunshi-render-")), "out");
    const r = await cli(
      "render",
      "examples/swin-t-retinanet.yaml",
      "test/fixtures/invalid-loss-scale.yaml",
      "-o",
      dir,
    );
    expect(r.code).toBe(2);
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/);
  });

  it("flags override the platform defaults and are validated", async () => {
    const r = await cli(
      "render",
      "examples/swin-t-retinanet.yaml",
      "--bucket",
      "team-bucket",
      "--trainer-image",
      `123.dkr.ecr.us-west-2.amazonaws.com/trainer:1@sha256:${"ab".repeat(32)}`,
    );
    expect(r.out).toContain("s3://team-bucket/vision/cn-traffic-swin-retina/");
    expect(r.out).toContain(
      `123.dkr.ecr.us-west-2.amazonaws.com/trainer:1@sha256:${"ab".repeat(32)}`,
    );
    const bad = await cli("render", "examples/swin-t-retinanet.yaml", "--region", "mars");
    expect(bad.code).toBe(2);
    expect(bad.out).toBe("");
    expect(bad.err).toContain("--region");
    const clash = await cli(
      "render",
      "examples/cn-traffic-faster-rcnn.yaml",
      "--namespace",
      "other",
    );
    expect(clash.code).toBe(2);
    expect(clash.err).toContain("contradicts");
  });

  it("a local dataset path cannot go to a cluster", async () => {
    const r = await cli("submit", "test/fixtures/local-dataset.yaml", "--dry-run");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/local path/);
  });

  it("unknown options are usage errors (exit 2)", async () => {
    const r = await cli("render", "--nope");
    expect(r.code).toBe(2);
  });

  it("config prints the MMDetection config with a chosen data root", async () => {
    const r = await cli("config", "examples/quickstart.yaml", "--data-root", "/tmp/data");
    expect(r.code).toBe(0);
    expect(r.out).toContain("data_root = '/tmp/data/'");
    expect(r.out).toContain("_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'");
  });

  it("runs as a process through the bin with real exit codes and streams", async () => {
    const ok = await exec("node", ["bin/yunshi.js", "validate", "examples/quickstart.yaml"]);
    expect(ok.stdout).toContain("quickstart");
    const bad = await exec("node", [
      "bin/yunshi.js",
      "validate",
      "test/fixtures/invalid-loss-scale.yaml",
    ]).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2, stdout: "" });
    expect((bad as { stderr: string }).stderr).toContain("train.lossScale");
  });
});

describe("yunshi CLI in a pipeline", () => {
  it("ends quietly with exit 0 when the reader closes the pipe (`| head -1`)", async () => {
    // A fixed command line (no user input): the shell is only the pipeline.
    const bin = join(import.meta.dirname, "..", "bin", "yunshi.js");
    const { stdout, stderr } = await promisify(execFile)(
      "bash",
      ["-c", `set -o pipefail; node ${JSON.stringify(bin)} --help | head -1`],
      { encoding: "utf8" },
    );
    expect(stdout).toMatch(/^Usage: yunshi/);
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
  });
});
