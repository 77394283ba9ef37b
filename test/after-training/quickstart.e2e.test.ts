/**
 * After the first run (issue 13), end to end on CPU with real MMDetection in .venv/:
 * the quickstart trains (`submit --local`) to a detector that works (val bbox_mAP_50 ≥ 0.5),
 * and then, on that run's store:
 * - `predict quickstart <pictures>` finds the best committed checkpoint, writes a PNG per
 *   picture and detections.json, and finds the objects the annotations say are there;
 * - `export quickstart --format onnx` exports with MMDeploy, verifies ONNX Runtime against
 *   PyTorch and uploads under exports/onnx/;
 * - `tensorboard quickstart` syncs the real event files from the embedded store and serves
 *   them: TensorBoard's run list names the run;
 * - the end of the run says how to try the model (the predict line) and the best score.
 * One training run for all of it, so the file does not compete with itself for the CPU.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, beforeAll } from "vitest";
import { freePort } from "../../jobs/local/machine.ts";
import { REPO, startLocalRun, storedKeys, whyNoVenv } from "../local/harness.ts";

const SPEC = "examples/quickstart.yaml";
const VAL = join(REPO, "examples", "data", "quickstart");
const noVenv = whyNoVenv();

interface Cli {
  code: number;
  out: string;
  err: string;
}

function cli(
  args: readonly string[],
  opts: { until?: RegExp } = {},
): Promise<Cli & { url?: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(REPO, "jobs", "cli.ts"), ...args],
      {
        cwd: REPO,
        env: { ...process.env, KUBECONFIG: "/nonexistent/kubeconfig" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (opts.until?.test(out) === true) child.kill("SIGINT");
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("close", (code) => resolve({ code: code ?? 1, out, err }));
  });
}

interface Detection {
  file_name: string;
  category: string;
  category_id: number;
  bbox: number[];
  score: number;
}

describe.skipIf(noVenv !== undefined)("after the quickstart: predict, export, tensorboard", () => {
  let stateDir = "";
  let trainOut = "";

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "yunshi-after-training-"));
    const run = startLocalRun([
      SPEC,
      "--state-dir",
      stateDir,
      "--s3-port",
      String(await freePort()),
    ]);
    const code = await run.exited;
    trainOut = run.text();
    // The figures the README quotes: start-up, validations, total time.
    console.log(
      trainOut
        .split("\n")
        .filter((l) => /first iteration|validation|▸ (Training|Completed)|best |try it/.test(l))
        .join("\n"),
    );
    expect(code, trainOut).toBe(0);
  }, 2_400_000);

  it("the quickstart learns: the last validation has bbox_mAP_50 ≥ 0.5, and the end says how to try it", () => {
    const vals = [...trainOut.matchAll(/coco\/bbox_mAP_50: ([0-9.]+)/g)].map((m) => Number(m[1]));
    expect(vals.length).toBeGreaterThan(0);
    expect(vals.at(-1)).toBeGreaterThanOrEqual(0.5);
    expect(trainOut).toMatch(/best coco\/bbox_mAP_50 0\.\d+ at epoch \d+/);
    expect(trainOut).toMatch(
      /try it: npm run yunshi -- predict quickstart examples\/data\/quickstart\/images\//,
    );
  });

  it("predict draws the boxes and labels and writes COCO results that find the annotated objects", async () => {
    const out = join(stateDir, "pred");
    const r = await cli([
      "predict",
      "quickstart",
      join(VAL, "images"),
      "-o",
      out,
      "--state-dir",
      stateDir,
    ]);
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toMatch(
      /model: best committed checkpoint s3:\/\/yunshi-local\/local\/quickstart\/checkpoints\/best_coco_bbox_mAP_50_/,
    );
    expect(r.out).toMatch(/\[60\/60\] /);
    const dets = JSON.parse(readFileSync(join(out, "detections.json"), "utf8")) as Detection[];
    expect(existsSync(join(out, "val_001.png"))).toBe(true);
    // Every annotated val object is found with the right class (IoU ≥ 0.5) in most pictures.
    const gt = JSON.parse(readFileSync(join(VAL, "annotations", "val.json"), "utf8")) as {
      images: { id: number; file_name: string }[];
      annotations: { image_id: number; category_id: number; bbox: number[] }[];
    };
    const iou = (a: number[], b: number[]): number => {
      const [ax, ay, aw, ah] = a as [number, number, number, number];
      const [bx, by, bw, bh] = b as [number, number, number, number];
      const w = Math.max(0, Math.min(ax + aw, bx + bw) - Math.max(ax, bx));
      const h = Math.max(0, Math.min(ay + ah, by + bh) - Math.max(ay, by));
      return (w * h) / (aw * ah + bw * bh - w * h);
    };
    let found = 0;
    for (const a of gt.annotations) {
      const file = gt.images.find((i) => i.id === a.image_id)?.file_name ?? "";
      if (
        dets.some(
          (d) =>
            d.file_name.endsWith(`/${file}`) &&
            d.category_id === a.category_id &&
            iou(d.bbox, a.bbox) >= 0.5,
        )
      )
        found++;
    }
    expect(found / gt.annotations.length).toBeGreaterThanOrEqual(0.7);
    expect(new Set(dets.map((d) => d.category))).toEqual(new Set(["行人", "车辆"]));
  }, 600_000);

  it("export writes a verified ONNX model and uploads it next to the checkpoints", async () => {
    const out = join(stateDir, "onnx");
    const r = await cli([
      "export",
      "quickstart",
      "--format",
      "onnx",
      "-o",
      out,
      "--state-dir",
      stateDir,
    ]);
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toMatch(/verified: ONNX Runtime agrees with PyTorch/);
    const report = JSON.parse(readFileSync(join(out, "verification.json"), "utf8")) as {
      verified: boolean;
      pictures: { detections: number; problems: string[] }[];
    };
    expect(report.verified).toBe(true);
    expect(report.pictures.reduce((n, p) => n + p.detections, 0)).toBeGreaterThan(0);
    const keys = await storedKeys(stateDir, "local/quickstart/exports/onnx/");
    for (const f of [
      "end2end.onnx",
      "deploy_config.py",
      "model.json",
      "predict.py",
      "verification.json",
    ])
      expect(keys.get(f), f).toBeGreaterThan(0);
  }, 900_000);

  it("tensorboard syncs the run's event files and serves them", async () => {
    const port = await freePort();
    let runs: unknown;
    const r = await new Promise<Cli>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          join(REPO, "jobs", "cli.ts"),
          "tensorboard",
          "quickstart",
          "--port",
          String(port),
          "--state-dir",
          stateDir,
        ],
        {
          cwd: REPO,
          stdio: ["ignore", "pipe", "pipe"],
          env: { ...process.env, KUBECONFIG: "/nonexistent" },
        },
      );
      let out = "";
      let err = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        if (/TensorBoard: http/.test(d))
          void fetch(`http://127.0.0.1:${port}/data/runs`)
            .then((x) => x.json())
            .then((j: unknown) => {
              runs = j;
            })
            .finally(() => child.kill("SIGINT"));
      });
      child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
      child.on("close", (code) => resolve({ code: code ?? 1, out, err }));
    });
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toMatch(/synced \d+ file\(s\) of s3:\/\/yunshi-local\/local\/quickstart\/logs\//);
    expect(Array.isArray(runs) && runs.length).toBeGreaterThan(0);
    expect((runs as string[]).some((x) => /vis_data/.test(x))).toBe(true);
    expect(existsSync(join(stateDir, "tensorboard", "quickstart"))).toBe(true);
  }, 300_000);

  it("bad input: unknown experiment, no picture, an undecodable picture", async () => {
    const unknown = await cli([
      "predict",
      "no-such-experiment",
      join(VAL, "images", "val_001.png"),
      "--state-dir",
      stateDir,
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown experiment "no-such-experiment"/);
    const missing = await cli(["predict", "quickstart", "nope.png", "--state-dir", stateDir]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope\.png: no such file or folder/);
    const bad = join(stateDir, "broken.jpg");
    await import("node:fs/promises").then((fs) => fs.writeFile(bad, "not a picture"));
    const undecodable = await cli([
      "predict",
      "quickstart",
      bad,
      "-o",
      join(stateDir, "x"),
      "--state-dir",
      stateDir,
    ]);
    expect(undecodable.code).toBe(2);
    expect(undecodable.err).toMatch(/cannot be decoded/);
    expect(existsSync(join(stateDir, "x"))).toBe(false);
  }, 300_000);
});
