/**
 * A checkpoint of many parts fetched in parallel (5 MiB parts, 8 in flight), whose SHA-256
 * is computed in order as the parts arrive (download.ts): through the real agent and
 * s3rver the bytes come back exactly, and one flipped byte in the last part still fails
 * verification and falls back.
 */
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";
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

it("restores a big checkpoint byte for byte and falls back past a flipped byte in one", async () => {
  const prefix = "big/exp/";
  const work = await tempDir("big-src");
  const snapshot = async (): Promise<void> => {
    const r = await runAgent(
      [
        "snapshot",
        "--work-dir",
        work,
        "--uri",
        `s3://${BUCKET}/${prefix}`,
        "--keep",
        "3",
        "--once",
      ],
      agentEnv(s3.endpoint),
    );
    expect(r.code, r.stderr).toBe(0);
  };
  const first = await writeCheckpoint(work, "epoch_1.pth", 40 * MiB + 7);
  await snapshot();
  const second = await writeCheckpoint(work, "epoch_2.pth", 36 * MiB + 1);
  await snapshot();

  const dest = await tempDir("big-restore");
  const args = ["restore", "--work-dir", dest, "--uri", `s3://${BUCKET}/${prefix}`];
  const r = await runAgent([...args, "--part-size-mib", "5"], agentEnv(s3.endpoint));
  expect(r.code, r.stderr).toBe(0);
  expect(r.json?.["restored"]).toMatchObject({ file: "epoch_2.pth" });
  expect((await readFile(join(dest, "epoch_2.pth"))).equals(second)).toBe(true);

  const flipped = Buffer.from(second);
  flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0x01;
  await testStore(s3.endpoint).putObject(`${prefix}checkpoints/epoch_2.pth`, flipped, {
    crc32Base64: crc32Base64(flipped),
  });
  const dest2 = await tempDir("big-restore");
  const r2 = await runAgent(
    [...args.slice(0, 2), dest2, ...args.slice(3), "--part-size-mib", "5"],
    agentEnv(s3.endpoint),
  );
  expect(r2.code, r2.stderr).toBe(0);
  expect(r2.stderr).toMatch(
    /epoch_2\.pth failed verification \(epoch_2\.pth: sha256 [0-9a-f]{64}, expected/,
  );
  expect(r2.json?.["restored"]).toMatchObject({ file: "epoch_1.pth" });
  expect((await readFile(join(dest2, "epoch_1.pth"))).equals(first)).toBe(true);
  expect((await readdir(dest2)).sort()).toEqual(["epoch_1.pth", "last_checkpoint"]);
}, 180_000);
