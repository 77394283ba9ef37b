/**
 * Start-up of the built CLI (issue 15): the commands that must answer at once never load
 * the Kubernetes client, the AWS SDK, kubernetes-models or tsx, and the bundle knows when
 * it is stale. Timing itself is measured by `npm run bench:cli`, not here.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, cliBuildStatus, REPO_ROOT } from "../scripts/build-cli.js";

const exec = promisify(execFile);
const BLOCKER = join(REPO_ROOT, "test", "fixtures", "block-heavy-modules.js");
const SPEC = "examples/multinode-2x8-faster-rcnn.yaml";

interface Result {
  code: number;
  out: string;
  err: string;
}
async function runBuilt(argv: string[], blockHeavy: boolean): Promise<Result> {
  const pre = blockHeavy ? ["--import", BLOCKER] : [];
  try {
    const r = await exec(process.execPath, [...pre, join(outDir, "cli.js"), ...argv], {
      cwd: REPO_ROOT,
      env: { ...process.env, KUBECONFIG: "/nonexistent/kubeconfig" },
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

// A build of its own: other processes may rebuild dist/cli/ while this file runs.
let outDir = "";
beforeAll(async () => {
  mkdirSync(join(REPO_ROOT, "dist"), { recursive: true });
  outDir = mkdtempSync(join(REPO_ROOT, "dist", "test-"));
  await buildCli({ outDir });
}, 120_000);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

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
    const free = await runBuilt(argv, false);
    const blocked = await runBuilt(argv, true);
    expect(blocked.err).not.toContain("blocked heavy module");
    expect(blocked).toEqual(free);
    expect(free.out.length + free.err.length).toBeGreaterThan(0);
  });

  it("the blocker is real: a cluster command that needs the client fails under it", async () => {
    const r = await runBuilt(["status", "-n", "vision"], true);
    expect(r.code).toBe(1);
    expect(r.err).toContain("blocked heavy module at start-up: @kubernetes/client-node");
  });
});

describe("the bundle finds the repository like the sources do", () => {
  it("jobs/local/run-local.ts's REPO_ROOT is the repository root inside the bundle", async () => {
    // submit --local finds the launcher, the agent and .venv/ from REPO_ROOT, computed from
    // import.meta.url; a chunk one folder too deep made it dist/ (and --local unusable).
    const meta = JSON.parse(readFileSync(join(outDir, "meta.json"), "utf8")) as {
      outputs: Record<string, { entryPoint?: string }>;
    };
    const chunk = Object.entries(meta.outputs).find(
      ([, o]) => o.entryPoint === "jobs/local/run-local.ts",
    )?.[0];
    if (chunk === undefined) throw new Error("no chunk for jobs/local/run-local.ts");
    const mod = (await import(join(REPO_ROOT, chunk))) as { REPO_ROOT: string };
    expect(mod.REPO_ROOT).toBe(`${REPO_ROOT}/`);
  });
});

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
    expect(cliBuildStatus(outDir)).toEqual({ fresh: true });
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
      expect(cliBuildStatus(dir)).toEqual({ fresh: true });
    });
  });

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
