/**
 * A hostile or broken object store (SECURITY.md, "The object store"): manifests and objects
 * planted in the embedded S3 server, symlinks planted in the work dir and the fetch
 * destination. Restore, fetch, log restore and snapshot must never write outside their
 * directory, never write through a symlink, and say what they refused.
 */
import { createHash, randomBytes } from "node:crypto";
import { lstat, mkdir, readFile, readdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { crc32Base64 } from "../../images/checkpoint-agent/src/checksum.ts";
import { MANIFEST_KEY } from "../../images/checkpoint-agent/src/layout.ts";
import type { ManifestEntry } from "../../images/checkpoint-agent/src/manifest.ts";
import { parseManifest } from "../../images/checkpoint-agent/src/manifest.ts";
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
const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

async function put(key: string, body: Buffer | string): Promise<void> {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  await testStore(s3.endpoint).putObject(key, b, { crc32Base64: crc32Base64(b) });
}

async function snapshotOnce(work: string, prefix: string): Promise<void> {
  const r = await runAgent(
    ["snapshot", "--work-dir", work, "--uri", `s3://${BUCKET}/${prefix}`, "--keep", "5", "--once"],
    agentEnv(s3.endpoint),
  );
  expect(r.code, r.stderr).toBe(0);
}

/** Commit epoch_1..n through the real agent; returns the bytes of each. */
async function commitEpochs(prefix: string, n: number): Promise<Buffer[]> {
  const work = await tempDir("hostile-src");
  const out: Buffer[] = [];
  for (let e = 1; e <= n; e++) {
    out.push(await writeCheckpoint(work, `epoch_${e}.pth`, MiB + e));
    await snapshotOnce(work, prefix);
  }
  return out;
}

/** Put `entries` in front of the manifest's history, as a hostile writer would. */
async function prependEntries(prefix: string, entries: Partial<ManifestEntry>[]): Promise<void> {
  const store = testStore(s3.endpoint);
  const m = parseManifest((await store.getText(`${prefix}${MANIFEST_KEY}`)) ?? "", "m");
  const base = m.history[0] as ManifestEntry;
  const history = [...entries.map((e) => ({ ...base, ...e })), ...m.history];
  await put(`${prefix}${MANIFEST_KEY}`, JSON.stringify({ ...m, latest: history[0], history }));
}

async function restore(
  work: string,
  prefix: string,
  extraEnv: Record<string, string> = {},
): Promise<Awaited<ReturnType<typeof runAgent>>> {
  return runAgent(
    ["restore", "--work-dir", work, "--uri", `s3://${BUCKET}/${prefix}`],
    agentEnv(s3.endpoint, extraEnv),
  );
}

const exists = (p: string): Promise<boolean> =>
  lstat(p).then(
    () => true,
    () => false,
  );

describe("restore: manifest entries are checked like the bytes they name", () => {
  it("falls back past entries whose relPath or key leaves the work dir or the prefix, and says so", async () => {
    const prefix = "hostile/entries/team-a/exp/";
    const data = await commitEpochs(prefix, 2);
    const evil = randomBytes(4096);
    await put(`${prefix}checkpoints/evil.pth`, evil);
    // Another team's checkpoint, which a key with '..' would read.
    const other = randomBytes(4096);
    await put("hostile/entries/team-b/exp/checkpoints/epoch_1.pth", other);
    const root = await tempDir("hostile-root");
    const work = join(root, "a", "work");
    await mkdir(work, { recursive: true });
    const evilEntry = {
      file: "evil.pth",
      key: "checkpoints/evil.pth",
      bytes: 4096,
      sha256: sha(evil),
    };
    await prependEntries(prefix, [
      { ...evilEntry, relPath: "../../escaped.pth" },
      { ...evilEntry, relPath: join(root, "absolute.pth") },
      { ...evilEntry, relPath: `${"x".repeat(250)}.pth` },
      {
        file: "epoch_9.pth",
        relPath: "epoch_9.pth",
        key: "checkpoints/../../../team-b/exp/checkpoints/epoch_1.pth",
        bytes: 4096,
        sha256: sha(other),
      },
    ]);

    const r = await restore(work, prefix);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json?.["restored"]).toMatchObject({ file: "epoch_2.pth" });
    const fell = r.json?.["fellBackFrom"] as { file: string; reason: string }[];
    expect(fell.map((f) => f.file)).toEqual(["evil.pth", "evil.pth", "evil.pth", "epoch_9.pth"]);
    expect(fell[0]?.reason).toMatch(/unsafe manifest entry \(relPath: it has a '\.\.' segment\)/);
    expect(fell[1]?.reason).toMatch(/relPath: it is an absolute path/);
    expect(fell[2]?.reason).toMatch(/relPath: a segment is 254 bytes long/);
    expect(fell[3]?.reason).toMatch(/key: it has a '\.\.' segment/);
    expect(r.stderr).toMatch(
      /committed checkpoint evil\.pth failed verification \(unsafe manifest entry/,
    );
    // Nothing outside the work dir, nothing from the other prefix.
    expect(await readdir(root)).toEqual(["a"]);
    expect(await readdir(join(root, "a"))).toEqual(["work"]);
    expect((await readdir(work)).sort()).toEqual(["epoch_2.pth", "last_checkpoint"]);
    expect((await readFile(join(work, "epoch_2.pth"))).equals(data[1] as Buffer)).toBe(true);
    expect((await readFile(join(work, "last_checkpoint"), "utf8")).trim()).toBe(
      join(work, "epoch_2.pth"),
    );
  });

  it("a manifest that is not a manifest exits 2 (no retries) and says why in the termination message", async () => {
    const prefix = "hostile/corrupt/";
    await commitEpochs(prefix, 1);
    await put(`${prefix}${MANIFEST_KEY}`, '{"version": 1, "history": "not a list"');
    const work = await tempDir("hostile-work");
    const termination = join(await tempDir("hostile-term"), "termination-log");
    await writeFile(termination, "");
    const r = await restore(work, prefix, { YUNSHI_TERMINATION_LOG: termination });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`s3://${BUCKET}/${prefix}${MANIFEST_KEY} is not valid JSON`);
    expect(r.stderr).toContain("put back a good copy or delete it");
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.json).toMatchObject({ ok: false, exitCode: 2 });
    const message = await readFile(termination, "utf8");
    expect(message).toMatch(
      /^exit 2: s3:\/\/yunshi-test\/hostile\/corrupt\/checkpoints\/LATEST\.json is not valid JSON/,
    );
    expect(await readdir(work)).toEqual([]);

    await put(`${prefix}${MANIFEST_KEY}`, JSON.stringify({ version: 1, history: "not a list" }));
    const r2 = await restore(work, prefix);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/is not a yunshi manifest:[\s\S]*history/);
  });

  it("log restore never brings back last_checkpoint, a .pth or a path outside the work dir", async () => {
    const prefix = "hostile/logs/";
    const data = await commitEpochs(prefix, 1);
    await put(`${prefix}logs/last_checkpoint`, "/etc/passwd");
    await put(`${prefix}logs/epoch_7.pth`, randomBytes(100));
    await put(`${prefix}logs/20260101_000000/20260101_000000.log`, "a real log line\n");
    await put(`${prefix}logs/bell\u0007name.log`, "a control character in a file name");
    // Every committed checkpoint now fails: a planted last_checkpoint would be all that is left.
    const junk = randomBytes(data[0]?.length ?? 0);
    await put(`${prefix}checkpoints/epoch_1.pth`, junk);
    const work = await tempDir("hostile-work");
    const r = await restore(work, prefix);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("refusing to start training from a broken checkpoint");
    expect(r.stderr).toContain("last_checkpoint is not a log file name");
    expect(r.stderr).toContain("epoch_7.pth is not a log file name");
    expect(r.stderr).toMatch(/skipping log object .*bell.*it contains a control character/);
    expect((await readdir(work)).sort()).toEqual(["20260101_000000"]);
  });
});

describe("restore and fetch never write through a symlink", () => {
  it("restore replaces planted links at the checkpoint, its temp file and last_checkpoint's temp file", async () => {
    const prefix = "hostile/symlinks/";
    const data = await commitEpochs(prefix, 1);
    const outside = await tempDir("hostile-victim");
    const victims = ["pth", "partial", "marker"].map((n) => join(outside, n));
    for (const v of victims) await writeFile(v, `victim ${v}`);
    const work = await tempDir("hostile-work");
    await symlink(victims[0] as string, join(work, "epoch_1.pth"));
    await symlink(victims[1] as string, join(work, "epoch_1.pth.yunshi-partial"));
    await symlink(victims[2] as string, join(work, "last_checkpoint.yunshi-partial"));
    const r = await restore(work, prefix);
    expect(r.code, r.stderr).toBe(0);
    for (const v of victims) expect(await readFile(v, "utf8")).toBe(`victim ${v}`);
    const placed = await lstat(join(work, "epoch_1.pth"));
    expect(placed.isFile()).toBe(true);
    expect((await readFile(join(work, "epoch_1.pth"))).equals(data[0] as Buffer)).toBe(true);
    expect((await lstat(join(work, "last_checkpoint"))).isFile()).toBe(true);
    expect((await readdir(work)).sort()).toEqual(["epoch_1.pth", "last_checkpoint"]);
  });

  it("restore refuses a symlinked directory on the way to the checkpoint and falls back", async () => {
    const prefix = "hostile/symlink-dir/";
    const src = await tempDir("hostile-src");
    const first = await writeCheckpoint(src, "epoch_1.pth", MiB);
    await snapshotOnce(src, prefix);
    await mkdir(join(src, "sub"));
    await writeCheckpoint(src, "sub/epoch_2.pth", MiB);
    await snapshotOnce(src, prefix);
    const outside = await tempDir("hostile-victim");
    const work = await tempDir("hostile-work");
    await symlink(outside, join(work, "sub"));
    const r = await restore(work, prefix);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /epoch_2\.pth failed verification \(.*sub is a symlink; refusing to write through it/,
    );
    expect(r.json?.["restored"]).toMatchObject({ file: "epoch_1.pth" });
    expect((await readFile(join(work, "epoch_1.pth"))).equals(first)).toBe(true);
    expect(await readdir(outside)).toEqual([]);
  });

  it("fetch replaces a planted link instead of writing through it, also for its state file", async () => {
    const prefix = "hostile/fetch-links/";
    const body = randomBytes(1000);
    await put(`${prefix}a.txt`, body);
    const outside = await tempDir("hostile-victim");
    const victims = ["a", "partial", "state"].map((n) => join(outside, n));
    for (const v of victims) await writeFile(v, `victim ${v}`);
    const dest = await tempDir("hostile-dest");
    await symlink(victims[0] as string, join(dest, "a.txt"));
    await symlink(victims[1] as string, join(dest, "a.txt.yunshi-partial"));
    await symlink(victims[2] as string, join(dest, ".yunshi-fetch.json.yunshi-partial"));
    const r = await runAgent(
      ["fetch", "--uri", `s3://${BUCKET}/${prefix}`, "--dest", dest],
      agentEnv(s3.endpoint),
    );
    expect(r.code, r.stderr).toBe(0);
    for (const v of victims) expect(await readFile(v, "utf8")).toBe(`victim ${v}`);
    expect((await lstat(join(dest, "a.txt"))).isFile()).toBe(true);
    expect((await readFile(join(dest, "a.txt"))).equals(body)).toBe(true);
  });
});

describe("fetch: local path problems are clear input errors, not raw errno", () => {
  it("an object and a 'directory' of the same name: exit 2 naming both sides", async () => {
    const prefix = "hostile/collide/";
    await put(`${prefix}a`, "file");
    await put(`${prefix}a/b`, "inside");
    const dest = await tempDir("hostile-dest");
    const r = await runAgent(
      ["fetch", "--uri", `s3://${BUCKET}/${prefix}`, "--dest", dest, "--concurrency", "1"],
      agentEnv(s3.endpoint),
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /--dest: cannot place object "hostile\/collide\/a(\/b)?": .*(is a directory where a file should go|exists and is not a directory)/,
    );
    expect(r.stderr).not.toMatch(/EISDIR|ENOTDIR|EEXIST/);
  });

  it("a path longer than Linux allows: exit 2 naming the object, not ENAMETOOLONG", async () => {
    const prefix = "hostile/long/";
    const name = "n".repeat(230);
    await put(`${prefix}${name}/${name}`, "x");
    // A destination already deep enough that the object's path passes PATH_MAX.
    let dest = await tempDir("hostile-deep");
    for (let i = 0; i < 15; i++) dest = join(dest, "d".repeat(240));
    await mkdir(dest, { recursive: true });
    const r = await runAgent(
      ["fetch", "--uri", `s3://${BUCKET}/${prefix}`, "--dest", dest],
      agentEnv(s3.endpoint),
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /object "hostile\/long\/n+\/n+" under .*makes a path of \d+ bytes .*Linux allows 4095; rename the object/,
    );
    expect(r.stderr).not.toContain("ENAMETOOLONG");
    expect(await readdir(dest)).toEqual([]);
  });
});

describe("snapshot uploads only regular files inside the work dir that last_checkpoint names", () => {
  const prefix = "hostile/snapshot/";
  const objects = async (): Promise<string[]> =>
    (await testStore(s3.endpoint).list(`${prefix}checkpoints/`)).map((o) => o.key);

  it("refuses a path outside the work dir, a symlink, a symlinked last_checkpoint and non-UTF-8 bytes", async () => {
    const outside = await tempDir("hostile-secret");
    const secret = join(outside, "secret.pth");
    await writeFile(secret, randomBytes(2048));
    const cases: { name: string; plant: (work: string) => Promise<void>; says: RegExp }[] = [
      {
        name: "outside",
        plant: (w) => writeFile(join(w, "last_checkpoint"), secret),
        says: /names ".*secret\.pth", outside the work dir .*only files inside it are uploaded/,
      },
      {
        name: "climbing",
        plant: (w) =>
          writeFile(join(w, "last_checkpoint"), `../${outside.split("/").at(-1) ?? ""}/secret.pth`),
        says: /outside the work dir/,
      },
      {
        name: "symlink",
        plant: async (w) => {
          await symlink(secret, join(w, "epoch_1.pth"));
          await writeFile(join(w, "last_checkpoint"), join(w, "epoch_1.pth"));
        },
        says: /epoch_1\.pth, which is not a regular file \(yet\); symlinks are never uploaded/,
      },
      {
        name: "linked marker",
        plant: async (w) => {
          const fake = join(outside, "fake-marker");
          await writeFile(join(w, "epoch_1.pth"), randomBytes(100));
          await writeFile(fake, join(w, "epoch_1.pth"));
          await symlink(fake, join(w, "last_checkpoint"));
        },
        says: /last_checkpoint is a symlink; refusing to follow it/,
      },
      {
        name: "not utf-8",
        plant: (w) => writeFile(join(w, "last_checkpoint"), Buffer.from([0x2f, 0xff, 0xfe, 0x2e])),
        says: /last_checkpoint is not UTF-8 text/,
      },
    ];
    for (const c of cases) {
      const work = await tempDir("hostile-snap");
      await c.plant(work);
      const r = await runAgent(
        [
          "snapshot",
          "--work-dir",
          work,
          "--uri",
          `s3://${BUCKET}/${prefix}`,
          "--keep",
          "2",
          "--once",
        ],
        agentEnv(s3.endpoint),
      );
      expect(r.code, `${c.name}: ${r.stderr}`).toBe(0);
      expect(r.stderr, c.name).toMatch(c.says);
      expect(await objects(), c.name).toEqual([]);
    }
    expect(await exists(join(outside, "secret.pth"))).toBe(true);
  });
});
