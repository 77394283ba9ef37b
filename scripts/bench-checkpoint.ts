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
 *   BENCH_BASELINE_AGENT=/tmp/old-agent.cjs npm run bench:checkpoint   # before/after, same run
 *   BENCH_RESTORE_ROUNDS=4 npm run bench:checkpoint   # then restores only, of run 1's objects
 *
 * The machine may be shared: each run prints the 1-minute load average, and each command's
 * CPU seconds (user + sys, from /usr/bin/time when it exists) are reported beside the wall
 * time, because CPU per GiB does not depend on how busy the machine is and wall time does.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem, tmpdir } from "node:os";
import { join } from "node:path";
import { startBenchS3 } from "./bench-s3rver.ts";
import { bundleAgent } from "../images/checkpoint-agent/build.ts";

const BUCKET = "bench";
const MiB = 1024 * 1024;
const SIZE = Number(process.env["BENCH_SIZE_MIB"] ?? "1024") * MiB;
const RUNS = Number(process.env["BENCH_RUNS"] ?? "3");
/**
 * Extra rounds that only restore the objects run 1 uploaded, each tool in turn: every run
 * above first writes 4+ GiB into the server (uploads, multipart parts), so its restores also
 * measure the page cache being flushed; these measure restores alone.
 */
const RESTORE_ROUNDS = Number(process.env["BENCH_RESTORE_ROUNDS"] ?? "0");

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const mbps = (seconds: number): number => SIZE / 1e6 / seconds;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const GNU_TIME = "/usr/bin/time";
const haveGnuTime = spawnSync(GNU_TIME, ["-f", "%U", "true"], { stdio: "ignore" }).status === 0;
/** CPU seconds (user + sys) of every timed command, by label. */
const cpuSeconds = new Map<string, number[]>();
/** CPU seconds the S3 server spent serving each timed command, by label. */
const serverCpuSeconds = new Map<string, number[]>();
let serverPid: number | undefined;

/** User + sys seconds of a process so far (Linux /proc; undefined elsewhere). */
async function processCpu(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name: state is field 3, utime 14, stime 15 (in clock ticks).
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/**
 * Run a command (argv array, no shell), return wall seconds; throw on failure. Under
 * GNU time its CPU seconds are recorded under `label` too.
 */
async function timed(
  label: string,
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const cpuFile = join(tmpdir(), `yunshi-bench-time-${process.pid}`);
  const [file, argv] = haveGnuTime
    ? [GNU_TIME, ["-f", "%U %S", "-o", cpuFile, cmd, ...args]]
    : [cmd, [...args]];
  const server0 = await processCpu(serverPid);
  const t0 = performance.now();
  const child = spawn(file, argv, { env, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
  const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  const s = (performance.now() - t0) / 1000;
  const server1 = await processCpu(serverPid);
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${err}`);
  if (server0 !== undefined && server1 !== undefined) {
    serverCpuSeconds.set(label, [...(serverCpuSeconds.get(label) ?? []), server1 - server0]);
  }
  if (haveGnuTime) {
    const [user, sys] = (await readFile(cpuFile, "utf8")).trim().split(/\s+/).map(Number);
    cpuSeconds.set(label, [...(cpuSeconds.get(label) ?? []), (user ?? 0) + (sys ?? 0)]);
    await rm(cpuFile, { force: true });
  }
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
  const s3 = await startBenchS3(base, BUCKET);
  const { endpoint, env } = s3;
  serverPid = s3.pid;
  try {
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

    const baseline = process.env["BENCH_BASELINE_AGENT"];
    const tools: Record<string, { up: number[]; down: number[] }> = {
      agent: { up: [], down: [] },
      ...(baseline === undefined ? {} : { "agent-baseline": { up: [], down: [] } }),
      awscli: { up: [], down: [] },
      rclone: { up: [], down: [] },
    };
    const t = (name: string): { up: number[]; down: number[] } =>
      tools[name] as { up: number[]; down: number[] };
    const agentRun = (name: string, js: string, args: string[]): Promise<number> =>
      timed(`${name} ${args[0] ?? ""}`, process.execPath, [js, ...args], env);
    for (let run = 1; run <= RUNS; run++) {
      const load = loadavg()[0] ?? 0;
      const agents: [string, string][] = [
        ["agent", agentJs],
        ...(baseline === undefined ? [] : [["agent-baseline", baseline] as [string, string]]),
      ];
      // Alternate who goes first, so a burst of load does not always hit the same tool.
      if (run % 2 === 0) agents.reverse();
      for (const [name, js] of agents) {
        const uri = `s3://${BUCKET}/${name}/run-${run}/`;
        t(name).up.push(
          await agentRun(name, js, [
            "snapshot",
            "--work-dir",
            src,
            "--uri",
            uri,
            "--keep",
            "1",
            "--once",
          ]),
        );
        const dest = join(base, `${name}-restore-${run}`);
        t(name).down.push(await agentRun(name, js, ["restore", "--work-dir", dest, "--uri", uri]));
        await rm(dest, { recursive: true, force: true });
      }

      if (haveAws) {
        const key = `s3://${BUCKET}/awscli/run-${run}/epoch_1.pth`;
        const aws = (label: string, a: string[]): Promise<number> =>
          timed(label, "aws", [...a, "--endpoint-url", endpoint, "--only-show-errors"], env);
        t("awscli").up.push(await aws("awscli snapshot", ["s3", "cp", file, key]));
        const out = join(base, `aws-${run}.pth`);
        t("awscli").down.push(await aws("awscli restore", ["s3", "cp", key, out]));
        await rm(out, { force: true });
      }
      if (haveRclone) {
        const remote = `bench:${BUCKET}/rclone/run-${run}/epoch_1.pth`;
        t("rclone").up.push(
          await timed("rclone snapshot", "rclone", ["copyto", file, remote], env),
        );
        const out = join(base, `rclone-${run}.pth`);
        t("rclone").down.push(
          await timed("rclone restore", "rclone", ["copyto", remote, out], env),
        );
        await rm(out, { force: true });
      }
      const restores = Object.entries(tools)
        .filter(([, x]) => x.down.length === run)
        .map(([name, x]) => `${name} ${mbps(x.down[run - 1] as number).toFixed(0)}`)
        .join(", ");
      console.log(
        `run ${run}/${RUNS}: load average ${load.toFixed(2)} at start, ${(loadavg()[0] ?? 0).toFixed(2)} at end; restore MB/s: ${restores}`,
      );
    }

    const restoreOnly: Record<string, number[]> = {};
    for (let round = 1; round <= RESTORE_ROUNDS; round++) {
      const load = loadavg()[0] ?? 0;
      const line: string[] = [];
      for (const name of Object.keys(tools)) {
        let seconds: number | undefined;
        const out = join(base, `restore-only-${name}`);
        if (name === "agent" || name === "agent-baseline") {
          const js = name === "agent" ? agentJs : (baseline as string);
          const uri = `s3://${BUCKET}/${name}/run-1/`;
          seconds = await timed(
            `${name} restore-only`,
            process.execPath,
            [js, "restore", "--work-dir", out, "--uri", uri],
            env,
          );
        } else if (name === "awscli" && haveAws) {
          seconds = await timed(
            "awscli restore-only",
            "aws",
            [
              "s3",
              "cp",
              `s3://${BUCKET}/awscli/run-1/epoch_1.pth`,
              out,
              "--endpoint-url",
              endpoint,
              "--only-show-errors",
            ],
            env,
          );
        } else if (name === "rclone" && haveRclone) {
          seconds = await timed(
            "rclone restore-only",
            "rclone",
            ["copyto", `bench:${BUCKET}/rclone/run-1/epoch_1.pth`, out],
            env,
          );
        }
        await rm(out, { recursive: true, force: true });
        if (seconds === undefined) continue;
        (restoreOnly[name] ??= []).push(seconds);
        line.push(`${name} ${mbps(seconds).toFixed(0)}`);
      }
      console.log(
        `restore-only round ${round}/${RESTORE_ROUNDS}: load average ${load.toFixed(2)}; MB/s: ${line.join(", ")}`,
      );
    }

    const gib = SIZE / 2 ** 30;
    const cpuPerGiB = (label: string): string => {
      const xs = cpuSeconds.get(label);
      return xs === undefined ? "–" : (median(xs) / gib).toFixed(2);
    };
    const serverPerGiB = (label: string): string => {
      const xs = serverCpuSeconds.get(label);
      return xs === undefined ? "–" : (median(xs) / gib).toFixed(2);
    };
    const row = (name: string, x: { up: number[]; down: number[] }): string =>
      x.up.length === 0
        ? `| ${name.padEnd(14)} | not installed | not installed |                  |                   |                          |`
        : `| ${name.padEnd(14)} | ${mbps(median(x.up)).toFixed(1).padStart(13)} | ${mbps(median(x.down)).toFixed(1).padStart(13)} | ${cpuPerGiB(`${name} snapshot`).padStart(16)} | ${cpuPerGiB(`${name} restore`).padStart(17)} | ${serverPerGiB(`${name} restore`).padStart(24)} |`;
    console.log(
      "\n| tool           | upload MB/s   | restore MB/s  | upload CPU-s/GiB | restore CPU-s/GiB | server restore CPU-s/GiB |",
    );
    console.log(
      "|----------------|---------------|---------------|------------------|-------------------|--------------------------|",
    );
    for (const [name, x] of Object.entries(tools)) console.log(row(name, x));
    const ratio = (a: number[], b: number[]): string =>
      b.length === 0 ? "n/a" : (median(b) / median(a)).toFixed(2); // time ratio = speed ratio inverted
    for (const other of ["awscli", "rclone", "agent-baseline"]) {
      if (tools[other] === undefined) continue;
      console.log(
        `agent/${other}: upload ${ratio(t("agent").up, t(other).up)}×, restore ${ratio(t("agent").down, t(other).down)}×`,
      );
    }
    const rivals = ["awscli", "rclone"].filter((n) => t(n).down.length > 0);
    if (rivals.length > 0) {
      const fastest = Math.min(...rivals.map((n) => median(t(n).down)));
      const upFastest = Math.min(...rivals.map((n) => median(t(n).up)));
      console.log(
        `agent vs the faster of ${rivals.join(" and ")}: upload ${(upFastest / median(t("agent").up)).toFixed(2)}×, restore ${(fastest / median(t("agent").down)).toFixed(2)}× (goal ≥ 1.00)`,
      );
    }
    const onlyRivals = ["awscli", "rclone"].filter((n) => restoreOnly[n] !== undefined);
    if (restoreOnly["agent"] !== undefined && onlyRivals.length > 0) {
      const row = (name: string): string =>
        `${name} ${mbps(median(restoreOnly[name] as number[])).toFixed(1)} MB/s (${cpuPerGiB(`${name} restore-only`)} CPU-s/GiB, server ${serverPerGiB(`${name} restore-only`)})`;
      const fastest = Math.min(...onlyRivals.map((n) => median(restoreOnly[n] as number[])));
      console.log(
        `restore only, medians of ${RESTORE_ROUNDS} rounds: ${Object.keys(restoreOnly).map(row).join("; ")}; agent vs the faster of ${onlyRivals.join(" and ")}: ${(fastest / median(restoreOnly["agent"])).toFixed(2)}× (goal ≥ 1.00)`,
      );
    }
    console.log(
      "(ratios of median MB/s; >1 means the agent is faster. The agent's restore includes its SHA-256 verification; CPU-s/GiB is user + sys of the whole command, median; server CPU-s/GiB is what s3rver, on the same cores, spent meanwhile.)",
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
    s3.stop();
    await rm(base, { recursive: true, force: true });
  }
}

await main();
