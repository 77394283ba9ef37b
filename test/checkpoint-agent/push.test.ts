/**
 * The agent's `push` (images/checkpoint-agent/src/push.ts), run as in the export pod (argv
 * only) against a real S3 protocol server: a verified export goes up with its verdict last;
 * an unverified one, a missing verdict or a verdict outside the folder upload nothing (exit 2).
 */
import { spawn } from "node:child_process";
import { chmod, copyFile, mkdir, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { expect, it } from "vitest";
import { agentEnv, BUCKET, MAIN, runAgent, tempDir, testStore, useS3 } from "./helpers.ts";

const s3 = useS3();

async function exportDir(verdict: unknown): Promise<string> {
  const dir = await tempDir("push");
  await writeFile(join(dir, "end2end.onnx"), Buffer.alloc(70_000, 7));
  await writeFile(join(dir, "model.json"), '{"classes":["行人","车辆"]}');
  if (verdict !== undefined)
    await writeFile(
      join(dir, "verification.json"),
      typeof verdict === "string" ? verdict : JSON.stringify(verdict),
    );
  return dir;
}

const push = (dir: string, prefix: string, verified = "verification.json") =>
  runAgent(
    ["push", "--dir", dir, "--uri", `s3://${BUCKET}/${prefix}`, "--verified", verified],
    agentEnv(s3.endpoint),
  );

it("uploads the folder's regular files, the verdict last, and skips symlinks and folders", async () => {
  const dir = await exportDir({ verified: true, pictures: [] });
  await mkdir(join(dir, "sub"));
  await writeFile(join(dir, "sub", "inner.txt"), "not uploaded");
  await symlink("/etc/passwd", join(dir, "passwd"));
  const r = await push(dir, "vision/exp/exports/onnx/");
  expect(r.code, r.stderr).toBe(0);
  expect(r.json).toMatchObject({ command: "push", ok: true, files: 3 });
  expect((r.json as { keys: string[] }).keys).toEqual([
    "vision/exp/exports/onnx/end2end.onnx",
    "vision/exp/exports/onnx/model.json",
    "vision/exp/exports/onnx/verification.json",
  ]);
  expect(r.stderr).toMatch(/skipping passwd: not a regular file/);
  const listed = (await testStore(s3.endpoint).list("vision/exp/exports/onnx/")).map((o) => o.key);
  expect(listed.sort()).toEqual([
    "vision/exp/exports/onnx/end2end.onnx",
    "vision/exp/exports/onnx/model.json",
    "vision/exp/exports/onnx/verification.json",
  ]);
  expect(await testStore(s3.endpoint).getText("vision/exp/exports/onnx/model.json")).toBe(
    '{"classes":["行人","车辆"]}',
  );
});

it.each([
  [
    "a failed verification",
    { verified: false, problem: "boxes 128 px apart" },
    /"verified": false/,
  ],
  ["a verdict without the field", { pictures: [] }, /"verified": null/],
  ["a verdict that is not JSON", "{half", /not JSON/],
  ["no verdict at all (the export did not finish)", undefined, /does not exist/],
])("refuses %s with exit 2 and uploads nothing", async (_what, verdict, message) => {
  const prefix = `vision/refused-${Math.random().toString(36).slice(2)}/exports/onnx/`;
  const r = await push(await exportDir(verdict), prefix);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).toMatch(/refusing to upload an unverified export/);
  expect(await testStore(s3.endpoint).list(prefix)).toEqual([]);
});

it("refuses a verdict path outside --dir", async () => {
  const r = await push(await exportDir({ verified: true }), "vision/x/exports/onnx/", "../v.json");
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/--verified: "\.\.\/v\.json" must be a file name inside --dir/);
});

it("reads a folder it may not write to (the export pod mounts it read-only)", async () => {
  const dir = await exportDir({ verified: true });
  await chmod(dir, 0o555);
  const args = ["push", "--dir", dir, "--uri", `s3://${BUCKET}/vision/ro/exports/onnx/`];
  const argv = [...args, "--verified", "verification.json"];
  // As the pod's uid 1000 when the tests run as root, for whom every folder is writable.
  const asPodUser = process.getuid?.() === 0 ? { uid: 1000, gid: 1000 } : {};
  // That user may not reach this Node binary (`npx node@22` keeps it under root's 0700
  // home, CI runs the suite on it): run a world-readable copy of the same binary.
  let node = process.execPath;
  if ("uid" in asPodUser) {
    node = join(await tempDir("node-for-uid-1000"), "node");
    await copyFile(process.execPath, node);
    await chmod(dirname(node), 0o755);
    await chmod(node, 0o755);
  }
  const child = spawn(node, ["--import", "tsx", MAIN, ...argv], {
    env: agentEnv(s3.endpoint, { HOME: "/tmp" }),
    stdio: ["ignore", "pipe", "pipe"],
    ...asPodUser,
  });
  let err = "";
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((res) => child.on("exit", (c) => res(c)));
  await chmod(dir, 0o755);
  expect(code, err).toBe(0);
  expect(await testStore(s3.endpoint).list("vision/ro/exports/onnx/")).toHaveLength(3);
});

it("refuses a --dir that does not exist", async () => {
  const r = await push("/nonexistent/yunshi-export", "vision/none/exports/onnx/");
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/--dir: "\/nonexistent\/yunshi-export" does not exist/);
});
