/**
 * The trainer launcher (Python, images/trainer) against the pod contract (jobs/pod-contract.ts):
 * the same environment variable names, exit codes, paths, port and index-overrides key.
 * The launcher is standard-library Python, so the system python3 runs it; no venv needed.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  INDEX_OVERRIDES_KEY,
  LauncherCommand,
  LauncherEnv,
  LauncherExit,
  PodPaths,
  PrepareFailureExit,
  doNotRetryExitCodes,
  masterPort,
} from "../jobs/pod-contract.ts";

const trainerDir = join(import.meta.dirname, "..", "images", "trainer");
const launcher = join(trainerDir, "yunshi_launch.py");

interface PrintedContract {
  env: Record<string, string>;
  exit: Record<string, number>;
  doNotRetry: number[];
  paths: Record<string, string>;
  masterPort: number;
  indexOverridesKey: string;
  prepareFailureExit: Record<string, number>;
  command: string[];
}

function printContract(): PrintedContract {
  const out = execFileSync("python3", [launcher, "--print-contract"], { encoding: "utf8" });
  return JSON.parse(out) as PrintedContract;
}

describe("trainer launcher ↔ jobs/pod-contract.ts", () => {
  const printed = printContract();

  it("reads the same environment variables", () => {
    expect(printed.env).toEqual(LauncherEnv);
  });

  it("uses the same exit codes and do-not-retry set", () => {
    expect(printed.exit).toEqual(LauncherExit);
    expect(printed.doNotRetry).toEqual([...doNotRetryExitCodes]);
  });

  it("defaults to the pod's paths and port", () => {
    expect(printed.paths).toEqual({
      workDir: PodPaths.workDir,
      configFile: PodPaths.configFile,
      dataDir: PodPaths.dataDir,
      pretrainedDir: PodPaths.pretrainedDir,
      statusDir: PodPaths.statusDir,
      prepareVerdict: PodPaths.prepareVerdict,
    });
    expect(printed.masterPort).toBe(masterPort);
    expect(printed.command).toEqual([...LauncherCommand]);
  });

  it("maps a failed prepare step to the same exit codes", () => {
    expect(printed.prepareFailureExit).toEqual(PrepareFailureExit);
  });

  it("pops the same index-overrides key from the config", () => {
    expect(printed.indexOverridesKey).toBe(INDEX_OVERRIDES_KEY);
  });

  it("names no YUNSHI_* variable outside the contract in its sources", () => {
    const sources = readdirSync(trainerDir).filter((f) => f.endsWith(".py"));
    expect(sources).toContain("yunshi_launch.py");
    const named = new Set<string>();
    for (const file of sources) {
      for (const m of readFileSync(join(trainerDir, file), "utf8").matchAll(/YUNSHI_[A-Z_]+/g)) {
        named.add(m[0]);
      }
    }
    expect([...named].sort()).toEqual(Object.values(LauncherEnv).sort());
  });

  it("exits with the contract's config-error code on a bad environment", () => {
    let status: number | null = null;
    try {
      execFileSync("python3", [launcher], {
        env: { PATH: process.env["PATH"] ?? "", [LauncherEnv.nnodes]: "zero" },
        stdio: "pipe",
      });
    } catch (e) {
      status = (e as { status: number | null }).status;
    }
    expect(status).toBe(LauncherExit.configError);
    expect(doNotRetryExitCodes).toContain(status);
  });
});
