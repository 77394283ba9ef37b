/**
 * Benchmark: `yunshi dataset push` against `aws s3 sync` on the same folder, the same local
 * S3 server (s3rver in its own process), in the same run. A dataset-shaped folder: many
 * small files with Chinese names (random bytes, so nothing compresses). Three scenarios,
 * each tool on its own prefix: a first upload, a second run with nothing changed, and a run
 * after 1% of the files changed; three runs (BENCH_RUNS), medians. Every figure is the wall time of the whole command,
 * process start included. Prints a table; indicative only on a shared machine.
 *
 *   npm run bench:dataset                          # 900 files × 150 KiB
 *   BENCH_FILES=300 BENCH_KIB=100 npm run bench:dataset
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startBenchS3 } from "./bench-s3rver.ts";

const ROOT = resolve(import.meta.dirname, "..");
// What users run (`npx yunshi`): the bundled CLI, no TypeScript transpiled at start.
const CLI = join(ROOT, "bin/yunshi.js");
const BUCKET = "bench";
// s3rver cannot page a listing past 1,000 keys on Node ≥ 17 (its continuation token uses
// DES, which OpenSSL 3 no longer offers): stay under that with the manifest included.
const FILES = Math.min(998, Number(process.env["BENCH_FILES"] ?? "900"));
const KIB = Number(process.env["BENCH_KIB"] ?? "150");
const RUNS = Number(process.env["BENCH_RUNS"] ?? "3");
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Run a command (argv array, no shell); wall seconds and stdout; throws on failure. */
async function timed(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ s: number; out: string }> {
  const t0 = performance.now();
  const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
  const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  const s = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${err}`);
  return { s, out };
}

async function main(): Promise<void> {
  if (spawnSync("aws", ["--version"], { stdio: "ignore" }).status !== 0) {
    console.log("awscli not found (pip install awscli); nothing to compare with");
    return;
  }
  const base = await mkdtemp(join(tmpdir(), "yunshi-bench-dataset-"));
  const s3 = await startBenchS3(base, BUCKET);
  const { endpoint, env } = s3;
  try {
    await timed(process.execPath, [CLI, "--version"], env); // builds the bundle if stale
    const mb = (FILES * KIB * 1024) / 1e6;
    const scenarios = [
      "first upload",
      "second run, nothing changed",
      "after 1% of the files changed",
    ];
    const times: Record<string, { yunshi: number[]; aws: number[] }> = Object.fromEntries(
      scenarios.map((k) => [k, { yunshi: [], aws: [] }]),
    );
    console.log(
      `${FILES} files × ${KIB} KiB = ${mb.toFixed(1)} MB, ${RUNS} runs; s3rver on 127.0.0.1; ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadavg()[0]?.toFixed(1)}; Node ${process.version}; ${spawnSync("aws", ["--version"]).stdout.toString().trim() || spawnSync("aws", ["--version"]).stderr.toString().trim()}`,
    );
    for (let run = 1; run <= RUNS; run++) {
      // A fresh folder and fresh prefixes each run, so every run starts from nothing.
      const dir = join(base, `数据集 ${run}`);
      const names: string[] = [];
      for (let i = 0; i < FILES; i++) {
        const rel = `图片 ${i % 10}/样本 ${i}.jpg`;
        await mkdir(join(dir, `图片 ${i % 10}`), { recursive: true });
        await writeFile(join(dir, rel), randomBytes(KIB * 1024));
        names.push(rel);
      }
      const yunshi = (): Promise<{ s: number; out: string }> =>
        timed(
          process.execPath,
          [
            CLI,
            "dataset",
            "push",
            dir,
            `s3://${BUCKET}/vision/datasets/yunshi-${run}/`,
            "--no-check",
          ],
          env,
        );
      const aws = (): Promise<{ s: number; out: string }> =>
        timed(
          "aws",
          [
            "s3",
            "sync",
            dir,
            `s3://${BUCKET}/vision/datasets/aws-${run}/`,
            "--endpoint-url",
            endpoint,
            "--only-show-errors",
          ],
          env,
        );
      for (const scenario of scenarios) {
        if (scenario.startsWith("after")) {
          // 1% of the files get new content of the same size.
          for (let i = 0; i < FILES; i += 100)
            await writeFile(join(dir, names[i] as string), randomBytes(KIB * 1024));
        }
        // Alternate which tool goes first, so neither always meets a warmer server.
        const order =
          run % 2 === 1
            ? ([
                ["yunshi", yunshi],
                ["aws", aws],
              ] as const)
            : ([
                ["aws", aws],
                ["yunshi", yunshi],
              ] as const);
        for (const [tool, go] of order) {
          const t = (await go()).s;
          times[scenario]?.[tool].push(t);
        }
        console.log(
          `run ${run}, ${scenario}: yunshi ${times[scenario]?.yunshi.at(-1)?.toFixed(2)} s, aws s3 sync ${times[scenario]?.aws.at(-1)?.toFixed(2)} s`,
        );
      }
    }
    console.log(
      "\n| scenario (median of " +
        String(RUNS) +
        ") | yunshi dataset push | aws s3 sync | aws time / yunshi time |",
    );
    console.log("| --- | --- | --- | --- |");
    for (const scenario of scenarios) {
      const y = median(times[scenario]?.yunshi ?? []);
      const a = median(times[scenario]?.aws ?? []);
      const first = scenario === "first upload";
      console.log(
        `| ${scenario} | ${y.toFixed(2)} s${first ? ` (${(mb / y).toFixed(1)} MB/s)` : ""} | ${a.toFixed(2)} s${first ? ` (${(mb / a).toFixed(1)} MB/s)` : ""} | ${(a / y).toFixed(2)}× |`,
      );
    }
  } finally {
    s3.stop();
    await rm(base, { recursive: true, force: true });
  }
}

await main();
