/**
 * dataset push against a real S3 protocol server (s3rver, via the project's embedded-s3
 * wrapper), the CLI run as a child process like a user runs it; then the checkpoint
 * agent's fetch (the fetch-dataset init container) verifies against the manifest.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { crc32Base64 } from "../../images/checkpoint-agent/src/checksum.ts";
import {
  DATASET_MANIFEST_KEY,
  parseDatasetManifest,
} from "../../images/checkpoint-agent/src/dataset-manifest.ts";
import { sha256File } from "../../jobs/dataset/local-files.ts";
import { agentEnv, BUCKET, runAgent, testStore, useS3 } from "../checkpoint-agent/helpers.ts";
import { cli, FIXTURES, tempDir } from "./cli.ts";

const s3 = useS3();
const CLI = resolve(import.meta.dirname, "../../jobs/cli.ts");

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly out: string;
  readonly err: string;
}

/** `yunshi …` as a child process with only the S3 test server's environment. */
function yunshi(args: readonly string[], onStart?: (kill: () => void) => void): Promise<Run> {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    env: agentEnv(s3.endpoint),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  onStart?.(() => child.kill("SIGKILL"));
  return new Promise((res) => child.on("exit", (code, signal) => res({ code, signal, out, err })));
}

async function listKeys(prefix: string): Promise<string[]> {
  return (await testStore(s3.endpoint).list(prefix)).map((o) => o.key.slice(prefix.length)).sort();
}

async function filesUnder(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.name.startsWith(".")) continue;
    if (e.isDirectory()) out.push(...(await filesUnder(dir, r)));
    else out.push(r);
  }
  return out.sort();
}

let dataset: string;
beforeAll(async () => {
  dataset = join(await tempDir("push"), "ds");
  const r = await cli(
    "dataset",
    "convert",
    join(FIXTURES, "voc-labelimg"),
    "-o",
    dataset,
    "--from",
    "voc",
    "--classes",
    "行人,车辆",
  );
  expect(r.code, r.err).toBe(0);
});

describe("dataset push", () => {
  const prefix = "vision/datasets/路口/";
  const uri = `s3://${BUCKET}/${prefix}`;

  it("uploads every file with Chinese keys, then commits the manifest; a second push uploads nothing", async () => {
    const first = await yunshi(["dataset", "push", dataset, uri]);
    expect(first.code, first.err).toBe(0);
    const local = await filesUnder(dataset);
    expect(local).toHaveLength(14); // 12 pictures + 2 annotation files
    expect(first.out).toContain(`✓ pushed ${uri}: 14 files`);
    expect(first.out).toContain("uploaded 14");
    expect(await listKeys(prefix)).toEqual([...local, DATASET_MANIFEST_KEY].sort());
    const text = await testStore(s3.endpoint).getText(prefix + DATASET_MANIFEST_KEY);
    const manifest = parseDatasetManifest(text ?? "", "manifest");
    expect(manifest.files.map((f) => f.path)).toEqual(local);
    for (const f of manifest.files) expect(f.sha256).toBe(await sha256File(join(dataset, f.path)));

    const again = await yunshi(["dataset", "push", dataset, uri]);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain("uploaded 0 (0 B");
    expect(again.out).toContain("14 unchanged");
  });

  it("uploads only a changed file", async () => {
    const train = JSON.parse(await readFile(join(dataset, "annotations/train.json"), "utf8")) as {
      images: { file_name: string }[];
    };
    const pic = join(dataset, "train", train.images[0]!.file_name);
    const bytes = await readFile(pic);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3]! + 1) % 256; // same size, new content
    await writeFile(pic, bytes);
    const r = await yunshi(["dataset", "push", dataset, uri]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("uploaded 1");
    expect(r.out).toContain("13 unchanged");
  });

  it("refuses a folder that fails dataset check, uploading nothing (exit 2)", async () => {
    const bad = join(await tempDir("push-bad"), "ds");
    await mkdir(join(bad, "annotations"), { recursive: true });
    await writeFile(join(bad, "annotations/train.json"), "{");
    const r = await yunshi(["dataset", "push", bad, `s3://${BUCKET}/vision/datasets/bad/`]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("annotations/train.json: not valid JSON");
    expect(await listKeys("vision/datasets/bad/")).toEqual([]);
  });

  it("refuses a file name the pods could not place (exit 2), uploading nothing", async () => {
    const dir = join(await tempDir("push-name"), "ds");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "a\\b.jpg"), "x");
    const r = await yunshi([
      "dataset",
      "push",
      dir,
      `s3://${BUCKET}/vision/datasets/names/`,
      "--no-check",
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("a\\b.jpg: cannot be a dataset file name: it contains a backslash");
    expect(await listKeys("vision/datasets/names/")).toEqual([]);
  });

  it("killed mid-upload and run again: completes without re-uploading what is there", async () => {
    const dir = join(await tempDir("push-kill"), "blobs");
    for (let i = 0; i < 120; i++) {
      await mkdir(join(dir, `分组 ${i % 4}`), { recursive: true });
      await writeFile(join(dir, `分组 ${i % 4}`, `块 ${i}.bin`), randomBytes(256 * 1024));
    }
    const kprefix = "vision/datasets/kill/";
    const args = [
      "dataset",
      "push",
      dir,
      `s3://${BUCKET}/${kprefix}`,
      "--no-check",
      "--concurrency",
      "2",
    ];
    let before = 0;
    const killed = await yunshi(args, (kill) => {
      const poll = setInterval(() => {
        void listKeys(kprefix).then((keys) => {
          if (keys.length >= 20 && before === 0) {
            before = keys.length;
            clearInterval(poll);
            kill();
          }
        });
      }, 50);
    });
    expect(killed.signal).toBe("SIGKILL");
    const present = await listKeys(kprefix);
    expect(present.length).toBeGreaterThanOrEqual(20);
    expect(present.length).toBeLessThan(120);
    expect(present).not.toContain(DATASET_MANIFEST_KEY); // not committed

    const resumed = await yunshi(args);
    expect(resumed.code, resumed.err).toBe(0);
    const skipped = Number(/(\d+) unchanged/.exec(resumed.out)?.[1]);
    const uploaded = Number(/uploaded (\d+)/.exec(resumed.out)?.[1]);
    expect(skipped).toBeGreaterThanOrEqual(present.length - 2); // at most the in-flight pair redone
    expect(skipped + uploaded).toBe(120);
    expect(await listKeys(kprefix)).toContain(DATASET_MANIFEST_KEY);
  });
});

describe("fetch-dataset verifies against the manifest", () => {
  const prefix = "vision/datasets/verified/";
  const uri = `s3://${BUCKET}/${prefix}`;
  beforeAll(async () => {
    const r = await yunshi(["dataset", "push", dataset, uri]);
    expect(r.code, r.err).toBe(0);
    // An object under the prefix that is not part of the dataset.
    const stray = Buffer.from("left over from an older version");
    await testStore(s3.endpoint).putObject(`${prefix}old/stray.txt`, stray, {
      crc32Base64: crc32Base64(stray),
    });
  });

  it("fetches exactly the manifest's files, verified, and not the stray object", async () => {
    const dest = await tempDir("fetch-ok");
    const r = await runAgent(["fetch", "--uri", uri, "--dest", dest], agentEnv(s3.endpoint));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("verifying against the dataset manifest (14 files, sha256)");
    expect(r.stderr).toContain("1 other object(s) under the prefix are not part of it");
    expect(await filesUnder(dest)).toEqual(await filesUnder(dataset));
    for (const f of await filesUnder(dataset))
      expect((await readFile(join(dest, f))).equals(await readFile(join(dataset, f))), f).toBe(
        true,
      );
  });

  it("a corrupted object is refused (exit 2), named, and never placed", async () => {
    const store = testStore(s3.endpoint);
    const victim = "annotations/val.json";
    const good = await readFile(join(dataset, victim));
    const evil = Buffer.from(good);
    evil[10] = evil[10] === 0x41 ? 0x42 : 0x41; // same size, different bytes
    await store.putObject(prefix + victim, evil, { crc32Base64: crc32Base64(evil) });
    const dest = await tempDir("fetch-corrupt");
    const r = await runAgent(["fetch", "--uri", uri, "--dest", dest], agentEnv(s3.endpoint));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${victim}: sha256`);
    expect(r.stderr).toContain("is not what the dataset manifest lists");
    expect(r.stderr).toContain("push the dataset again");
    await expect(readFile(join(dest, victim))).rejects.toThrow(/ENOENT/);
    // Pushing again repairs it.
    const push = await yunshi(["dataset", "push", dataset, uri]);
    expect(push.code, push.err).toBe(0);
    expect(push.out).toContain("uploaded 1");
    const again = await runAgent(["fetch", "--uri", uri, "--dest", dest], agentEnv(s3.endpoint));
    expect(again.code, again.stderr).toBe(0);
  });

  it("a missing object is refused before anything is fetched", async () => {
    const store = testStore(s3.endpoint);
    await store.delete(`${prefix}annotations/train.json`);
    const dest = await tempDir("fetch-missing");
    const r = await runAgent(["fetch", "--uri", uri, "--dest", dest], agentEnv(s3.endpoint));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("annotations/train.json is missing");
    expect(await filesUnder(dest)).toEqual([]);
  });
});
