/**
 * Goodput of a local run under preemption (issue #7). Runs the Quick start
 * (`submit examples/quickstart.yaml --local`, real MMDetection on this machine's CPU/GPU)
 * once uninterrupted, then again from scratch with k kill -9s of the whole run (the process
 * group and the training session: a lost machine) at fixed times, rerunning after each, and
 * prints:
 *   goodput              = uninterrupted wall time / interrupted wall time (all attempts)
 *   restart overhead     = per rerun, start of the command → first training iteration
 *                          (embedded store start, restore, Python and MMDetection start-up)
 *   work lost per kill   = iterations trained but not in the checkpoint it resumed from,
 *                          and their time at the run's mean iteration time
 * Kill i comes KILL_AFTER seconds after the attempt's first iteration, with KILL_AFTER =
 * (uninterrupted training time) / (k + 1), so kills spread over the run.
 *
 *   npm run bench:goodput -- [--kills 3] [--spec examples/quickstart.yaml]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort } from "../jobs/local/machine.ts";
import { killRun, parse, startLocalRun, whyNoVenv, type LocalRun } from "../test/local/harness.ts";

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "3" },
    spec: { type: "string", default: "examples/quickstart.yaml" },
    name: { type: "string", default: "quickstart" },
  },
});
const kills = Number(values.kills);
const spec = values.spec;

const why = whyNoVenv();
if (why !== undefined) {
  process.stderr.write(`bench:goodput needs the trainer's .venv: ${why}\n`);
  process.exit(2);
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function attempt(stateDir: string, port: number): LocalRun {
  return startLocalRun([spec, "--state-dir", stateDir, "--s3-port", String(port)]);
}

const firstIterAt = async (run: LocalRun): Promise<number> =>
  (await run.waitFor(/· iter \d+/, 900_000)).at;

// 1. Uninterrupted.
const base = await mkdtemp(join(tmpdir(), "yunshi-goodput-"));
const port = await freePort();
process.stderr.write(`uninterrupted run of ${spec}...\n`);
const u = attempt(join(base, "uninterrupted"), port);
const uFirst = await firstIterAt(u);
const uCode = await u.exited;
if (uCode !== 0) throw new Error(`uninterrupted run failed (${uCode}):\n${u.text()}`);
const uEnd = u.lines.at(-1)?.at ?? performance.now();
const uWall = uEnd - u.startedAt;
const uTrain = uEnd - uFirst;
const uIters = parse.iters(u.lines);
const iterMs = uTrain / Math.max(1, uIters.length);
const killAfter = uTrain / (kills + 1);

// 2. Interrupted: k kills at fixed times, rerun after each.
const stateDir = join(base, "interrupted");
const rows: { restartMs: number; lostIters: number }[] = [];
let total = 0;
let prevLast = 0;
for (let i = 0; ; i++) {
  process.stderr.write(
    i < kills
      ? `attempt ${i + 1}: kill after ${secs(killAfter)} of training\n`
      : `attempt ${i + 1}: to completion\n`,
  );
  const run = attempt(stateDir, port);
  const first = await firstIterAt(run);
  if (i > 0) {
    const resumed = parse.resumedIter(run.lines) ?? 0;
    rows.push({ restartMs: first - run.startedAt, lostIters: prevLast - resumed });
  }
  if (i === kills) {
    const code = await run.exited;
    if (code !== 0) throw new Error(`final attempt failed (${code}):\n${run.text()}`);
    total += (run.lines.at(-1)?.at ?? performance.now()) - run.startedAt;
    break;
  }
  await new Promise((r) => setTimeout(r, killAfter));
  await killRun(run, stateDir, values.name);
  total += performance.now() - run.startedAt;
  prevLast = Math.max(0, ...parse.iters(run.lines));
}
await rm(base, { recursive: true, force: true });

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const lines = [
  `goodput benchmark: ${spec}, ${kills} kill -9(s), ${cpus().length} CPU(s) (${cpus()[0]?.model ?? "?"}), node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
  "",
  "| measure | value |",
  "| --- | --- |",
  `| uninterrupted wall time | ${secs(uWall)} (${uIters.length} iterations, ${secs(iterMs)}/iter incl. checkpoints) |`,
  `| start-up until the first iteration (fresh run) | ${secs(uFirst - u.startedAt)} |`,
  `| interrupted wall time (${kills} kills, all attempts) | ${secs(total)} |`,
  `| goodput (uninterrupted / interrupted) | ${(uWall / total).toFixed(2)} |`,
  `| restart overhead per kill (start → first iteration), mean | ${secs(mean(rows.map((r) => r.restartMs)))} |`,
  `| work lost per kill, mean (max) | ${mean(rows.map((r) => r.lostIters)).toFixed(1)} (${Math.max(...rows.map((r) => r.lostIters))}) iterations ≈ ${secs(mean(rows.map((r) => r.lostIters)) * iterMs)} |`,
  "",
  "per kill: " +
    rows.map((r, i) => `#${i + 1} restart ${secs(r.restartMs)}, lost ${r.lostIters} it`).join("; "),
];
process.stdout.write(`${lines.join("\n")}\n`);
