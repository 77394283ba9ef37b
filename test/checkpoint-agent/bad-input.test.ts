import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  agentEnv,
  BUCKET,
  MiB,
  runAgent,
  useS3,
  tempDir,
  testStore,
  writeCheckpoint,
} from "./helpers.ts";

const s3 = useS3();

/** Every case must leave the work dir as it was and write nothing under the prefix. */
async function expectNothingWritten(work: string, before: string[], prefix: string): Promise<void> {
  expect((await readdir(work)).sort()).toEqual(before);
  expect(await testStore(s3.endpoint).list(prefix)).toEqual([]);
}

describe("bad input: clear message, exit 2 (input) or 1 (other), nothing written", () => {
  let work: string;
  let before: string[];
  const prefix = "bad/exp/";
  const uri = `s3://${BUCKET}/${prefix}`;
  beforeAll(async () => {
    work = await tempDir("bad-work");
    await writeCheckpoint(work, "epoch_1.pth", MiB);
    before = (await readdir(work)).sort();
  });

  const cases: {
    name: string;
    args: () => string[];
    env?: Record<string, string>;
    code: number;
    message: RegExp;
  }[] = [
    {
      name: "a URI that is not s3://",
      args: () => ["snapshot", "--work-dir", work, "--uri", "https://bucket/x", "--keep", "2"],
      code: 2,
      message: /--uri: "https:\/\/bucket\/x" is not an S3 URI/,
    },
    {
      name: "an invalid bucket name",
      args: () => ["restore", "--work-dir", work, "--uri", "s3://Bad_Bucket/x/"],
      code: 2,
      message: /bucket "Bad_Bucket".*not a valid S3 bucket name/,
    },
    {
      name: "a '..' segment in the prefix",
      args: () => ["restore", "--work-dir", work, "--uri", `s3://${BUCKET}/a/../b/`],
      code: 2,
      message: /'\.\.' path segment/,
    },
    {
      name: "a missing --uri",
      args: () => ["restore", "--work-dir", work],
      code: 2,
      message: /required option '--uri <s3-uri>' not specified/,
    },
    {
      name: "a work dir that does not exist (snapshot)",
      args: () => ["snapshot", "--work-dir", join(work, "nope"), "--uri", uri, "--keep", "2"],
      code: 2,
      message: /--work-dir: ".*nope" does not exist/,
    },
    {
      name: "a work dir that is a file",
      args: () => ["restore", "--work-dir", join(work, "epoch_1.pth"), "--uri", uri],
      code: 2,
      message: /--work-dir: ".*epoch_1\.pth" is not a directory/,
    },
    {
      name: "--keep 0",
      args: () => ["snapshot", "--work-dir", work, "--uri", uri, "--keep", "0"],
      code: 2,
      message: /--keep: "0" must be an integer 1–1000/,
    },
    {
      name: "a --best that is not a metric name",
      args: () => [
        "snapshot",
        "--work-dir",
        work,
        "--uri",
        uri,
        "--keep",
        "2",
        "--best",
        "coco bbox",
      ],
      code: 2,
      message: /--best: "coco bbox" is not a metric name/,
    },
    {
      name: "an endpoint that is not a URL",
      args: () => ["snapshot", "--work-dir", work, "--uri", uri, "--keep", "2"],
      env: { AWS_ENDPOINT_URL_S3: "minio:9000" },
      code: 2,
      message: /AWS_ENDPOINT_URL_S3="minio:9000" is not a URL|must start with http/,
    },
    {
      name: "an unknown command",
      args: () => ["upload", "--uri", uri],
      code: 2,
      message: /unknown command 'upload'/,
    },
    {
      name: "a bucket that does not exist",
      args: () => [
        "snapshot",
        "--work-dir",
        work,
        "--uri",
        `s3://no-such-bucket-yunshi/${prefix}`,
        "--keep",
        "2",
        "--once",
      ],
      code: 2,
      message: /bucket "no-such-bucket-yunshi" does not exist/,
    },
    {
      name: "no credentials (exit 1: a retry after Pod Identity comes up may fix it)",
      args: () => ["snapshot", "--work-dir", work, "--uri", uri, "--keep", "2", "--once"],
      env: { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" },
      code: 1,
      message: /no AWS credentials found/,
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const env = agentEnv(s3.endpoint, c.env ?? {});
      for (const [k, v] of Object.entries(env)) if (v === "") delete env[k];
      const r = await runAgent(c.args(), env);
      expect(r.code, r.stderr).toBe(c.code);
      expect(r.stderr).toMatch(c.message);
      expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace unless YUNSHI_DEBUG=1
      await expectNothingWritten(work, before, prefix);
    });
  }

  it("--help exits 0 and lists the commands", async () => {
    const r = await runAgent(["--help"], agentEnv(s3.endpoint));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/restore[\s\S]*snapshot[\s\S]*fetch/);
    const sub = await runAgent(["snapshot", "--help"], agentEnv(s3.endpoint));
    expect(sub.code).toBe(0);
    expect(sub.stderr).toMatch(/--keep <n>[\s\S]*--best <metric>/);
  });

  it("restore into a missing work dir is fine (it is created only when something is restored)", async () => {
    const parent = await tempDir("bad-parent");
    await writeFile(join(parent, "marker"), "");
    const r = await runAgent(
      ["restore", "--work-dir", join(parent, "w"), "--uri", uri],
      agentEnv(s3.endpoint),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await readdir(parent)).toEqual(["marker"]);
  });
});
