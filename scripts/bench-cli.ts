/**
 * CLI start-up (issue 15): each command's wall time as a ratio to `node -e 0` measured in
 * the same round on the same Node, median over paired rounds (commands run in a rotating
 * order in every round, so a burst of load hits them alike). Goals: validate, render,
 * config of a 2-node spec ≤ 2.5×; submit --dry-run ≤ 3×; --help ≤ 2×; 50 specs validated in
 * one process well under a second beyond start. Node 22 is the documented minimum, so the
 * goals are judged there; every Node given runs in every round.
 *
 * Baselines in the same run:
 * - "before": the CLI at a baseline commit (--baseline, default: the last commit before
 *   the CommonJS bundle with a code cache, i.e. the code-split ES module bundle), exported
 *   with `git archive` next to this repository's node_modules and built there;
 * - "no code cache": today's bundle with YUNSHI_CODE_CACHE=0 (bin/run-bundle.js);
 * - "first run": today's bundle with an empty code cache, which it then writes (what the
 *   first run of a command after a build or a Node upgrade costs);
 * - --tsx adds today's sources through tsx (seconds per run, so off by default).
 * Prints the load average of every round: the machine is shared.
 *
 *   npm run bench:cli -- [--runs 7] [--node 22] [--node /path/to/node] [--baseline REF|none] [--tsx]
 *
 * --node takes a path to a node binary or a major version (fetched with `npx -y node@N`);
 * without it: the Node running this script and Node 22.
 * Wall-time ratios are the goal; on a loaded machine they swing with the scheduler, so the
 * CPU-time ratio (user + system, from wait4 through python3, else GNU time) is printed
 * beside them.
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
    node: { type: "string", multiple: true },
    baseline: { type: "string" },
    tsx: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${values.runs}: a count ≥ 1`);

const SPEC = "examples/multinode-2x8-faster-rcnn.yaml";
const root = REPO_ROOT;
const git = (...args: string[]): string =>
  execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();

interface NodeBinary {
  readonly path: string;
  readonly version: string;
}
/** A node binary from a path or a major version ("22": `npx -y node@22`). */
function nodeBinary(spec: string): NodeBinary {
  const path = /^\d+$/.test(spec)
    ? execFileSync("npx", ["-y", `node@${spec}`, "-p", "process.execPath"], {
        encoding: "utf8",
      }).trim()
    : spec;
  const version = execFileSync(path, ["-p", "process.version"], { encoding: "utf8" }).trim();
  return { path, version };
}
const nodes: NodeBinary[] = [];
for (const spec of values.node ?? [process.execPath, "22"]) {
  let n: NodeBinary;
  try {
    n = nodeBinary(spec);
  } catch (err) {
    // Only the default Node 22 may be missing (offline, no npx cache): say so and go on.
    if (values.node !== undefined) throw err;
    process.stderr.write(
      `bench:cli: no Node ${spec} here (${String(err)}); measuring without it\n`,
    );
    continue;
  }
  if (!nodes.some((m) => m.version === n.version)) nodes.push(n);
}

// The bundle under test is built now: the benchmark measures what this tree builds.
await buildCli();

const work = mkdtempSync(join(tmpdir(), "yunshi-bench-cli-"));
// 50 distinct spec files for the many-files case.
const fifty = Array.from({ length: 50 }, (_, i) => {
  const f = join(work, `exp-${i}.yaml`);
  copyFileSync(join(root, SPEC), f);
  return f;
});
// The code cache of this run only: the warm-up round writes it, the rounds read it.
const codeCacheDir = join(work, "code-cache");

/** The tree just before bin/run-bundle.js (the CommonJS bundle and its code cache) came. */
function lastCommitBeforeCodeCache(): string | undefined {
  const added = git("log", "--diff-filter=A", "--format=%H", "--", "bin/run-bundle.js")
    .split("\n")
    .filter((c) => c !== "")
    .at(-1);
  return added === undefined ? undefined : `${added}^`;
}

/** The CLI at an older commit, built and runnable from a temporary directory. */
function exportBaseline(): { dir: string; commit: string } | undefined {
  if (values.baseline === "none") return undefined;
  const commit = values.baseline ?? lastCommitBeforeCodeCache();
  if (commit === undefined) return undefined;
  const dir = join(work, "before");
  mkdirSync(dir);
  const paths = ["bin", "jobs", "policies", "images", "scripts", "package.json"];
  const tar = execFileSync("git", ["archive", commit, ...paths], {
    cwd: root,
    maxBuffer: 512 * 1024 * 1024,
  });
  execFileSync("tar", ["-x", "-C", dir], { input: tar, maxBuffer: 512 * 1024 * 1024 });
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  if (existsSync(join(dir, "scripts", "build-cli.js")))
    execFileSync(process.execPath, ["scripts/build-cli.js"], { cwd: dir, stdio: "ignore" });
  return { dir, commit: git("rev-parse", "--short=12", commit) };
}
const before = exportBaseline();

interface Case {
  readonly name: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  /** A fresh empty directory per run, passed as YUNSHI_CODE_CACHE_DIR. */
  readonly coldCache?: boolean;
  /** The goal as a ratio to `node -e 0`, when the issue sets one. */
  readonly goal?: number;
}
const spec = resolve(root, SPEC);
const goals: [string, string[], number][] = [
  ["--help", ["--help"], 2],
  ["validate", ["validate", spec], 2.5],
  ["render", ["render", spec], 2.5],
  ["config", ["config", spec], 2.5],
  ["submit --dry-run", ["submit", spec, "--dry-run"], 3],
];
const cases: Case[] = [
  { name: "node -e 0", args: ["-e", "0"] },
  ...goals.map(([name, args, goal]) => ({ name, args: ["bin/yunshi.js", ...args], goal })),
  { name: "validate ×50 files", args: ["bin/yunshi.js", "validate", ...fifty] },
  {
    name: "no code cache: validate",
    args: ["bin/yunshi.js", "validate", spec],
    env: { YUNSHI_CODE_CACHE: "0" },
  },
  { name: "first run: validate", args: ["bin/yunshi.js", "validate", spec], coldCache: true },
  ...(before === undefined
    ? []
    : goals.map(([name, args]) => ({
        name: `before: ${name}`,
        args: ["bin/yunshi.js", ...args],
        cwd: before.dir,
      }))),
  ...(values.tsx
    ? [{ name: "tsx: validate", args: ["--import", "tsx", "jobs/cli.ts", "validate", spec] }]
    : []),
];

/**
 * Wall and CPU seconds of one run. With python3 a small
 * wrapper forks, execs the command and reads its rusage from wait4: wall from the fork to
 * the exit, CPU (user + system) to the microsecond, neither counting the wrapper's own start.
 * Without it: wall around spawnSync and CPU from GNU time (10 ms steps), or none.
 */
const RUSAGE_WRAPPER = `
import os, sys, time
t = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t
sys.stderr.write("@@rusage %.6f %.6f\\n" % (wall, ru.ru_utime + ru.ru_stime))
sys.exit(os.waitstatus_to_exitcode(status))
`;
const python = spawnSync("python3", ["-c", "0"]).status === 0 ? "python3" : undefined;
const gnuTime = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
let coldCaches = 0;
function measure(node: NodeBinary, c: Case): { wall: number; cpu: number | undefined } {
  const argv = [node.path, ...c.args];
  if (python !== undefined) argv.unshift(python, "-c", RUSAGE_WRAPPER);
  else if (gnuTime !== undefined) argv.unshift(gnuTime, "-f", "@@cpu %U %S");
  const cacheDir = c.coldCache ? join(work, `cold-${coldCaches++}`) : codeCacheDir;
  const t0 = performance.now();
  const r = spawnSync(argv[0] ?? node.path, argv.slice(1), {
    cwd: c.cwd ?? root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, YUNSHI_CODE_CACHE_DIR: cacheDir, ...c.env },
  });
  const spawnWall = (performance.now() - t0) / 1000;
  if (r.status !== 0)
    throw new Error(`${c.name} (${node.version}) exited ${r.status}:\n${r.stderr}`);
  if (c.coldCache) rmSync(cacheDir, { recursive: true, force: true });
  const ru = /@@rusage ([\d.]+) ([\d.]+)/.exec(r.stderr);
  if (ru) return { wall: Number(ru[1]), cpu: Number(ru[2]) };
  const m = /@@cpu ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return { wall: spawnWall, cpu: m ? Number(m[1]) + Number(m[2]) : undefined };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
};

process.stderr.write(
  `bench:cli: ${runs} paired rounds, ${cases.length} commands on ${nodes.map((n) => n.version).join(" and ")}, ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"})\n` +
    (before === undefined
      ? ""
      : `baseline "before": ${before.commit} (the code-split ES module bundle, built in ${before.dir})\n`),
);
interface Samples {
  wall: number[];
  cpu: number[];
  ratio: number[];
  cpuRatio: number[];
}
const key = (n: NodeBinary, c: Case): string => `${n.version} ${c.name}`;
const samples = new Map<string, Samples>();
for (const n of nodes)
  for (const c of cases) samples.set(key(n, c), { wall: [], cpu: [], ratio: [], cpuRatio: [] });
// One warm-up round (disk cache, code cache), not counted.
for (const n of nodes) cases.forEach((c) => measure(n, c));
const loads: number[] = [];
for (let round = 0; round < runs; round++) {
  const baseMs: string[] = [];
  for (const n of round % 2 ? [...nodes].reverse() : nodes) {
    const order = cases.map((_, i) => cases[(i + round) % cases.length] as Case);
    const results = new Map(order.map((c) => [c.name, measure(n, c)]));
    const base = results.get("node -e 0");
    for (const [name, r] of results) {
      const s = samples.get(`${n.version} ${name}`);
      s?.wall.push(r.wall);
      s?.ratio.push(r.wall / (base?.wall ?? NaN));
      if (r.cpu !== undefined) s?.cpu.push(r.cpu);
      // GNU time counts in 10 ms steps: a floor of 10 ms keeps its ratio finite.
      if (r.cpu !== undefined && base?.cpu !== undefined)
        s?.cpuRatio.push(r.cpu / Math.max(base.cpu, python === undefined ? 0.01 : 1e-6));
    }
    baseMs.push(`${n.version} ${((base?.wall ?? NaN) * 1000).toFixed(0)} ms`);
  }
  const [l1, l5] = loadavg();
  loads.push(l1 ?? NaN);
  process.stderr.write(
    `round ${round + 1}: node -e 0 ${baseMs.join(", ")}; load average ${l1?.toFixed(2)} (1 min) ${l5?.toFixed(2)} (5 min)\n`,
  );
}

const pad = (s: string, n: number): string => s.padEnd(n);
const lines: string[] = [];
for (const n of nodes) {
  lines.push(
    "",
    `Node ${n.version}`,
    `${pad("command", 26)} ${pad("wall ms", 9)} ${pad("CPU ms", 8)} ${pad("wall ×", 8)} ${pad("CPU ×", 7)} goal (wall × node -e 0)`,
  );
  for (const c of cases) {
    const s = samples.get(key(n, c));
    if (s === undefined) continue;
    const ratio = median(s.ratio);
    const verdict =
      c.goal === undefined ? "" : `≤ ${c.goal}× ${ratio <= c.goal ? "met" : "NOT met"}`;
    lines.push(
      `${pad(c.name, 26)} ${pad(String(Math.round(median(s.wall) * 1000)), 9)} ${pad(s.cpu.length ? String(Math.round(median(s.cpu) * 1000)) : "-", 8)} ${pad(ratio.toFixed(2), 8)} ${pad(s.cpuRatio.length ? median(s.cpuRatio).toFixed(2) : "-", 7)} ${verdict}`,
    );
  }
  const beyondOne = (what: "wall" | "cpu"): number =>
    median(samples.get(`${n.version} validate ×50 files`)?.[what] ?? []) -
    median(samples.get(`${n.version} validate`)?.[what] ?? []);
  lines.push(
    `50 specs in one process: ${Math.round(beyondOne("wall") * 1000)} ms wall, ${Math.round(beyondOne("cpu") * 1000)} ms CPU beyond validating one (medians, ${runs} rounds)`,
  );
}
const [l1, l5, l15] = loadavg();
lines.push(
  "",
  `load average (1 min) per round: ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}; at the end: ${l1?.toFixed(2)} / ${l5?.toFixed(2)} / ${l15?.toFixed(2)}`,
);
process.stdout.write(lines.join("\n") + "\n");
rmSync(work, { recursive: true, force: true });
