/**
 * kill -9 the snapshot sidecar at random points while it uploads: whatever the moment,
 * restore must yield exactly the last committed checkpoint, verified, never a partial one.
 */
import { readFile, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";
import { MANIFEST_KEY } from "../../images/checkpoint-agent/src/layout.ts";
import { parseManifest } from "../../images/checkpoint-agent/src/manifest.ts";
import { runRestore } from "../../images/checkpoint-agent/src/restore.ts";
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

const TRIALS = 20;
const SIZE = 24 * MiB;

const s3 = useS3();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function committedBeforeKill(stderr: string): number {
  const epochs = [...stderr.matchAll(/committed epoch_(\d+)\.pth/g)].map((m) => Number(m[1]));
  return epochs.length === 0 ? 0 : Math.max(...epochs);
}

/** The last transfer line says an upload had started and not yet committed. */
function killedMidUpload(stderr: string): boolean {
  const lines = stderr.split("\n").filter((l) => /^(uploading|committed) /.test(l));
  return lines.at(-1)?.startsWith("uploading") === true;
}

it(`${TRIALS} kill -9 trials during uploads: restore always yields the last committed checkpoint`, async () => {
  const store = testStore(s3.endpoint);
  let midUpload = 0;
  let withCommit = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const work = await tempDir("kill-work");
    const prefix = `kill/trial-${trial}/`;
    const agent = spawnAgent(
      [
        "snapshot",
        "--work-dir",
        work,
        "--uri",
        `s3://${BUCKET}/${prefix}`,
        "--keep",
        "2",
        "--interval",
        "0.05",
        "--part-size-mib",
        "5",
        "--concurrency",
        "2",
      ],
      agentEnv(s3.endpoint),
    );
    await agent.waitFor("watching");
    const data = new Map<string, Buffer>();
    // A trainer that checkpoints every ~300 ms while the agent uploads.
    let stopWriter = false;
    const writer = (async () => {
      for (let epoch = 1; epoch <= 6 && !stopWriter; epoch++) {
        data.set(
          `epoch_${epoch}.pth`,
          await writeCheckpoint(work, `epoch_${epoch}.pth`, SIZE + epoch),
        );
        await sleep(300);
      }
    })();
    // Half the trials kill at any moment; half after a first commit, so both "nothing
    // committed yet" and "a newer upload in flight over a committed one" are exercised
    // however fast or loaded the machine is.
    if (trial % 2 === 1) await agent.waitFor(/committed epoch_\d+\.pth/, 60_000);
    await sleep(100 + Math.random() * (trial % 2 === 1 ? 1200 : 2200));
    agent.child.kill("SIGKILL");
    const { signal } = await agent.done;
    stopWriter = true;
    await writer;
    expect(signal).toBe("SIGKILL");
    const stderr = agent.stderr();
    if (killedMidUpload(stderr)) midUpload++;
    const seen = committedBeforeKill(stderr);

    const text = await store.getText(`${prefix}${MANIFEST_KEY}`);
    const dest = await tempDir("kill-restore");
    const r = await runRestore({
      store,
      prefix,
      workDir: dest,
      transfer: { partSize: 8 * MiB, concurrency: 4 },
      log: () => undefined,
    });
    if (text === undefined) {
      expect(seen, stderr).toBe(0);
      expect(r.restored).toBeNull();
    } else {
      withCommit++;
      const latest = parseManifest(text, "manifest").latest;
      expect(latest).not.toBeNull();
      // Every commit the agent announced is visible; one may have landed after its last line.
      expect(latest?.epoch ?? 0).toBeGreaterThanOrEqual(seen);
      expect(r.fellBackFrom).toEqual([]);
      expect(r.restored?.file).toBe(latest?.file);
      const restored = await readFile(join(dest, latest?.file ?? ""));
      expect(restored.equals(data.get(latest?.file ?? "") ?? Buffer.alloc(0))).toBe(true);
      expect((await readFile(join(dest, "last_checkpoint"), "utf8")).trim()).toBe(
        join(dest, latest?.file ?? ""),
      );
    }
    expect((await readdir(dest)).filter((n) => n.endsWith(".yunshi-partial"))).toEqual([]);
    await rm(work, { recursive: true, force: true });
    await rm(dest, { recursive: true, force: true });
  }
  // The random kill points must actually exercise the interesting case.
  expect(midUpload).toBeGreaterThanOrEqual(TRIALS / 4);
  expect(withCommit).toBeGreaterThanOrEqual(TRIALS / 2);
  console.log(
    `kill trials: ${TRIALS}, killed mid-upload: ${midUpload}, with a commit: ${withCommit}`,
  );
}, 170_000);
