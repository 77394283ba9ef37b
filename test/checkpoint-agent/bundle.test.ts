/**
 * The agent as the image ships it: the single-file bundle from images/checkpoint-agent/build.ts,
 * whose range workers run from code inlined in that file (not from range-worker.ts, which
 * the other tests load through tsx). A checkpoint of several parts restores byte for byte
 * through it, and one flipped byte still fails verification and falls back: nothing
 * unverified is placed on this path either.
 */
import { spawn } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { bundleAgent } from "../../images/checkpoint-agent/build.ts";
import { crc32Base64 } from "../../images/checkpoint-agent/src/checksum.ts";
import {
  agentEnv,
  BUCKET,
  MiB,
  runAgent,
  tempDir,
  testStore,
  useS3,
  writeCheckpoint,
} from "./helpers.ts";

const s3 = useS3();
let bundle = "";

beforeAll(async () => {
  bundle = join(await tempDir("agent-bundle"), "yunshi-checkpoint-agent.cjs");
  await bundleAgent(bundle);
}, 120_000);

function runBundle(
  args: readonly string[],
): Promise<{ code: number | null; stderr: string; json: Record<string, unknown> }> {
  const child = spawn(process.execPath, [bundle, ...args], {
    env: agentEnv(s3.endpoint),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  return new Promise((resolve) =>
    child.on("exit", (code) =>
      resolve({
        code,
        stderr: err,
        json: JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>,
      }),
    ),
  );
}

it("the bundled agent restores through its inlined range workers and still verifies", async () => {
  const prefix = "bundle/exp/";
  const uri = `s3://${BUCKET}/${prefix}`;
  const work = await tempDir("bundle-src");
  const first = await writeCheckpoint(work, "epoch_1.pth", 11 * MiB + 3);
  const snap = ["snapshot", "--work-dir", work, "--uri", uri, "--keep", "3", "--once"];
  expect((await runAgent(snap, agentEnv(s3.endpoint))).code).toBe(0);
  const second = await writeCheckpoint(work, "epoch_2.pth", 17 * MiB + 5);
  expect((await runAgent(snap, agentEnv(s3.endpoint))).code).toBe(0);

  const dest = await tempDir("bundle-restore");
  const r = await runBundle(["restore", "--work-dir", dest, "--uri", uri, "--part-size-mib", "5"]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.json["restored"]).toMatchObject({ file: "epoch_2.pth" });
  expect((await readFile(join(dest, "epoch_2.pth"))).equals(second)).toBe(true);

  // One flipped byte in the middle part of four.
  const flipped = Buffer.from(second);
  const at = 8 * MiB;
  flipped[at] = (flipped[at] ?? 0) ^ 0x40;
  await testStore(s3.endpoint).putObject(`${prefix}checkpoints/epoch_2.pth`, flipped, {
    crc32Base64: crc32Base64(flipped),
  });
  const dest2 = await tempDir("bundle-restore");
  const r2 = await runBundle([
    "restore",
    "--work-dir",
    dest2,
    "--uri",
    uri,
    "--part-size-mib",
    "5",
  ]);
  expect(r2.code, r2.stderr).toBe(0);
  expect(r2.stderr).toMatch(
    /epoch_2\.pth failed verification \(epoch_2\.pth: sha256 [0-9a-f]{64}, expected/,
  );
  expect(r2.json["restored"]).toMatchObject({ file: "epoch_1.pth" });
  expect((await readFile(join(dest2, "epoch_1.pth"))).equals(first)).toBe(true);
  expect((await readdir(dest2)).sort()).toEqual(["epoch_1.pth", "last_checkpoint"]);
}, 180_000);
