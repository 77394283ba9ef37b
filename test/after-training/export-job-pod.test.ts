/**
 * The export Job's pod, rehearsed on this machine with the real programs its containers run
 * (pod-rehearsal.ts): the checkpoint agent against a real S3 protocol server, and
 * yunshi_export.py in .venv/. What the renderer writes into argv is what the agent and the
 * export script understand, and nothing unverified reaches the bucket:
 * - a checkpoint that is not the committed one (its SHA-256 differs) stops the pod at the
 *   export (exit 2), and the upload never runs;
 * - a trained quickstart model (YUNSHI_TRAINED_QUICKSTART=<best_….pth>, e.g. from
 *   `npm run submit -- examples/quickstart.yaml --local`, under .yunshi/runs/quickstart/work/)
 *   exports, verifies on pictures fetched from S3, and lands under exports/onnx/.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32Base64 } from "../../images/checkpoint-agent/src/checksum.ts";
import type { ObjectStore } from "../../images/checkpoint-agent/src/object-store.ts";
import { resolveS3Config } from "../../images/checkpoint-agent/src/s3-config.ts";
import { createS3Store } from "../../images/checkpoint-agent/src/s3-store.ts";
import { renderExportJob, type ExportJobInput } from "../../jobs/after-training/export-job.ts";
import { defaultPlatformContext } from "../../jobs/platform.ts";
import { startS3 } from "../cluster/harness.ts";
import { REPO, whyNoVenv } from "../local/harness.ts";
import { rehearsePod } from "./pod-rehearsal.ts";

const BUCKET = "acme-training";
const NS = "vision";
const PYTHON = join(REPO, ".venv", "bin", "python");
const noVenv = whyNoVenv();
const trained = process.env.YUNSHI_TRAINED_QUICKSTART;
const VAL = join(REPO, "examples", "data", "quickstart", "images");

describe.skipIf(noVenv !== undefined)("the export pod, rehearsed with the real programs", () => {
  let s3: { endpoint: string; close(): Promise<void> };
  let store: ObjectStore;
  let root = "";
  const credentials = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" };

  beforeAll(async () => {
    s3 = await startS3(BUCKET);
    root = await mkdtemp(join(tmpdir(), "yunshi-export-pod-"));
    store = createS3Store({
      bucket: BUCKET,
      config: resolveS3Config({
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_REGION: "us-east-1",
        YUNSHI_S3_FORCE_PATH_STYLE: "true",
      }),
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      maxSockets: 4,
      log: () => {},
    });
  });
  afterAll(async () => {
    await s3.close();
    await rm(root, { recursive: true, force: true });
  });

  const put = async (key: string, body: Buffer) =>
    store.putObject(key, body, { crc32Base64: crc32Base64(body) });

  /** Uploads the checkpoint and the sample pictures; the Job for them. */
  async function jobFor(
    experiment: string,
    checkpoint: Buffer,
    file: string,
    sha256: string,
  ): Promise<ReturnType<typeof renderExportJob>> {
    await put(`${NS}/${experiment}/checkpoints/${file}`, checkpoint);
    const samples: string[] = [];
    for (const p of ["val_001.png", "val_002.png", "val_003.png", "val_004.png"]) {
      await put(`datasets/quickstart/images/${p}`, readFileSync(join(VAL, p)));
      samples.push(`s3://${BUCKET}/datasets/quickstart/images/${p}`);
    }
    const input: ExportJobInput = {
      experiment,
      namespace: NS,
      format: "onnx",
      platform: {
        ...defaultPlatformContext,
        namespace: NS,
        bucket: BUCKET,
        region: "us-east-1",
        s3Endpoint: s3.endpoint,
      },
      queue: "default",
      checkpoint: { key: `checkpoints/${file}`, sha256, kind: "best" },
      verifyOn: { samples },
      version: "0.1.0",
    };
    return renderExportJob(input);
  }

  const listed = async (prefix: string) => (await store.list(prefix)).map((o) => o.key).sort();

  it("stops at the export when the checkpoint is not the committed one: nothing is uploaded", async () => {
    const bytes = Buffer.from("bytes that replaced the committed checkpoint");
    const committed = createHash("sha256").update("the committed bytes").digest("hex");
    const job = await jobFor("replaced", bytes, "best_coco_bbox_mAP_50_iter_9.pth", committed);
    const runs = await rehearsePod(job, {
      root: join(root, "replaced"),
      python: PYTHON,
      env: credentials,
    });
    expect(runs.map((r) => [r.name, r.code])).toEqual([
      ["fetch-model", 0],
      ["fetch-sample-0", 0],
      ["fetch-sample-1", 0],
      ["fetch-sample-2", 0],
      ["fetch-sample-3", 0],
      ["export", 2],
    ]);
    const exp = runs.at(-1)!;
    expect(exp.stdout).toMatch(
      /"event": "bad-input".*is not the manifest's .*submit the export again/,
    );
    expect(await listed(`${NS}/replaced/exports/`)).toEqual([]);
  });

  describe.skipIf(trained === undefined || !existsSync(trained))(
    "a trained quickstart model (YUNSHI_TRAINED_QUICKSTART)",
    () => {
      it("is exported, verified on pictures fetched from S3, and uploaded, the verdict last", async () => {
        const bytes = readFileSync(trained!);
        const sha = createHash("sha256").update(bytes).digest("hex");
        const job = await jobFor("quickstart", bytes, basename(trained!), sha);
        const started = performance.now();
        const runs = await rehearsePod(job, {
          root: join(root, "trained"),
          python: PYTHON,
          env: credentials,
        });
        const seconds = (performance.now() - started) / 1000;
        const failed = runs.find((r) => r.code !== 0);
        expect(failed, `${failed?.name}: ${failed?.stdout}\n${failed?.stderr}`).toBeUndefined();
        expect(runs.map((r) => r.name)).toEqual([
          "fetch-model",
          "fetch-sample-0",
          "fetch-sample-1",
          "fetch-sample-2",
          "fetch-sample-3",
          "export",
          "push",
        ]);
        const keys = await listed(`${NS}/quickstart/exports/onnx/`);
        for (const f of ["end2end.onnx", "predict.py", "model.json", "verification.json"])
          expect(keys).toContain(`${NS}/quickstart/exports/onnx/${f}`);
        const verdict = JSON.parse(
          (await store.getText(`${NS}/quickstart/exports/onnx/verification.json`)) ?? "{}",
        ) as {
          verified: boolean;
          pictures: { file: string; detections: number; max_box_diff_px: number }[];
          export_seconds: number;
          median_pytorch_ms: number;
          median_onnxruntime_ms: number;
        };
        expect(verdict.verified).toBe(true);
        expect(verdict.pictures).toHaveLength(4);
        const push = JSON.parse(runs.at(-1)!.stdout.trim().split("\n").at(-1)!) as {
          keys: string[];
        };
        expect(push.keys.at(-1)).toBe(`${NS}/quickstart/exports/onnx/verification.json`);
        const detections = verdict.pictures.reduce((n, p) => n + p.detections, 0);
        const box = Math.max(...verdict.pictures.map((p) => p.max_box_diff_px));
        console.log(
          `export pod rehearsed in ${seconds.toFixed(1)} s (torch2onnx ${verdict.export_seconds} s); ` +
            `${detections} detections compared, max box diff ${box} px; ` +
            `median CPU latency PyTorch ${verdict.median_pytorch_ms} ms, ONNX Runtime ${verdict.median_onnxruntime_ms} ms`,
        );
      }, 600_000);
    },
  );
});
