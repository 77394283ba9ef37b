import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";
import { MANIFEST_KEY } from "../../images/checkpoint-agent/src/layout.ts";
import { parseManifest } from "../../images/checkpoint-agent/src/manifest.ts";
import {
  agentEnv,
  BUCKET,
  MiB,
  spawnAgent,
  useS3,
  tempDir,
  testStore,
  writeCheckpoint,
  writePth,
} from "./helpers.ts";

const s3 = useS3();

it("keeps exactly the newest --keep checkpoints plus the best, which is never pruned", async () => {
  const work = await tempDir("prune-work");
  const prefix = "prune/exp/";
  const agent = spawnAgent(
    [
      "snapshot",
      ...[
        "--work-dir",
        work,
        "--uri",
        `s3://${BUCKET}/${prefix}`,
        "--keep",
        "2",
        "--best",
        "coco/bbox_mAP",
      ],
      ...["--interval", "0.1"],
    ],
    agentEnv(s3.endpoint),
  );
  await agent.waitFor("watching");
  // MMEngine order per epoch: epoch_N.pth + last_checkpoint, then validation may write
  // best_coco_bbox_mAP_epoch_N.pth and delete the previous best.
  const bestAt = new Set([1, 2, 3]);
  let prevBest: string | undefined;
  for (let epoch = 1; epoch <= 6; epoch++) {
    await writeCheckpoint(work, `epoch_${epoch}.pth`, MiB + epoch);
    await agent.waitFor(`committed epoch_${epoch}.pth`);
    if (bestAt.has(epoch)) {
      const best = `best_coco_bbox_mAP_epoch_${epoch}.pth`;
      await writePth(join(work, best), randomBytes(MiB));
      if (prevBest !== undefined) await rm(join(work, prevBest));
      prevBest = best;
    }
  }
  await agent.waitFor("committed best checkpoint best_coco_bbox_mAP_epoch_3.pth");
  agent.child.kill("SIGTERM");
  const { code } = await agent.done;
  expect(code, agent.stderr()).toBe(0);
  const store = testStore(s3.endpoint);
  const keys = (await store.list(`${prefix}checkpoints/`))
    .map((o) => o.key.slice(prefix.length))
    .sort();
  expect(keys).toEqual([
    "checkpoints/LATEST.json",
    "checkpoints/best_coco_bbox_mAP_epoch_3.pth",
    "checkpoints/epoch_5.pth",
    "checkpoints/epoch_6.pth",
  ]);
  const m = parseManifest((await store.getText(`${prefix}${MANIFEST_KEY}`)) ?? "", "m");
  expect(m.history.map((e) => e.file)).toEqual(["epoch_6.pth", "epoch_5.pth"]);
  expect(m.best?.file).toBe("best_coco_bbox_mAP_epoch_3.pth");
});

it("at the final sync, commits a best file written after the last checkpoint once it is stable", async () => {
  const work = await tempDir("prune-work");
  const prefix = "prune/final-best/";
  await writeCheckpoint(work, "epoch_12.pth", MiB);
  await writePth(join(work, "best_coco_bbox_mAP_epoch_12.pth"), randomBytes(MiB));
  const agent = spawnAgent(
    [
      "snapshot",
      "--work-dir",
      work,
      "--uri",
      `s3://${BUCKET}/${prefix}`,
      "--keep",
      "1",
      "--best",
      "coco/bbox_mAP",
    ],
    agentEnv(s3.endpoint),
  );
  await agent.waitFor("committed epoch_12.pth");
  expect(agent.stderr()).not.toContain("best_coco_bbox_mAP_epoch_12.pth");
  agent.child.kill("SIGTERM");
  const { code } = await agent.done;
  expect(code, agent.stderr()).toBe(0);
  const m = parseManifest(
    (await testStore(s3.endpoint).getText(`${prefix}${MANIFEST_KEY}`)) ?? "",
    "m",
  );
  expect(m.best?.file).toBe("best_coco_bbox_mAP_epoch_12.pth");
  expect(m.latest?.file).toBe("epoch_12.pth");
});
