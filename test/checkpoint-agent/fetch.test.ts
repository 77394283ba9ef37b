import { randomBytes } from "node:crypto";
import { readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { crc32Base64 } from "../../images/checkpoint-agent/src/checksum.ts";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  agentEnv,
  BUCKET,
  MiB,
  runAgent,
  startS3,
  tempDir,
  testStore,
  type S3Server,
} from "./helpers.ts";

let s3: S3Server;
const files: Record<string, Buffer> = {
  "annotations/instances_train.json": Buffer.from('{"categories":[{"id":1,"name":"行人"}]}'),
  "images/train/000001.jpg": randomBytes(300_000),
  "images/train/000002.jpg": randomBytes(0),
  "images/val/000003.jpg": randomBytes(11 * MiB),
};
beforeAll(async () => {
  s3 = await startS3();
  const store = testStore(s3.endpoint);
  for (const [rel, data] of Object.entries(files)) {
    await store.putObject(`datasets/coco-mini/${rel}`, data, {
      crc32Base64: crc32Base64(data),
    });
  }
  const weights = randomBytes(7 * MiB);
  files["weights"] = weights;
  await store.putObject("models/faster_rcnn_r50.pth", weights, {
    crc32Base64: crc32Base64(weights),
  });
});
afterAll(async () => s3.close());

it("fetches every object under a prefix, in parallel, then skips what is already there", async () => {
  const dest = join(await tempDir("fetch"), "data");
  const args = [
    "fetch",
    "--uri",
    `s3://${BUCKET}/datasets/coco-mini/`,
    "--dest",
    dest,
    "--part-size-mib",
    "5",
  ];
  const r = await runAgent(args, agentEnv(s3.endpoint));
  expect(r.code, r.stderr).toBe(0);
  expect(r.json).toMatchObject({ command: "fetch", files: 4, skipped: 0 });
  for (const [rel, data] of Object.entries(files)) {
    if (rel === "weights") continue;
    expect((await readFile(join(dest, rel))).equals(data), rel).toBe(true);
  }
  const mtime = (await stat(join(dest, "images/val/000003.jpg"))).mtimeMs;
  const again = await runAgent(args, agentEnv(s3.endpoint));
  expect(again.code, again.stderr).toBe(0);
  expect(again.json).toMatchObject({ files: 0, skipped: 4, bytes: 0 });
  expect((await stat(join(dest, "images/val/000003.jpg"))).mtimeMs).toBe(mtime);
});

it("fetches one object when the URI names it", async () => {
  const dest = await tempDir("fetch-one");
  const r = await runAgent(
    ["fetch", "--uri", `s3://${BUCKET}/models/faster_rcnn_r50.pth`, "--dest", dest],
    agentEnv(s3.endpoint),
  );
  expect(r.code, r.stderr).toBe(0);
  expect((await readdir(dest)).filter((n) => !n.startsWith("."))).toEqual(["faster_rcnn_r50.pth"]);
  expect(
    (await readFile(join(dest, "faster_rcnn_r50.pth"))).equals(files["weights"] as Buffer),
  ).toBe(true);
});

it("a URI with nothing behind it is an input error (exit 2) and creates nothing", async () => {
  const parent = await tempDir("fetch-none");
  const r = await runAgent(
    ["fetch", "--uri", `s3://${BUCKET}/datasets/typo/`, "--dest", join(parent, "d")],
    agentEnv(s3.endpoint),
  );
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("nothing found at s3://yunshi-test/datasets/typo/");
  expect(await readdir(parent)).toEqual([]);
});
