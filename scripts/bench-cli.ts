/**
 * CLI start-up (issue 15): each command's wall time as a ratio to `node -e 0` measured in
 * the same round, median over paired rounds (commands run in a rotating order in every
 * round, so a burst of load hits them alike). Goals: validate, render, config of a 2-node
 * spec ≤ 2.5×; submit --dry-run ≤ 3×; --help ≤ 2×; 50 specs validated in one process well
 * under a second beyond start.
 *
 * Baselines in the same run:
 * - "tsx": today's sources through tsx (`node --import tsx jobs/cli.ts`): what the CLI
 *   costs without the bundle;
 * - "before": the CLI at BENCH_BASELINE_REF (default: the last commit before the bundle),
 *   exported with `git archive` next to this repository's node_modules.
 * Prints the load average of every round: the machine is shared.
 *
 *   npm run bench:cli -- [--runs 7] [--no-before]
 *   npx -y node@22 node_modules/tsx/dist/cli.mjs scripts/bench-cli.ts   (every child on Node 22)
 *
 * Wall-time ratios are the goal; on a loaded machine they swing with the scheduler, so the
 * CPU-time ratio (user + system, GNU time) is printed beside them.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildCli, REPO_ROOT } from "./build-cli.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "7" },
    "no-before": { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${values.runs}: a count ≥ 1`);

const SPEC = "examples/multinode-2x8-faster-rcnn.yaml";
const node = process.execPath;
const root = REPO_ROOT;

// The bundle under test is built now: the benchmark measures what this tree builds.
await buildCli();

// 50 distinct spec files for the many-files case.
const specsDir = mkdtempSync(join(tmpdir(), "yunshi-bench-cli-"));
const fifty = Array.from({ length: 50 }, (_, i) => {
  const f = join(specsDir, `exp-${i}.yaml`);
  copyFileSync(join(root, SPEC), f);
  return f;
});

/** The most recent commit whose bin/yunshi.js still ran the sources through tsx, with no bundle. */
function lastTsxCommit(): string | undefined {
  const git = (...args: string[]): string =>
    execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
  return git("log", "--format=%H", "-n", "200")
    .split("\n")
    .find((c) => c !== "" && !git("show", `${c}:bin/yunshi.js`).includes("dist/cli"));
}

/** The CLI at an older commit, runnable from a temporary directory. */
function exportBaseline(): string | undefined {
  const commit = process.env.BENCH_BASELINE_REF ?? lastTsxCommit();
  if (commit === undefined) return undefined;
  const dir = join(specsDir, "before");
  mkdirSync(dir);
  const tar = execFileSync(
    "git",
    ["archive", commit, "bin", "jobs", "policies", "images", "package.json"],
    {
      cwd: root,
      maxBuffer: 512 * 1024 * 1024,
    },
  );
  execFileSync("tar", ["-x", "-C", dir], { input: tar, maxBuffer: 64 * 1024 * 1024 });
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  process.stderr.write(`baseline "before": ${commit.slice(0, 12)} (its bin/yunshi.js runs tsx)\n`);
  return dir;
}
const beforeDir = values["no-before"] ? undefined : exportBaseline();

interface Case {
  readonly name: string;
  readonly argv: readonly string[];
  readonly cwd?: string;
  /** The goal as a ratio to `node -e 0`, when the issue sets one. */
  readonly goal?: number;
}
const cli = [node, "bin/yunshi.js"];
const tsx = [node, "--import", "tsx", "jobs/cli.ts"];
const cases: Case[] = [
  { name: "node -e 0", argv: [node, "-e", "0"] },
  { name: "--help", argv: [...cli, "--help"], goal: 2 },
  { name: "validate", argv: [...cli, "validate", SPEC], goal: 2.5 },
  { name: "render", argv: [...cli, "render", SPEC], goal: 2.5 },
  { name: "config", argv: [...cli, "config", SPEC], goal: 2.5 },
  { name: "submit --dry-run", argv: [...cli, "submit", SPEC, "--dry-run"], goal: 3 },
  { name: "validate ×50 files", argv: [...cli, "validate", ...fifty] },
  { name: "tsx: validate", argv: [...tsx, "validate", SPEC] },
  ...(beforeDir === undefined
    ? []
    : [
        {
          name: "before: validate",
          argv: [node, "bin/yunshi.js", "validate", resolve(root, SPEC)],
          cwd: beforeDir,
        },
        {
          name: "before: --help",
          argv: [node, "bin/yunshi.js", "--help"],
          cwd: beforeDir,
        },
      ]),
];

/** Wall and CPU seconds of one run; CPU from GNU time when the machine has it. */
const gnuTime = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
function measure(c: Case): { wall: number; cpu: number | undefined } {
  const argv = gnuTime === undefined ? c.argv : [gnuTime, "-f", "@@cpu %U %S", ...c.argv];
  const t0 = performance.now();
  const r = spawnSync(argv[0] ?? node, argv.slice(1), {
    cwd: c.cwd ?? root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}:\n${r.stderr}`);
  const m = /@@cpu ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return { wall, cpu: m ? Number(m[1]) + Number(m[2]) : undefined };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
};

process.stderr.write(
  `bench:cli: ${runs} paired rounds, ${cases.length} commands, node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"})\n`,
);
const samples = new Map<
  string,
  { wall: number[]; cpu: number[]; ratio: number[]; cpuRatio: number[] }
>(cases.map((c) => [c.name, { wall: [], cpu: [], ratio: [], cpuRatio: [] }]));
// One warm-up round (disk cache), not counted.
cases.forEach((c) => measure(c));
for (let round = 0; round < runs; round++) {
  const order = cases.map((_, i) => cases[(i + round) % cases.length] as Case);
  const results = new Map(order.map((c) => [c.name, measure(c)]));
  const base = results.get("node -e 0");
  for (const [name, r] of results) {
    const s = samples.get(name);
    s?.wall.push(r.wall);
    s?.ratio.push(r.wall / (base?.wall ?? NaN));
    if (r.cpu !== undefined) s?.cpu.push(r.cpu);
    // GNU time counts in 10 ms steps: a floor of 10 ms keeps the ratio finite.
    if (r.cpu !== undefined && base?.cpu !== undefined)
      s?.cpuRatio.push(r.cpu / Math.max(base.cpu, 0.01));
  }
  const [l1, l5] = loadavg();
  process.stderr.write(
    `round ${round + 1}: node -e 0 ${((base?.wall ?? NaN) * 1000).toFixed(0)} ms, load average ${l1?.toFixed(2)} (1 min) ${l5?.toFixed(2)} (5 min)\n`,
  );
}

const pad = (s: string, n: number): string => s.padEnd(n);
const lines = [
  `${pad("command", 22)} ${pad("wall ms", 9)} ${pad("CPU ms", 8)} ${pad("wall ×", 8)} ${pad("CPU ×", 7)} goal (wall × node -e 0)`,
];
for (const c of cases) {
  const s = samples.get(c.name);
  if (s === undefined) continue;
  const ratio = median(s.ratio);
  const verdict = c.goal === undefined ? "" : `≤ ${c.goal}× ${ratio <= c.goal ? "met" : "NOT met"}`;
  lines.push(
    `${pad(c.name, 22)} ${pad(String(Math.round(median(s.wall) * 1000)), 9)} ${pad(s.cpu.length ? String(Math.round(median(s.cpu) * 1000)) : "-", 8)} ${pad(ratio.toFixed(2), 8)} ${pad(s.cpuRatio.length ? median(s.cpuRatio).toFixed(2) : "-", 7)} ${verdict}`,
  );
}
const one = median(samples.get("validate")?.wall ?? []);
const many = median(samples.get("validate ×50 files")?.wall ?? []);
lines.push(
  `50 specs in one process: ${Math.round((many - one) * 1000)} ms beyond validating one (median wall, ${runs} rounds)`,
);
const [l1, l5, l15] = loadavg();
lines.push(`load average at the end: ${l1?.toFixed(2)} / ${l5?.toFixed(2)} / ${l15?.toFixed(2)}`);
process.stdout.write(lines.join("\n") + "\n");
rmSync(specsDir, { recursive: true, force: true });
