/**
 * The CLI's bundle (scripts/build-cli.js) downloads through the range workers too: it
 * inlines their code like the agent's build does. Without that, `yunshi predict s3://…`
 * failed its ranged GETs ("this bundle lacks the range worker"). Built here from a probe
 * entry with the CLI's own build function, run against s3rver, verified both ways.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildCli, cliBuildStatus, REPO_ROOT } from "../../scripts/build-cli.js";
import { crc32Base64 } from "../../images/checkpoint-agent/src/checksum.ts";
import { BUCKET, MiB, tempDir, testStore, useS3 } from "./helpers.ts";

type Download = (o: {
  endpoint: string;
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  root: string;
  dest: string;
}) => Promise<string>;

const s3 = useS3();
let outDir = "";
let download: Download;

beforeAll(async () => {
  mkdirSync(join(REPO_ROOT, "dist"), { recursive: true });
  outDir = mkdtempSync(join(REPO_ROOT, "dist", "probe-"));
  await buildCli({ outDir, entry: "test/checkpoint-agent/fixtures/cli-download-probe.ts" });
  const status = cliBuildStatus(outDir);
  if (!status.fresh) throw new Error(status.reason);
  ({ download } = createRequire(import.meta.url)(status.bundle) as { download: Download });
}, 120_000);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

it("the CLI's bundle downloads in parts through its inlined range workers and verifies", async () => {
  const data = randomBytes(12 * MiB + 9);
  const sha256 = createHash("sha256").update(data).digest("hex");
  await testStore(s3.endpoint).putObject("cli/probe.pth", data, { crc32Base64: crc32Base64(data) });
  const root = await tempDir("cli-download");
  const base = {
    endpoint: s3.endpoint,
    bucket: BUCKET,
    key: "cli/probe.pth",
    size: data.length,
    root,
  };

  expect(await download({ ...base, sha256, dest: join(root, "probe.pth") })).toBe(sha256);
  expect((await readFile(join(root, "probe.pth"))).equals(data)).toBe(true);

  const wrong = "0".repeat(64);
  await expect(download({ ...base, sha256: wrong, dest: join(root, "other.pth") })).rejects.toThrow(
    `probe.pth: sha256 ${sha256}, expected ${wrong}`,
  );
  expect(await readdir(root)).toEqual(["probe.pth"]);
}, 120_000);
