/**
 * Goodput of a local run under preemption (issues #7, #15). Runs the Quick start
 * (`submit examples/quickstart.yaml --local`, real MMDetection on this machine's CPU/GPU)
 * once uninterrupted, then again from scratch with k kill -9s of the whole run (the process
 * group and the training session: a lost machine) at fixed times and one SIGTERM (a spot
 * interruption with its 2-minute notice), rerunning after each. It measures, separately:
 *   R  restart overhead     per rerun, start of the command → first training iteration
 *                           (embedded store start, restore, Python and MMDetection start-up)
 *   L  work lost            per interruption, iterations trained but not in the checkpoint
 *                           the rerun resumed from (and their time at the mean iteration time)
 *   s  checkpoint cost      training time blocked per checkpoint save
 *   u  commit lag           checkpoint saved → committed to the store (upload, manifest)
 * and checks that a kill loses at most one checkpoint interval (plus the iterations of an
 * upload still in flight) and a SIGTERM loses nothing. Then it computes goodput for
 * realistic intervals from those components rather than from this toy run, whose kills every
 * ~40 s say little about a spot interruption every 2 hours:
 *   goodput(M, T) = 1 − s/T − (R + L)/M,  L = T/2 + u without notice, 0 with it
 * (M: mean time between interruptions, T: checkpoint interval; --mtbi, --interval).
 * Kill i comes KILL_AFTER seconds after the attempt's first iteration, with KILL_AFTER =
 * (uninterrupted training time) / (k + 2), so interruptions spread over the run.
 *
 *   npm run bench:goodput -- [--kills 3] [--spec examples/quickstart.yaml]
 *                            [--mtbi 2h] [--interval 10m]
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { freePort } from "../jobs/local/machine.ts";
import {
  killRun,
  parse,
  startLocalRun,
  whyNoVenv,
  type Line,
  type LocalRun,
} from "../test/local/harness.ts";

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "3" },
    spec: { type: "string", default: "examples/quickstart.yaml" },
    name: { type: "string", default: "quickstart" },
    mtbi: { type: "string", default: "2h" },
    interval: { type: "string", default: "10m" },
  },
});
const kills = Number(values.kills);
const spec = values.spec;
/** "2h", "10m", "90s" → seconds. */
const seconds = (flag: string, v: string): number => {
  const m = /^(\d+(?:\.\d+)?)([smh])$/.exec(v);
  if (m === null)
    throw new Error(`--${flag} ${JSON.stringify(v)}: a duration such as 2h, 10m, 90s`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"];
};
const mtbiS = seconds("mtbi", values.mtbi);
const intervalS = seconds("interval", values.interval);
const specDoc = parseYaml(await readFile(spec, "utf8")) as {
  checkpoint?: { every?: { iters?: number } };
};
const ckptEvery = specDoc.checkpoint?.every?.iters;
if (ckptEvery === undefined) throw new Error(`${spec}: bench:goodput needs checkpoint.every.iters`);

const why = whyNoVenv();
if (why !== undefined) {
  process.stderr.write(`bench:goodput needs the trainer's .venv: ${why}\n`);
  process.exit(2);
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function attempt(stateDir: string, port: number): LocalRun {
  // The CLI as `npm run submit` runs it now: the bundle (bin/yunshi.js), not tsx.
  return startLocalRun([spec, "--state-dir", stateDir, "--s3-port", String(port)], {
    cli: "bundle",
  });
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
const killAfter = uTrain / (kills + 2);

// 2. Interrupted: k kills at fixed times and one SIGTERM, rerun after each.
type Interruption = "kill" | "sigterm";
const plan: Interruption[] = [...Array.from({ length: kills }, () => "kill" as const), "sigterm"];
const stateDir = join(base, "interrupted");
const rows: { kind: Interruption; restartMs: number; lostIters: number; inFlight: number }[] = [];
let total = 0;
let prev: { kind: Interruption; last: number; inFlight: number } | undefined;
for (let i = 0; ; i++) {
  const kind = plan[i];
  process.stderr.write(
    kind === undefined
      ? `attempt ${i + 1}: to completion\n`
      : `attempt ${i + 1}: ${kind === "kill" ? "kill -9" : "SIGTERM"} after ${secs(killAfter)} of training\n`,
  );
  const run = attempt(stateDir, port);
  const first = await firstIterAt(run);
  if (prev !== undefined) {
    const resumed = parse.resumedIter(run.lines) ?? 0;
    rows.push({
      kind: prev.kind,
      restartMs: first - run.startedAt,
      lostIters: prev.last - resumed,
      inFlight: prev.inFlight,
    });
  }
  if (kind === undefined) {
    const code = await run.exited;
    if (code !== 0) throw new Error(`final attempt failed (${code}):\n${run.text()}`);
    total += (run.lines.at(-1)?.at ?? performance.now()) - run.startedAt;
    break;
  }
  await new Promise((r) => setTimeout(r, killAfter));
  if (kind === "kill") {
    await killRun(run, stateDir, values.name);
  } else {
    // What a terminal's Ctrl-C and the kubelet's SIGTERM do: save at the next iteration.
    process.kill(-run.pid, "SIGTERM");
    await run.exited;
  }
  total += performance.now() - run.startedAt;
  // Saves not yet committed when the run died: their iterations may be lost too.
  const committed = new Set(parse.committed(run.lines));
  const inFlight = parse.saved(run.lines).filter((n) => !committed.has(n)).length;
  prev = { kind, last: Math.max(0, ...parse.iters(run.lines)), inFlight };
}
await rm(base, { recursive: true, force: true });

// 3. The checkpoint's own costs, from the uninterrupted run's timeline.
const median = (xs: number[]): number => {
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length === 0 ? NaN : v.length % 2 ? (v[m] ?? NaN) : ((v[m - 1] ?? 0) + (v[m] ?? 0)) / 2;
};
function checkpointCosts(lines: readonly Line[]): { blockMs: number; commitLagMs: number } {
  const plain: number[] = [];
  const withSave: number[] = [];
  let lastIterAt: number | undefined;
  let between = "";
  for (const l of lines) {
    if (/· iter \d+/.test(l.text)) {
      if (lastIterAt !== undefined && !between.includes("validation:"))
        (between.includes("checkpoint: saving") ? withSave : plain).push(l.at - lastIterAt);
      lastIterAt = l.at;
      between = "";
    } else between += `${l.text}\n`;
  }
  const lags: number[] = [];
  for (const l of lines) {
    const m = /checkpoint: saving at iteration (\d+)/.exec(l.text);
    if (m === null) continue;
    const done = lines.find((c) => c.at >= l.at && c.text.includes(`iter_${m[1]}.pth committed`));
    if (done !== undefined) lags.push(done.at - l.at);
  }
  return {
    blockMs: Math.max(0, median(withSave) - median(plain)),
    commitLagMs: median(lags),
  };
}
const costs = checkpointCosts(u.lines);

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const killRows = rows.filter((r) => r.kind === "kill");
const termRows = rows.filter((r) => r.kind === "sigterm");
const restartS = mean(rows.map((r) => r.restartMs)) / 1000;
const saveS = costs.blockMs / 1000;
const lagS = costs.commitLagMs / 1000;

// The checks this run exists for.
const failures: string[] = [];
killRows.forEach((r, i) => {
  const allowed = ckptEvery + r.inFlight * ckptEvery;
  if (r.lostIters > allowed || r.lostIters < 0)
    failures.push(
      `kill #${i + 1} lost ${r.lostIters} iterations; at most ${allowed} (interval ${ckptEvery}, ${r.inFlight} save(s) still uploading)`,
    );
});
termRows.forEach((r) => {
  if (r.lostIters !== 0) failures.push(`SIGTERM lost ${r.lostIters} iterations; expected 0`);
});

const goodput = (lostS: number, cost: number): number =>
  1 - saveS / intervalS - (restartS + lostS + cost) / mtbiS;
const noNotice = goodput(intervalS / 2 + lagS, 0);
const withNotice = goodput(0, saveS);
const youngDaly = Math.sqrt(2 * Math.max(saveS, 0.001) * mtbiS);
const mins = (x: number): string => `${(x / 60).toFixed(x < 600 ? 1 : 0)} min`;

const lines = [
  `goodput benchmark: ${spec}, ${kills} kill -9(s) + 1 SIGTERM, ${cpus().length} CPU(s) (${cpus()[0]?.model ?? "?"}), node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ")}`,
  "",
  "Measured (this run):",
  "",
  "| measure | value |",
  "| --- | --- |",
  `| uninterrupted wall time | ${secs(uWall)} (${uIters.length} iterations, ${secs(iterMs)}/iter incl. checkpoints) |`,
  `| start-up until the first iteration (fresh run) | ${secs(uFirst - u.startedAt)} |`,
  `| interrupted wall time (${kills} kills + 1 SIGTERM, all attempts) | ${secs(total)} (toy goodput ${(uWall / total).toFixed(2)}) |`,
  `| R: restart overhead (start → first iteration), mean of ${rows.length} | ${secs(restartS * 1000)} (${rows.map((r) => secs(r.restartMs)).join(", ")}) |`,
  `| L: work lost per kill -9, mean (max) | ${mean(killRows.map((r) => r.lostIters)).toFixed(1)} (${Math.max(...killRows.map((r) => r.lostIters))}) iterations ≈ ${secs(mean(killRows.map((r) => r.lostIters)) * iterMs)}; checkpoint every ${ckptEvery} |`,
  `| L: work lost per SIGTERM (2-minute notice) | ${termRows.map((r) => r.lostIters).join(", ")} iterations |`,
  `| s: training blocked per checkpoint save | ${secs(costs.blockMs)} |`,
  `| u: commit lag (saved → committed to the store) | ${secs(costs.commitLagMs)} |`,
  "",
  `Goodput for a spot interruption every ${mins(mtbiS)} (M) and a checkpoint every ${mins(intervalS)} (T), from the components above:`,
  "",
  "    goodput = 1 − s/T − (R + L)/M",
  `    without notice (kill -9):   L = T/2 + u → 1 − ${saveS.toFixed(2)}/${intervalS} − (${restartS.toFixed(1)} + ${(intervalS / 2 + lagS).toFixed(1)})/${mtbiS} = ${noNotice.toFixed(4)}`,
  `    with the 2-minute notice:   L = 0, one extra save → 1 − ${saveS.toFixed(2)}/${intervalS} − (${restartS.toFixed(1)} + ${saveS.toFixed(2)})/${mtbiS} = ${withNotice.toFixed(4)}`,
  `    Young/Daly interval for this s and M: sqrt(2·s·M) = ${mins(youngDaly)}`,
  "",
  failures.length === 0
    ? `checks: every kill lost at most one checkpoint interval; SIGTERM lost nothing — ok`
    : `checks FAILED:\n  ${failures.join("\n  ")}`,
];
process.stdout.write(`${lines.join("\n")}\n`);
if (failures.length > 0) process.exitCode = 1;
