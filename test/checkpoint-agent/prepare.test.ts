/**
 * The prepare sidecar (images/checkpoint-agent/src/prepare.ts) as the pod runs it: fetch
 * the dataset and restore the checkpoint at once, write the verdict the trainer waits for,
 * then idle until SIGTERM (a native sidecar that exits is restarted by the kubelet).
 */
import { lstat, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { crc32Base64 } from "../../images/checkpoint-agent/src/checksum.ts";
import {
  agentEnv,
  BUCKET,
  MiB,
  runAgent,
  spawnAgent,
  tempDir,
  testStore,
  useS3,
  writeCheckpoint,
} from "./helpers.ts";

const s3 = useS3();

interface Verdict {
  ok: boolean;
  step?: string;
  exitCode?: number;
  error?: string;
}

async function put(key: string, text: string): Promise<void> {
  const body = Buffer.from(text);
  await testStore(s3.endpoint).putObject(key, body, { crc32Base64: crc32Base64(body) });
}

async function readVerdict(file: string): Promise<Verdict> {
  return JSON.parse(await readFile(file, "utf8")) as Verdict;
}

/** A committed checkpoint under `uri`, made by the agent's own snapshot (--once). */
async function commitCheckpoint(uri: string, bytes: number): Promise<Buffer> {
  const work = await tempDir("prep-src");
  const data = await writeCheckpoint(work, "epoch_2.pth", bytes);
  const r = await runAgent(
    ["snapshot", "--work-dir", work, "--uri", uri, "--keep", "2", "--once"],
    agentEnv(s3.endpoint),
  );
  expect(r.code, r.stderr).toBe(0);
  return data;
}

describe("prepare: fetch and restore beside the trainer, then a verdict", () => {
  it("fetches the dataset and restores the checkpoint, writes ok, and idles until SIGTERM", async () => {
    const uri = `s3://${BUCKET}/prep/ok/`;
    const data = await commitCheckpoint(uri, 3 * MiB + 7);
    await put("datasets/prep/annotations/train.json", "{}");
    await put("datasets/prep/images/a.jpg", "jpeg");
    const [work, dataDir, status] = await Promise.all([
      tempDir("prep-work"),
      tempDir("prep-data"),
      tempDir("prep-status"),
    ]);
    const verdict = join(status, "prepared.json");
    const agent = spawnAgent(
      [
        "prepare",
        "--dataset-uri",
        `s3://${BUCKET}/datasets/prep/`,
        "--dataset-dir",
        dataDir,
        "--uri",
        uri,
        "--work-dir",
        work,
        "--verdict",
        verdict,
      ],
      agentEnv(s3.endpoint),
    );
    await agent.waitFor("prepared in");
    expect(await readVerdict(verdict)).toMatchObject({ ok: true });
    expect(await readFile(join(work, "epoch_2.pth"))).toEqual(data);
    expect((await readFile(join(work, "last_checkpoint"), "utf8")).trim()).toBe(
      join(work, "epoch_2.pth"),
    );
    expect(await readFile(join(dataDir, "images", "a.jpg"), "utf8")).toBe("jpeg");
    // Still running: it must not exit (the kubelet would restart it and prepare again).
    await new Promise((r) => setTimeout(r, 500));
    expect(agent.child.exitCode).toBeNull();
    agent.child.kill("SIGTERM");
    expect((await agent.done).code, agent.stderr()).toBe(0);
  });

  it("writes a failed verdict naming the step and the agent's code, and still idles", async () => {
    const uri = `s3://${BUCKET}/prep/corrupt/`;
    await put("prep/corrupt/checkpoints/LATEST.json", "{not json");
    const [work, status] = await Promise.all([tempDir("prep-work2"), tempDir("prep-status2")]);
    const verdict = join(status, "prepared.json");
    const agent = spawnAgent(
      ["prepare", "--uri", uri, "--work-dir", work, "--verdict", verdict],
      agentEnv(s3.endpoint),
    );
    await agent.waitFor("prepare failed at restore");
    const v = await readVerdict(verdict);
    // A corrupt manifest is input a retry cannot fix: exit 2 → the trainer's exit 6.
    expect(v).toMatchObject({ ok: false, step: "restore", exitCode: 2 });
    expect(v.error).toMatch(/LATEST\.json/);
    expect(agent.child.exitCode).toBeNull();
    agent.child.kill("SIGTERM");
    expect((await agent.done).code).toBe(0);
  });

  it("a dataset URI with nothing under it fails fetch-dataset; restore still runs", async () => {
    const [work, dataDir, status] = await Promise.all([
      tempDir("prep-work3"),
      tempDir("prep-data3"),
      tempDir("prep-status3"),
    ]);
    const verdict = join(status, "prepared.json");
    const r = await runAgent(
      [
        "prepare",
        "--dataset-uri",
        `s3://${BUCKET}/datasets/none-here/`,
        "--dataset-dir",
        dataDir,
        "--uri",
        `s3://${BUCKET}/prep/fresh/`,
        "--work-dir",
        work,
        "--verdict",
        verdict,
        "--exit-when-done",
      ],
      agentEnv(s3.endpoint),
    );
    // --exit-when-done (local runs): the process ends; the verdict carries the failure.
    expect(r.code, r.stderr).toBe(0);
    expect(await readVerdict(verdict)).toMatchObject({
      ok: false,
      step: "fetch-dataset",
      exitCode: 2,
    });
    expect(r.stderr).toContain("no committed checkpoint");
  });

  it("stops at once when SIGTERM comes mid-download, with no verdict (exit 1)", async () => {
    const uri = `s3://${BUCKET}/prep/big/`;
    await commitCheckpoint(uri, 96 * MiB);
    const [work, status] = await Promise.all([tempDir("prep-work4"), tempDir("prep-status4")]);
    const verdict = join(status, "prepared.json");
    const agent = spawnAgent(
      ["prepare", "--uri", uri, "--work-dir", work, "--verdict", verdict, "--concurrency", "1"],
      agentEnv(s3.endpoint),
    );
    await agent.waitFor(/restoring|downloading|epoch_2\.pth/);
    agent.child.kill("SIGTERM");
    expect((await agent.done).code).toBe(1);
    await expect(lstat(verdict)).rejects.toThrow(/ENOENT/);
  });

  it("refuses half of a pair of flags with exit 2 and writes nothing", async () => {
    const status = await tempDir("prep-status5");
    const work = await tempDir("prep-work5");
    const verdict = join(status, "prepared.json");
    const r = await runAgent(
      [
        "prepare",
        "--dataset-uri",
        `s3://${BUCKET}/d/`,
        "--uri",
        `s3://${BUCKET}/prep/x/`,
        "--work-dir",
        work,
        "--verdict",
        verdict,
      ],
      agentEnv(s3.endpoint),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--dataset-uri and --dataset-dir go together");
    await expect(lstat(verdict)).rejects.toThrow(/ENOENT/);
    await writeFile(join(status, "keep"), "");
  });
});

describe("snapshot --after: watches the work dir only once prepare is over", () => {
  it("uploads nothing before the verdict, then commits what training saves", async () => {
    const uri = `s3://${BUCKET}/prep/after/`;
    const [work, status] = await Promise.all([tempDir("after-work"), tempDir("after-status")]);
    const verdict = join(status, "prepared.json");
    const agent = spawnAgent(
      [
        "snapshot",
        "--work-dir",
        work,
        "--uri",
        uri,
        "--keep",
        "2",
        "--interval",
        "0.2",
        "--after",
        verdict,
      ],
      agentEnv(s3.endpoint),
    );
    await writeCheckpoint(work, "epoch_1.pth", MiB);
    // Waiting, with a checkpoint named in last_checkpoint: nothing may go up yet.
    await agent.waitFor("prepare's verdict) before watching");
    await new Promise((r) => setTimeout(r, 1000));
    expect(await testStore(s3.endpoint).list("prep/after/")).toEqual([]);
    await writeFile(verdict, JSON.stringify({ ok: true, seconds: 0.1 }));
    await agent.waitFor("committed epoch_1.pth");
    agent.child.kill("SIGTERM");
    expect((await agent.done).code, agent.stderr()).toBe(0);
  });

  it("stopped before the verdict: exits 0 and uploads nothing", async () => {
    const uri = `s3://${BUCKET}/prep/after-stop/`;
    const [work, status] = await Promise.all([tempDir("after-work2"), tempDir("after-status2")]);
    await writeCheckpoint(work, "epoch_1.pth", MiB);
    const agent = spawnAgent(
      ["snapshot", "--work-dir", work, "--uri", uri, "--keep", "2", "--after", join(status, "v")],
      agentEnv(s3.endpoint),
    );
    await agent.waitFor("prepare's verdict) before watching");
    agent.child.kill("SIGTERM");
    expect((await agent.done).code, agent.stderr()).toBe(0);
    expect(agent.stderr()).toContain("nothing to upload");
    expect(await testStore(s3.endpoint).list("prep/after-stop/")).toEqual([]);
  });

  it("after a failed verdict: uploads nothing and idles until stopped", async () => {
    const uri = `s3://${BUCKET}/prep/after-failed/`;
    const [work, status] = await Promise.all([tempDir("after-work3"), tempDir("after-status3")]);
    const verdict = join(status, "prepared.json");
    await writeFile(
      verdict,
      JSON.stringify({ ok: false, step: "restore", exitCode: 2, error: "x" }),
    );
    await writeCheckpoint(work, "epoch_1.pth", MiB);
    const agent = spawnAgent(
      [
        "snapshot",
        "--work-dir",
        work,
        "--uri",
        uri,
        "--keep",
        "2",
        "--interval",
        "0.2",
        "--after",
        verdict,
      ],
      agentEnv(s3.endpoint),
    );
    await agent.waitFor("nothing will be trained");
    await new Promise((r) => setTimeout(r, 800));
    expect(agent.child.exitCode).toBeNull();
    agent.child.kill("SIGTERM");
    expect((await agent.done).code, agent.stderr()).toBe(0);
    expect(await testStore(s3.endpoint).list("prep/after-failed/")).toEqual([]);
  });
});
