/**
 * Start-up of the built CLI (issue 15): the commands that must answer at once never load
 * the Kubernetes client, the AWS SDK, kubernetes-models or tsx (nor node:child_process for
 * --help); the bundle is one ASCII CommonJS file that finds the repository like the sources
 * do; each command's V8 code cache is written once, used after, and never in the way; and
 * the bundle knows when it is stale. Timing itself is measured by `npm run bench:cli`, not
 * here.
 */
import { execFile, execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, cliBuildStatus, REPO_ROOT } from "../scripts/build-cli.js";

const exec = promisify(execFile);
const FIXTURES = join(REPO_ROOT, "test", "fixtures");
const BLOCKER = join(FIXTURES, "block-heavy-modules.cjs");
const RUNNER = join(FIXTURES, "run-built-cli.cjs");
const SPEC = "examples/multinode-2x8-faster-rcnn.yaml";

interface Result {
  code: number;
  out: string;
  err: string;
}
interface RunOptions {
  blockHeavy?: boolean;
  /** YUNSHI_CODE_CACHE_DIR; default: this file's own cache directory. */
  cacheDir?: string;
  env?: Record<string, string>;
  /** --require'd before the CLI. */
  preload?: string;
}
async function runBuilt(argv: string[], o: RunOptions = {}): Promise<Result> {
  const pre = [
    ...(o.blockHeavy ? ["--require", BLOCKER] : []),
    ...(o.preload ? ["--require", o.preload] : []),
  ];
  try {
    const r = await exec(process.execPath, [...pre, RUNNER, bundle, ...argv], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        KUBECONFIG: "/nonexistent/kubeconfig",
        YUNSHI_CODE_CACHE_DIR: o.cacheDir ?? cacheDir,
        ...o.env,
      },
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

// A build of its own: other processes may rebuild dist/cli/ while this file runs.
let outDir = "";
let bundle = "";
let cacheDir = "";
let scratch = "";
beforeAll(async () => {
  mkdirSync(join(REPO_ROOT, "dist"), { recursive: true });
  outDir = mkdtempSync(join(REPO_ROOT, "dist", "test-"));
  await buildCli({ outDir });
  const status = cliBuildStatus(outDir);
  if (!status.fresh) throw new Error(`fresh build reported stale: ${status.reason}`);
  bundle = status.bundle;
  scratch = mkdtempSync(join(tmpdir(), "yunshi-cli-startup-"));
  cacheDir = join(scratch, "code-cache");
}, 120_000);
afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

describe("the light commands load no heavy module", () => {
  const light: [string, string[]][] = [
    ["--help", ["--help"]],
    ["submit --help", ["submit", "--help"]],
    ["validate", ["validate", SPEC]],
    ["render", ["render", SPEC]],
    ["render --format json", ["render", SPEC, "--format", "json"]],
    ["config", ["config", SPEC]],
    ["submit --dry-run", ["submit", SPEC, "--dry-run"]],
    ["an invalid spec", ["validate", "test/fixtures/invalid-loss-scale.yaml"]],
  ];
  it.each(light)("%s: same result with them made unloadable", async (_, argv) => {
    const free = await runBuilt(argv);
    const blocked = await runBuilt(argv, { blockHeavy: true });
    expect(blocked.err).not.toContain("blocked heavy module");
    expect(blocked).toEqual(free);
    expect(free.out.length + free.err.length).toBeGreaterThan(0);
  });

  it("the blocker is real: a cluster command that needs the client fails under it", async () => {
    const r = await runBuilt(["status", "-n", "vision"], { blockHeavy: true });
    expect(r.code).toBe(1);
    expect(r.err).toContain("blocked heavy module at start-up: @kubernetes/client-node");
  });

  it("--help loads no node:child_process (commander requires it for a feature we never use), validate no node:fs/promises", async () => {
    // Writes which of Node's own modules were loaded when the process ends.
    const report = join(scratch, "loaded.json");
    const preload = join(scratch, "report-loaded.cjs");
    writeFileSync(
      preload,
      `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(report)}, JSON.stringify(process.moduleLoadList)));`,
    );
    const loaded = async (argv: string[]): Promise<string[]> => {
      const r = await runBuilt(argv, { preload });
      expect(r.code).toBe(0);
      return JSON.parse(readFileSync(report, "utf8")) as string[];
    };
    expect(await loaded(["--help"])).not.toContain("NativeModule child_process");
    // A spec with an s3:// dataset is read with node:fs, which every start has loaded;
    // node:fs/promises (streams, readline) is loaded only for a local dataset folder.
    expect(await loaded(["validate", SPEC])).not.toContain("NativeModule fs/promises");
    // The same probe sees it in a process that loads it (the check is not blind).
    const { stdout } = await exec(process.execPath, [
      "--require",
      preload,
      "-e",
      'require("node:child_process")',
    ]);
    expect(stdout).toBe("");
    expect(JSON.parse(readFileSync(report, "utf8"))).toContain("NativeModule child_process");
  });
});

describe("validate compiles no code at run time", () => {
  it("zod parses the spec without its eval fast path, which no code cache keeps", async () => {
    // Records the stack of every `new Function(…)` (zod's JIT) in the CLI process, except
    // zod's probe whether eval is allowed at all (`new Function("")`, nothing compiled).
    const report = join(scratch, "new-function.json");
    const preload = join(scratch, "record-new-function.cjs");
    writeFileSync(
      preload,
      `const stacks = [];
Error.stackTraceLimit = 50;
globalThis.Function = new Proxy(Function, { construct(t, args) { if (args.join("") !== "") stacks.push(new Error().stack); return Reflect.construct(t, args); } });
process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(report)}, JSON.stringify(stacks)));`,
    );
    const r = await runBuilt(["validate", SPEC], { preload });
    expect(r.code).toBe(0);
    const stacks = JSON.parse(readFileSync(report, "utf8")) as string[];
    // None at all: the spec and the platform ConfigMap are both parsed jitless.
    expect(stacks).toEqual([]);
    // The probe is not blind: the same preload records a `new Function` in a plain node.
    execFileSync(process.execPath, ["--require", preload, "-e", 'new Function("a", "return a")']);
    expect((JSON.parse(readFileSync(report, "utf8")) as string[]).length).toBe(1);
  });
});

describe("the bundle", () => {
  it("is one ASCII CommonJS file named by its content hash, without zod's locales", async () => {
    const files = readdirSync(outDir).filter((f) => f.endsWith(".cjs") || f.endsWith(".js"));
    expect(files).toEqual([basename(bundle)]);
    expect(basename(bundle)).toMatch(/^cli-[A-Z0-9]{8}\.cjs$/);
    // Non-ASCII would make V8 hold the source as UTF-16 (scripts/build-cli.js asciiOnly);
    // the sources have Chinese help texts, so the escaping is exercised.
    const text = readFileSync(bundle, "latin1");
    expect(/[\u0080-\uffff]/.test(text)).toBe(false);
    // …and the escapes mean the same characters.
    expect((await runBuilt(["--help"])).out).toContain("云视 yunshi: exp.yaml → MMDetection");
    // `import * as z from "zod"` lets the bundle drop zod's 40 locales (half its size).
    const meta = JSON.parse(readFileSync(join(outDir, "meta.json"), "utf8")) as {
      outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
    };
    const kept = Object.values(meta.outputs).flatMap((o) =>
      Object.entries(o.inputs).filter(([, i]) => i.bytesInOutput > 0),
    );
    const locales = kept.map(([p]) => p).filter((p) => p.includes("zod/v4/locales/"));
    expect(locales.sort()).toEqual([
      "node_modules/zod/v4/locales/en.js",
      "node_modules/zod/v4/locales/index.js",
    ]);
  });

  it("gives bundled modules the import.meta.url and import.meta.resolve the sources get", async () => {
    // A probe built with the same options, two levels below the repository like dist/cli.
    const dir = mkdtempSync(join(REPO_ROOT, "dist", "probe-"));
    try {
      await buildCli({ outDir: dir, entry: "test/fixtures/bundle-probe.ts" });
      const status = cliBuildStatus(dir);
      if (!status.fresh) throw new Error(status.reason);
      const probe = createRequire(import.meta.url)(status.bundle) as {
        runLocalRepoRoot: string;
        tsxLoader: string;
        metaUrl: string;
      };
      // submit --local finds the launcher, the agent and .venv/ from run-local's REPO_ROOT.
      expect(probe.runLocalRepoRoot).toBe(`${REPO_ROOT}/`);
      expect(probe.metaUrl).toBe(pathToFileURL(status.bundle).href);
      // What an ES module in the same folder gets from import.meta.resolve("tsx").
      const { stdout } = await exec(
        process.execPath,
        ["--input-type=module", "-e", 'process.stdout.write(import.meta.resolve("tsx"))'],
        { cwd: dir },
      );
      expect(probe.tsxLoader).toBe(stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the code cache (bin/run-bundle.js)", () => {
  const cacheFiles = (dir: string): string[] =>
    existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".bin")) : [];
  const cacheName = (command: string): string =>
    `${basename(bundle, ".cjs")}.${process.version}-${process.arch}.${command}.bin`;
  const LONG_AGO = new Date("2020-01-01T00:00:00Z");

  it("the first run of a command writes its cache; the next one uses it unchanged", async () => {
    const dir = join(scratch, "first-run");
    const first = await runBuilt(["validate", SPEC], { cacheDir: dir });
    expect(first.code).toBe(0);
    expect(cacheFiles(dir)).toEqual([cacheName("validate")]);
    const file = join(dir, cacheName("validate"));
    expect(statSync(file).size).toBeGreaterThan(10_000);
    // A cache V8 accepts is not written again; one it rejects would be.
    utimesSync(file, LONG_AGO, LONG_AGO);
    const bytes = readFileSync(file);
    const second = await runBuilt(["validate", SPEC], { cacheDir: dir });
    expect(second).toEqual(first);
    expect(statSync(file).mtime).toEqual(LONG_AGO);
    expect(readFileSync(file).equals(bytes)).toBe(true);
    // Another command gets a cache of its own.
    const help = await runBuilt(["--help"], { cacheDir: dir });
    expect(help.code).toBe(0);
    expect(cacheFiles(dir).sort()).toEqual([cacheName("--help"), cacheName("validate")].sort());
  });

  it("a corrupt cache is rejected by V8, the command runs the same, and the cache is rewritten", async () => {
    const dir = join(scratch, "corrupt");
    const good = await runBuilt(["config", SPEC], { cacheDir: dir });
    const file = join(dir, cacheName("config"));
    const garbage = Buffer.alloc(statSync(file).size, 0x5a);
    writeFileSync(file, garbage);
    const again = await runBuilt(["config", SPEC], { cacheDir: dir });
    expect(again).toEqual(good);
    expect(readFileSync(file).equals(garbage)).toBe(false);
  });

  it("an unwritable cache directory costs the cache, nothing else; YUNSHI_CODE_CACHE=0 writes none", async () => {
    const plain = await runBuilt(["validate", SPEC], { cacheDir: join(scratch, "plain") });
    // A directory under a regular file cannot be created, even by root.
    const file = join(scratch, "a-file");
    writeFileSync(file, "");
    const unwritable = await runBuilt(["validate", SPEC], { cacheDir: join(file, "cache") });
    expect(unwritable).toEqual(plain);
    const off = join(scratch, "off");
    const disabled = await runBuilt(["validate", SPEC], {
      cacheDir: off,
      env: { YUNSHI_CODE_CACHE: "0" },
    });
    expect(disabled).toEqual(plain);
    expect(existsSync(off)).toBe(false);
  });

  it("writing a cache removes other bundles' caches unused for an hour, and keeps recent ones", async () => {
    const dir = join(scratch, "prune");
    mkdirSync(dir, { recursive: true });
    const old = join(dir, `cli-OLDBUILD.${process.version}-${process.arch}.validate.bin`);
    const recent = join(dir, `cli-RECENTBU.${process.version}-${process.arch}.validate.bin`);
    writeFileSync(old, "x");
    writeFileSync(recent, "x");
    utimesSync(old, LONG_AGO, LONG_AGO);
    expect((await runBuilt(["--help"], { cacheDir: dir })).code).toBe(0);
    expect(cacheFiles(dir).sort()).toEqual([basename(recent), cacheName("--help")].sort());
  });

  it("a command line's cache key is its first word when that is a command or flag, else 'other'", () => {
    const { cacheKeyOf } = createRequire(import.meta.url)("../bin/run-bundle.js") as {
      cacheKeyOf: (argv: readonly string[]) => string;
    };
    expect(cacheKeyOf(["validate", "a.yaml"])).toBe("validate");
    expect(cacheKeyOf(["--help"])).toBe("--help");
    expect(cacheKeyOf([])).toBe("other");
    // Never a path or a value a user wrote.
    expect(cacheKeyOf(["../../etc/passwd"])).toBe("other");
    expect(cacheKeyOf(["Validate"])).toBe("other");
  });
});

describe("modules loaded on first use (bin/lazy-require.js)", () => {
  const lazy = createRequire(import.meta.url)("../bin/lazy-require.js") as {
    lazyModule: (req: (id: string) => unknown, id: string) => Record<string | symbol, unknown>;
  };

  it("loads the module at the first property access, once, and forwards everything", () => {
    const loads: string[] = [];
    const real = { spawn: (): string => "spawned", nested: { a: 1 } };
    const m = lazy.lazyModule((id) => {
      loads.push(id);
      return real;
    }, "node:child_process");
    expect(loads).toEqual([]);
    expect((m.spawn as () => string)()).toBe("spawned");
    expect(m.nested).toBe(real.nested);
    expect(Object.keys(m)).toEqual(["spawn", "nested"]);
    expect("spawn" in m).toBe(true);
    expect(loads).toEqual(["node:child_process"]);
  });

  it("a copy of all its properties (esbuild's __toESM) sees the real module", () => {
    const path = require_("node:path") as { join: unknown };
    const m = lazy.lazyModule(() => path, "node:path");
    const copy = { ...m } as { join?: unknown };
    expect(copy.join).toBe(path.join);
  });

  it("a module whose exports are a function is refused with its name, not called wrongly", () => {
    const m = lazy.lazyModule(() => () => "I am a function", "@balena/dockerignore");
    expect(() => m.anything).toThrow(
      "bin/lazy-require.js: @balena/dockerignore does not export an object; remove it from LAZY",
    );
  });
});
const require_ = createRequire(import.meta.url);

describe("the build knows when it is stale", () => {
  interface Stamp {
    sha256: string;
    size: number;
    mtimeMs: number;
  }
  const copyOfBuild = (): string => {
    const dir = mkdtempSync(join(REPO_ROOT, "dist", "stale-test-"));
    cpSync(outDir, dir, { recursive: true });
    return dir;
  };
  const editInputs = (dir: string, edit: (inputs: Record<string, Stamp>) => void): void => {
    const file = join(dir, "build-info.json");
    const info = JSON.parse(readFileSync(file, "utf8")) as { inputs: Record<string, Stamp> };
    edit(info.inputs);
    writeFileSync(file, JSON.stringify(info));
  };
  const withCopy = (check: (dir: string) => void): void => {
    const dir = copyOfBuild();
    try {
      check(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const SOURCE = "jobs/spec/experiment.ts";

  it("fresh right after a build, covering the sources of every command", () => {
    expect(cliBuildStatus(outDir)).toEqual({ fresh: true, bundle });
    const info = JSON.parse(readFileSync(join(outDir, "build-info.json"), "utf8")) as {
      inputs: Record<string, Stamp>;
    };
    expect(Object.keys(info.inputs)).toEqual(
      expect.arrayContaining([
        "jobs/cli.ts",
        SOURCE,
        "jobs/cluster/client.ts",
        "jobs/local/run-local.ts",
        "scripts/build-cli.js",
        "scripts/cli-build-status.cjs",
        "node_modules/zod/package.json",
      ]),
    );
  });

  it("stale when a source's content differs from what was bundled", () => {
    withCopy((dir) => {
      editInputs(dir, (inputs) => {
        const s = inputs[SOURCE];
        if (s === undefined) throw new Error(`${SOURCE} not among the inputs`);
        inputs[SOURCE] = { ...s, sha256: "0".repeat(64), mtimeMs: s.mtimeMs - 1000 };
      });
      expect(cliBuildStatus(dir)).toEqual({
        fresh: false,
        reason: `${SOURCE} changed since the build`,
      });
    });
  });

  it("fresh when only the mtime moved (a touch, a checkout of the same content)", () => {
    withCopy((dir) => {
      editInputs(dir, (inputs) => {
        const s = inputs[SOURCE];
        if (s === undefined) throw new Error(`${SOURCE} not among the inputs`);
        inputs[SOURCE] = { ...s, mtimeMs: s.mtimeMs - 1000 };
      });
      expect(cliBuildStatus(dir)).toEqual({ fresh: true, bundle: join(dir, basename(bundle)) });
    });
  });

  it("stale when the bundle it names is missing", () => {
    withCopy((dir) => {
      rmSync(join(dir, basename(bundle)));
      const status = cliBuildStatus(dir);
      expect(status.fresh).toBe(false);
      if (!status.fresh) expect(status.reason).toMatch(/cli-[A-Z0-9]+\.cjs is missing$/);
    });
  });

  it("a build removes bundles written more than 10 minutes ago, and keeps recent ones", async () => {
    const dir = copyOfBuild();
    try {
      const old = join(dir, "cli-OLDBUILD.cjs");
      const recent = join(dir, "cli-RECENTBU.cjs");
      writeFileSync(old, "");
      writeFileSync(recent, "");
      const elevenMinutesAgo = new Date(Date.now() - 11 * 60 * 1000);
      utimesSync(old, elevenMinutesAgo, elevenMinutesAgo);
      await buildCli({ outDir: dir, clean: false });
      // The bundle this build wrote (another process may have edited a source meanwhile).
      const info = JSON.parse(readFileSync(join(dir, "build-info.json"), "utf8")) as {
        bundle: string;
      };
      const left = readdirSync(dir).filter((f) => f.endsWith(".cjs"));
      expect(left).not.toContain("cli-OLDBUILD.cjs");
      expect(left).toEqual(expect.arrayContaining([info.bundle, "cli-RECENTBU.cjs"]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("stale when a source was removed, and when nothing was built", () => {
    withCopy((dir) => {
      editInputs(dir, (inputs) => {
        inputs["jobs/commands/gone.ts"] = { sha256: "0".repeat(64), size: 1, mtimeMs: 0 };
      });
      expect(cliBuildStatus(dir)).toEqual({
        fresh: false,
        reason: "jobs/commands/gone.ts was removed since the build",
      });
      rmSync(join(dir, "build-info.json"));
      expect(cliBuildStatus(dir)).toMatchObject({ fresh: false });
    });
  });
});
