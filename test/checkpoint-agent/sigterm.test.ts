import { createHash } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { MANIFEST_KEY } from "../../images/checkpoint-agent/src/layout.ts";
import { parseManifest } from "../../images/checkpoint-agent/src/manifest.ts";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.ts";
import {
  agentEnv,
  BUCKET,
  MiB,
  spawnAgent,
  useS3,
  tempDir,
  testStore,
  writeCheckpoint,
} from "./helpers.ts";

const s3 = useS3();
// Requests are held at the proxy while the test signals the agent, so "mid-upload" does not
// depend on how fast this machine uploads (no race against the clock).
let proxy: FaultProxy;
beforeAll(async () => {
  proxy = await startFaultProxy(s3);
});
afterAll(async () => proxy.close());

const hex = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
const slowUpload = ["--interval", "0.1", "--part-size-mib", "5", "--concurrency", "1"];

it("SIGTERM mid-upload: the upload completes, the final sync runs, the checkpoint is committed, exit 0", async () => {
  const work = await tempDir("term-work");
  const prefix = "term/graceful/";
  const agent = spawnAgent(
    [
      "snapshot",
      "--work-dir",
      work,
      "--uri",
      `s3://${BUCKET}/${prefix}`,
      "--keep",
      "2",
      ...slowUpload,
    ],
    agentEnv(proxy.endpoint),
  );
  await agent.waitFor("watching");
  proxy.pause();
  const e1 = await writeCheckpoint(work, "epoch_1.pth", 48 * MiB);
  await agent.waitFor("uploading epoch_1.pth");
  // The trainer saves once more on SIGTERM before the sidecar is told to stop.
  const e2 = await writeCheckpoint(work, "epoch_2.pth", 8 * MiB);
  agent.child.kill("SIGTERM");
  await agent.waitFor("SIGTERM: finishing");
  proxy.resume();
  const { code } = await agent.done;
  expect(code, agent.stderr()).toBe(0);
  expect(agent.stderr()).toMatch(
    /SIGTERM: finishing the upload in flight[\s\S]*committed epoch_1\.pth[\s\S]*committed epoch_2\.pth/,
  );
  const store = testStore(s3.endpoint);
  const m = parseManifest((await store.getText(`${prefix}${MANIFEST_KEY}`)) ?? "", "m");
  expect(m.history.map((e) => [e.file, e.sha256])).toEqual([
    ["epoch_2.pth", hex(e2)],
    ["epoch_1.pth", hex(e1)],
  ]);
});

it("a second SIGTERM aborts: exit 1, and the manifest names only complete uploads", async () => {
  const work = await tempDir("term-work");
  const prefix = "term/hard/";
  const e1 = await writeCheckpoint(work, "epoch_1.pth", 6 * MiB);
  const agent = spawnAgent(
    [
      "snapshot",
      "--work-dir",
      work,
      "--uri",
      `s3://${BUCKET}/${prefix}`,
      "--keep",
      "2",
      ...slowUpload,
    ],
    agentEnv(proxy.endpoint),
  );
  await agent.waitFor("committed epoch_1.pth");
  proxy.pause();
  await writeCheckpoint(work, "epoch_2.pth", 96 * MiB);
  await agent.waitFor("uploading epoch_2.pth");
  agent.child.kill("SIGTERM");
  await agent.waitFor("SIGTERM: finishing");
  agent.child.kill("SIGTERM");
  const { code } = await agent.done;
  proxy.resume();
  expect(code, agent.stderr()).toBe(1);
  expect(agent.stderr()).not.toContain("committed epoch_2.pth");
  const store = testStore(s3.endpoint);
  const m = parseManifest((await store.getText(`${prefix}${MANIFEST_KEY}`)) ?? "", "m");
  expect(m.history.map((e) => [e.file, e.sha256])).toEqual([["epoch_1.pth", hex(e1)]]);
  // The abandoned multipart upload was never completed, so no object is readable.
  expect(await store.head(`${prefix}checkpoints/epoch_2.pth`)).toBeUndefined();
});
