import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MANIFEST_KEY } from "../../images/checkpoint-agent/src/layout.ts";
import { parseManifest } from "../../images/checkpoint-agent/src/manifest.ts";
import {
  agentEnv,
  BUCKET,
  MiB,
  runAgent,
  spawnAgent,
  useS3,
  tempDir,
  testStore,
  writeCheckpoint,
  writePth,
} from "./helpers.ts";
import { randomBytes } from "node:crypto";

const s3 = useS3();

describe("snapshot → restore round trip", () => {
  it("commits epoch_1..3 as MMEngine writes them and restores the newest byte for byte", async () => {
    const work = await tempDir("work");
    const uri = `s3://${BUCKET}/rt/exp-1/`;
    const env = agentEnv(s3.endpoint);
    const logDir = join(work, "20261127_120000");
    await mkdir(join(logDir, "vis_data"), { recursive: true });
    const logText = "2026/11/27 12:00:00 - mmengine - INFO - Epoch(train) [1][50/500] loss: 1.2\n";
    await writeFile(join(logDir, "20261127_120000.log"), logText);
    const events = randomBytes(3000);
    await writeFile(join(logDir, "vis_data", "events.out.tfevents.1.host"), events);
    await writeFile(join(work, "goodput.json"), '{"goodput":0.93}\n');

    const agent = spawnAgent(
      [
        "snapshot",
        "--work-dir",
        work,
        "--uri",
        uri,
        "--keep",
        "3",
        "--interval",
        "0.2",
        "--part-size-mib",
        "5",
      ],
      env,
    );
    await agent.waitFor("watching");
    const written: Buffer[] = [];
    for (const epoch of [1, 2, 3]) {
      written.push(await writeCheckpoint(work, `epoch_${epoch}.pth`, 12 * MiB + epoch));
      await agent.waitFor(`committed epoch_${epoch}.pth`);
    }
    agent.child.kill("SIGTERM");
    const { code } = await agent.done;
    expect(code, agent.stderr()).toBe(0);
    const report = JSON.parse(agent.stdout().trim().split("\n").at(-1) ?? "{}") as {
      committed: { file: string }[];
      logs: { files: number };
    };
    expect(report.committed.map((c) => c.file)).toEqual([
      "epoch_1.pth",
      "epoch_2.pth",
      "epoch_3.pth",
    ]);
    expect(report.logs.files).toBe(3);

    const store = testStore(s3.endpoint);
    const manifest = parseManifest(
      (await store.getText(`rt/exp-1/${MANIFEST_KEY}`)) ?? "",
      "manifest",
    );
    expect(manifest.latest?.file).toBe("epoch_3.pth");
    expect(manifest.history.map((e) => e.epoch)).toEqual([3, 2, 1]);

    const fresh = join(await tempDir("restore"), "work");
    const r = await runAgent(["restore", "--work-dir", fresh, "--uri", uri], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json?.["restored"]).toMatchObject({ file: "epoch_3.pth", bytes: 12 * MiB + 3 });
    expect((await readFile(join(fresh, "last_checkpoint"), "utf8")).trim()).toBe(
      join(fresh, "epoch_3.pth"),
    );
    expect((await readFile(join(fresh, "epoch_3.pth"))).equals(written[2] as Buffer)).toBe(true);
    const restoredLogDir = join(fresh, "20261127_120000");
    expect(await readFile(join(restoredLogDir, "20261127_120000.log"), "utf8")).toBe(logText);
    expect(
      (await readFile(join(restoredLogDir, "vis_data", "events.out.tfevents.1.host"))).equals(
        events,
      ),
    ).toBe(true);
    expect(await readFile(join(fresh, "goodput.json"), "utf8")).toBe('{"goodput":0.93}\n');
    expect((await readdir(fresh)).filter((n) => n.includes("yunshi-partial"))).toEqual([]);

    // The sidecar that starts next to the restored trainer must not upload it again.
    const again = await runAgent(
      ["snapshot", "--work-dir", fresh, "--uri", uri, "--keep", "3", "--once"],
      env,
    );
    expect(again.code, again.stderr).toBe(0);
    expect(again.json).toMatchObject({ committed: [], alreadyCommitted: ["epoch_3.pth"] });
    expect(again.json?.["logs"]).toEqual({ files: 0, bytes: 0 });
  });

  it("does not upload a .pth that last_checkpoint does not name yet", async () => {
    const work = await tempDir("work");
    const uri = `s3://${BUCKET}/rt/unnamed/`;
    const env = agentEnv(s3.endpoint);
    await writeCheckpoint(work, "epoch_1.pth", 2 * MiB);
    // epoch_2.pth is (still being) written; MMEngine has not updated last_checkpoint yet.
    await writePth(join(work, "epoch_2.pth"), randomBytes(3 * MiB));
    const r = await runAgent(
      ["snapshot", "--work-dir", work, "--uri", uri, "--keep", "5", "--once"],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const keys = (await testStore(s3.endpoint).list("rt/unnamed/")).map((o) => o.key).sort();
    expect(keys).toEqual([
      "rt/unnamed/checkpoints/LATEST.json",
      "rt/unnamed/checkpoints/epoch_1.pth",
    ]);
  });

  it("on nodes other than 0 the sidecar idles: one writer per manifest", async () => {
    const work = await tempDir("work");
    await writeCheckpoint(work, "epoch_1.pth", MiB);
    const agent = spawnAgent(
      ["snapshot", "--work-dir", work, "--uri", `s3://${BUCKET}/rt/rank1/`, "--keep", "2"],
      agentEnv(s3.endpoint, { YUNSHI_NODE_RANK: "1" }),
    );
    await agent.waitFor("only node 0 snapshots");
    agent.child.kill("SIGTERM");
    expect((await agent.done).code, agent.stderr()).toBe(0);
    expect(await testStore(s3.endpoint).list("rt/rank1/")).toEqual([]);
  });

  it("restore with nothing committed is a fresh run: exit 0, nothing written", async () => {
    const fresh = join(await tempDir("restore"), "work");
    const r = await runAgent(
      ["restore", "--work-dir", fresh, "--uri", `s3://${BUCKET}/rt/never/`],
      agentEnv(s3.endpoint),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, restored: null });
    await expect(readdir(fresh)).rejects.toThrow(/ENOENT/);
  });
});
