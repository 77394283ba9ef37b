import { createHash, randomBytes } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { crc32Base64 } from "../../images/checkpoint-agent/src/checksum.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANIFEST_KEY } from "../../images/checkpoint-agent/src/layout.ts";
import { parseManifest } from "../../images/checkpoint-agent/src/manifest.ts";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.ts";
import {
  agentEnv,
  BUCKET,
  MiB,
  runAgent,
  startS3,
  tempDir,
  testStore,
  writeCheckpoint,
  type S3Server,
} from "./helpers.ts";

let s3: S3Server;
let proxy: FaultProxy;
beforeAll(async () => {
  s3 = await startS3();
  proxy = await startFaultProxy(s3);
});
afterAll(async () => {
  await proxy.close();
  await s3.close();
});

/** Commit epoch_1..n through the real agent and return what was written. */
async function commitEpochs(prefix: string, n: number, size: number): Promise<Buffer[]> {
  const work = await tempDir("faults-work");
  const out: Buffer[] = [];
  for (let e = 1; e <= n; e++) {
    out.push(await writeCheckpoint(work, `epoch_${e}.pth`, size));
    const r = await runAgent(
      [
        "snapshot",
        "--work-dir",
        work,
        "--uri",
        `s3://${BUCKET}/${prefix}`,
        "--keep",
        "5",
        "--once",
      ],
      agentEnv(s3.endpoint),
    );
    expect(r.code, r.stderr).toBe(0);
  }
  return out;
}

describe("corrupted or missing objects", () => {
  it("falls back to the previous committed checkpoint when the newest is truncated", async () => {
    const prefix = "faults/truncated/";
    const data = await commitEpochs(prefix, 3, 6 * MiB);
    const store = testStore(s3.endpoint);
    const cut = (data[2] as Buffer).subarray(0, 4 * MiB);
    await store.putObject(`${prefix}checkpoints/epoch_3.pth`, cut, {
      crc32Base64: crc32Base64(cut),
    });
    const dest = await tempDir("faults-restore");
    const r = await runAgent(
      ["restore", "--work-dir", dest, "--uri", `s3://${BUCKET}/${prefix}`],
      agentEnv(s3.endpoint),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("epoch_3.pth failed verification");
    expect(r.json?.["restored"]).toMatchObject({ file: "epoch_2.pth" });
    expect(r.json?.["fellBackFrom"]).toMatchObject([{ file: "epoch_3.pth" }]);
    expect((await readFile(join(dest, "epoch_2.pth"))).equals(data[1] as Buffer)).toBe(true);
    expect((await readFile(join(dest, "last_checkpoint"), "utf8")).trim()).toBe(
      join(dest, "epoch_2.pth"),
    );
    expect(await readdir(dest)).not.toContain("epoch_3.pth");
  });

  it("falls back past a same-size corrupted object and a deleted one, and refuses when none verify", async () => {
    const prefix = "faults/corrupt/";
    const data = await commitEpochs(prefix, 3, 6 * MiB);
    const store = testStore(s3.endpoint);
    const flipped = Buffer.from(data[2] as Buffer);
    flipped[12345] = (flipped[12345] ?? 0) ^ 0xff;
    await store.putObject(`${prefix}checkpoints/epoch_3.pth`, flipped, {
      crc32Base64: crc32Base64(flipped),
    });
    await store.delete(`${prefix}checkpoints/epoch_2.pth`);
    const dest = await tempDir("faults-restore");
    const r = await runAgent(
      ["restore", "--work-dir", dest, "--uri", `s3://${BUCKET}/${prefix}`],
      agentEnv(s3.endpoint),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.json?.["restored"]).toMatchObject({ file: "epoch_1.pth" });
    expect((await readFile(join(dest, "epoch_1.pth"))).equals(data[0] as Buffer)).toBe(true);
    expect((await readdir(dest)).sort()).toEqual(["epoch_1.pth", "last_checkpoint"]);

    const junk = randomBytes(6 * MiB);
    await store.putObject(`${prefix}checkpoints/epoch_1.pth`, junk, {
      crc32Base64: crc32Base64(junk),
    });
    const dest2 = await tempDir("faults-restore");
    const r2 = await runAgent(
      ["restore", "--work-dir", dest2, "--uri", `s3://${BUCKET}/${prefix}`],
      agentEnv(s3.endpoint),
    );
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain("refusing to start training from a broken checkpoint");
    expect(await readdir(dest2)).toEqual([]);
  });
});

describe("a flaky endpoint (500, 503 SlowDown, resets, cut bodies) that recovers", () => {
  it("snapshot and restore complete once the server recovers", async () => {
    const prefix = "faults/flaky/";
    const work = await tempDir("flaky-work");
    const data = await writeCheckpoint(work, "epoch_1.pth", 20 * MiB);
    const env = agentEnv(proxy.endpoint);
    const before = { ...proxy.injected };
    // By request count, not a time window: the faults land however late the agent starts.
    // After bucket check, manifest read and log listing: five in a row on the multipart
    // upload, more than the SDK's own 3 attempts, so the agent's retry layer must act.
    proxy.failRequests({
      after: 3,
      count: 5,
      every: 1,
      kinds: ["500", "reset", "503", "500", "reset"],
    });
    const up = await runAgent(
      [
        "snapshot",
        "--work-dir",
        work,
        "--uri",
        `s3://${BUCKET}/${prefix}`,
        "--keep",
        "2",
        "--once",
        "--part-size-mib",
        "5",
      ],
      env,
    );
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain("retrying after error");
    const manifest = parseManifest(
      (await testStore(s3.endpoint).getText(`${prefix}${MANIFEST_KEY}`)) ?? "",
      "m",
    );
    expect(manifest.latest?.sha256).toBe(createHash("sha256").update(data).digest("hex"));

    const dest = await tempDir("flaky-restore");
    const total = (c: Record<string, number>): number =>
      Object.values(c).reduce((a, b) => a + b, 0);
    const beforeRestore = total(proxy.injected);
    // After bucket check, manifest read, log listing and HEAD: on the ranged GETs.
    proxy.failRequests({
      after: 4,
      count: 5,
      every: 1,
      kinds: ["truncate", "503", "reset", "truncate", "500"],
    });
    const down = await runAgent(
      ["restore", "--work-dir", dest, "--uri", `s3://${BUCKET}/${prefix}`, "--part-size-mib", "5"],
      env,
    );
    expect(down.code, down.stderr).toBe(0);
    // All five faults landed during the restore (the SDK's own retries may absorb them).
    expect(total(proxy.injected) - beforeRestore, JSON.stringify(proxy.injected)).toBe(5);
    expect((await readFile(join(dest, "epoch_1.pth"))).equals(data)).toBe(true);
    const injected = Object.entries(proxy.injected).map(
      ([k, v]) => v - (before[k as keyof typeof before] ?? 0),
    );
    expect(
      injected.every((n) => n > 0),
      JSON.stringify(proxy.injected),
    ).toBe(true);
  });

  it("gives up with exit 1 when the server stays down", async () => {
    const dest = await tempDir("down-restore");
    proxy.failAll(["503"]);
    try {
      const r = await runAgent(
        ["restore", "--work-dir", dest, "--uri", `s3://${BUCKET}/faults/flaky/`],
        agentEnv(proxy.endpoint, { YUNSHI_S3_MAX_ATTEMPTS: "2" }),
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/SlowDown|503/);
      expect(await readdir(dest).catch(() => [])).toEqual([]);
    } finally {
      proxy.recover();
    }
  });
});
