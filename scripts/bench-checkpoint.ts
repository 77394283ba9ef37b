/**
 * Benchmark: upload and restore a 1 GiB random checkpoint through the checkpoint agent,
 * `aws s3 cp` and `rclone copyto`, against the same local S3 server (s3rver in its own
 * process), three runs each, interleaved. Prints a table of median MB/s (decimal, 1 MB =
 * 10^6 B) with ratios, then how long the training process is blocked per checkpoint.
 * Every figure is wall-clock time of the whole command, process start included; the agent
 * runs as the single-file bundle its image ships (images/checkpoint-agent/build.ts).
 *
 *   npm run bench:checkpoint                 # 1 GiB, 3 runs
 *   BENCH_SIZE_MIB=256 BENCH_RUNS=1 npm run bench:checkpoint
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { cpus, totalmem, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bundleAgent } from "../images/checkpoint-agent/build.ts";

const ROOT = resolve(import.meta.dirname, "..");
const S3RVER = join(ROOT, "node_modules/s3rver/bin/s3rver.js");
const BUCKET = "bench";
const MiB = 1024 * 1024;
const SIZE = Number(process.env["BENCH_SIZE_MIB"] ?? "1024") * MiB;
const RUNS = Number(process.env["BENCH_RUNS"] ?? "3");

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const mbps = (seconds: number): number => SIZE / 1e6 / seconds;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Run a command (argv array, no shell), return wall seconds; throw on failure. */
async function timed(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const t0 = performance.now();
  const child = spawn(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
  const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  const s = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${err}`);
  return s;
}

function has(cmd: string): boolean {
  return spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0;
}

async function writeRandom(path: string, bytes: number): Promise<void> {
  const fh = await open(path, "w");
  const chunk = randomBytes(64 * MiB);
  for (let off = 0; off < bytes; off += chunk.length) {
    await fh.write(
      chunk.subarray(0, Math.min(chunk.length, bytes - off)),
      0,
      Math.min(chunk.length, bytes - off),
      off,
    );
    chunk.set(randomBytes(4096), (off / 4096) % (chunk.length - 4096)); // keep parts distinct
  }
  await fh.close();
}

/** MMEngine-style checkpoint write: .pth in place, then last_checkpoint. Seconds taken. */
async function writeCheckpoint(work: string, file: string, data: Buffer): Promise<number> {
  const t0 = performance.now();
  const fh = await open(join(work, file), "w");
  for (let off = 0; off < data.length; off += 16 * MiB) {
    await fh.write(data, off, Math.min(16 * MiB, data.length - off), off);
  }
  await fh.close();
  await writeFile(join(work, "last_checkpoint"), join(work, file));
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), "yunshi-bench-"));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const s3dir = join(base, "s3rver");
  await mkdir(s3dir);
  const server = spawn(
    process.execPath,
    [
      S3RVER,
      "-d",
      s3dir,
      "-a",
      "127.0.0.1",
      "-p",
      String(port),
      "--silent",
      "--configure-bucket",
      BUCKET,
    ],
    { stdio: "ignore" },
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_ENDPOINT_URL_S3: endpoint,
    YUNSHI_S3_FORCE_PATH_STYLE: "true",
    AWS_EC2_METADATA_DISABLED: "true",
    NODE_NO_WARNINGS: "1",
    RCLONE_CONFIG_BENCH_TYPE: "s3",
    RCLONE_CONFIG_BENCH_PROVIDER: "Other",
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: "S3RVER",
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: "S3RVER",
    RCLONE_CONFIG_BENCH_ENDPOINT: endpoint,
    RCLONE_CONFIG_BENCH_REGION: "us-east-1",
  };
  // The CA bundle for real AWS endpoints breaks awscli and rclone on plain http.
  delete env["AWS_CA_BUNDLE"];
  try {
    await sleep(1500);
    const agentJs = join(base, "yunshi-checkpoint-agent.cjs");
    await bundleAgent(agentJs);
    const src = join(base, "src");
    await mkdir(src);
    const file = join(src, "epoch_1.pth");
    await writeRandom(file, SIZE);
    await writeFile(join(src, "last_checkpoint"), file);

    const haveAws = has("aws");
    const haveRclone = has("rclone");
    console.log(
      `checkpoint benchmark: ${SIZE / MiB} MiB random file, ${RUNS} run(s), s3rver on ${endpoint}; ` +
        `${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM`,
    );
    if (!haveAws)
      console.log("awscli not found: install it with .ci/setup-checkpoint-agent.sh (skipped)");
    if (!haveRclone)
      console.log("rclone not found: install it with .ci/setup-checkpoint-agent.sh (skipped)");

    const tools = {
      agent: { up: [] as number[], down: [] as number[] },
      awscli: { up: [] as number[], down: [] as number[] },
      rclone: { up: [] as number[], down: [] as number[] },
    };
    const agent = (args: string[]): Promise<number> =>
      timed(process.execPath, [agentJs, ...args], env);
    for (let run = 1; run <= RUNS; run++) {
      const uri = `s3://${BUCKET}/agent/run-${run}/`;
      tools.agent.up.push(
        await agent(["snapshot", "--work-dir", src, "--uri", uri, "--keep", "1", "--once"]),
      );
      const dest = join(base, `agent-restore-${run}`);
      tools.agent.down.push(await agent(["restore", "--work-dir", dest, "--uri", uri]));
      await rm(dest, { recursive: true, force: true });

      if (haveAws) {
        const key = `s3://${BUCKET}/awscli/run-${run}/epoch_1.pth`;
        const aws = (a: string[]): Promise<number> =>
          timed("aws", [...a, "--endpoint-url", endpoint, "--only-show-errors"], env);
        tools.awscli.up.push(await aws(["s3", "cp", file, key]));
        const out = join(base, `aws-${run}.pth`);
        tools.awscli.down.push(await aws(["s3", "cp", key, out]));
        await rm(out, { force: true });
      }
      if (haveRclone) {
        const remote = `bench:${BUCKET}/rclone/run-${run}/epoch_1.pth`;
        tools.rclone.up.push(await timed("rclone", ["copyto", file, remote], env));
        const out = join(base, `rclone-${run}.pth`);
        tools.rclone.down.push(await timed("rclone", ["copyto", remote, out], env));
        await rm(out, { force: true });
      }
      console.log(`run ${run}/${RUNS} done`);
    }

    const row = (name: string, t: { up: number[]; down: number[] }): string =>
      t.up.length === 0
        ? `| ${name.padEnd(8)} | not installed | not installed |`
        : `| ${name.padEnd(8)} | ${mbps(median(t.up)).toFixed(1).padStart(13)} | ${mbps(median(t.down)).toFixed(1).padStart(14)} |`;
    console.log("\n| tool     | upload MB/s   | restore MB/s   |");
    console.log("|----------|---------------|----------------|");
    for (const [name, t] of Object.entries(tools)) console.log(row(name, t));
    const ratio = (a: number[], b: number[]): string =>
      b.length === 0 ? "n/a" : (median(b) / median(a)).toFixed(2); // time ratio = speed ratio inverted
    console.log(
      `\nagent/awscli: upload ${ratio(tools.agent.up, tools.awscli.up)}×, restore ${ratio(tools.agent.down, tools.awscli.down)}×`,
    );
    console.log(
      `agent/rclone: upload ${ratio(tools.agent.up, tools.rclone.up)}×, restore ${ratio(tools.agent.down, tools.rclone.down)}×`,
    );
    console.log(
      "(ratios of median MB/s; >1 means the agent is faster. The agent's restore includes its SHA-256 verification.)",
    );

    // Training blocked per checkpoint: the trainer's own checkpoint write (.pth + last_checkpoint)
    // with no agent, and while the snapshot sidecar is uploading the previous checkpoint.
    const work = join(base, "train");
    await mkdir(work);
    const data = randomBytes(SIZE);
    const alone: number[] = [];
    for (let i = 1; i <= RUNS; i++) alone.push(await writeCheckpoint(work, `epoch_${i}.pth`, data));
    await rm(work, { recursive: true, force: true });
    await mkdir(work);
    const sidecar = spawn(
      process.execPath,
      [
        agentJs,
        "snapshot",
        "--work-dir",
        work,
        "--uri",
        `s3://${BUCKET}/blocked/`,
        "--keep",
        "2",
        "--interval",
        "0.5",
      ],
      { env, stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    sidecar.stderr.on("data", (b: Buffer) => (log += b.toString()));
    const withAgent: number[] = [];
    await writeCheckpoint(work, "epoch_0.pth", data);
    for (let i = 1; i <= RUNS; i++) {
      // Wait until the sidecar is busy uploading the previous checkpoint, then checkpoint again.
      while (!log.includes(`uploading epoch_${i - 1}.pth`)) await sleep(20);
      withAgent.push(await writeCheckpoint(work, `epoch_${i}.pth`, data));
      while (!log.includes(`committed epoch_${i - 1}.pth`)) await sleep(50);
    }
    sidecar.kill("SIGTERM");
    await new Promise((r) => sidecar.on("exit", r));
    console.log(
      `\ntraining blocked per checkpoint: 0 s waiting on the agent (the sidecar is a separate process; ` +
        `training never waits for an upload). The trainer's own ${SIZE / MiB} MiB checkpoint write takes ` +
        `${median(alone).toFixed(2)} s alone and ${median(withAgent).toFixed(2)} s while the sidecar uploads ` +
        `the previous checkpoint (+${(median(withAgent) - median(alone)).toFixed(2)} s from sharing CPU and disk ` +
        `with the sidecar and, here, with the S3 server too).`,
    );
  } finally {
    server.kill("SIGTERM");
    await rm(base, { recursive: true, force: true });
  }
}

await main();
