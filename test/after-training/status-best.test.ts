/**
 * `yunshi status <name>` shows the best validation score so far and its epoch: the
 * manifest names the save_best checkpoint, the synced scalars.json holds the score
 * (fake Kubernetes API server + a real S3 protocol server).
 */
import { afterEach, beforeEach, expect, test } from "vitest";
import { saveManifest } from "../../images/checkpoint-agent/src/manifest-io.ts";
import { crc32Base64 } from "../../images/checkpoint-agent/src/checksum.ts";
import { resolveS3Config } from "../../images/checkpoint-agent/src/s3-config.ts";
import { createS3Store } from "../../images/checkpoint-agent/src/s3-store.ts";
import { cli, startCluster, startS3, writeSpec } from "../cluster/harness.ts";
import type { Cluster } from "../cluster/harness.ts";

let c: Cluster;
beforeEach(async () => {
  c = await startCluster();
});
afterEach(async () => {
  await c.close();
});

test("status <name> shows the best metric and the epoch it came from", async () => {
  const s3 = await startS3("acme-training");
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_REGION: "us-east-1",
    YUNSHI_S3_FORCE_PATH_STYLE: "true",
    AWS_EC2_METADATA_DISABLED: "true",
  });
  delete process.env.AWS_CA_BUNDLE;
  try {
    const r = await cli(
      "submit",
      writeSpec(c.dir, (s) => (s.name = "cn-traffic-frcnn")),
    );
    expect(r.code, r.err).toBe(0);
    const store = createS3Store({
      bucket: "acme-training",
      config: resolveS3Config(process.env),
      maxSockets: 2,
      log: () => {},
    });
    const prefix = "vision/cn-traffic-frcnn/";
    const entry = (file: string, epoch: number) => ({
      file,
      key: `checkpoints/${file}`,
      relPath: file,
      path: `/yunshi/work/${file}`,
      bytes: 1024,
      sha256: "a".repeat(64),
      epoch,
      time: "2026-11-28T09:40:00Z",
    });
    await saveManifest(store, prefix, {
      version: 1,
      latest: entry("epoch_9.pth", 9),
      history: [entry("epoch_9.pth", 9)],
      best: entry("best_coco_bbox_mAP_epoch_6.pth", 6),
      updated: "2026-11-28T09:40:00Z",
    });
    const scalars = Buffer.from(
      [
        '{"loss": 1.2, "step": 100}',
        '{"coco/bbox_mAP": 0.301, "coco/bbox_mAP_50": 0.52, "step": 3}',
        '{"coco/bbox_mAP": 0.374, "coco/bbox_mAP_50": 0.58, "step": 6}',
        '{"coco/bbox_mAP": 0.366, "coco/bbox_mAP_50": 0.59, "step": 9}',
      ].join("\n"),
    );
    await store.putObject(`${prefix}logs/20261128_090000/vis_data/scalars.json`, scalars, {
      crc32Base64: crc32Base64(scalars),
    });

    const text = await cli("status", "cn-traffic-frcnn");
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(
      /^best {9}coco\/bbox_mAP 0\.3740 at epoch 6 \(best_coco_bbox_mAP_epoch_6\.pth\)$/m,
    );
    const json = await cli("status", "cn-traffic-frcnn", "-o", "json");
    expect((JSON.parse(json.out) as { bestMetric: unknown }).bestMetric).toEqual({
      metric: "coco/bbox_mAP",
      value: 0.374,
      epoch: 6,
      file: "best_coco_bbox_mAP_epoch_6.pth",
    });
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await s3.close();
  }
});
