/**
 * `submit examples/quickstart.yaml --local` end to end on CPU, with real MMDetection in
 * .venv/ and the real checkpoint agent against the embedded S3 store:
 * - a first checkpoint, then Ctrl-C (SIGINT to the process group, as a terminal sends it),
 *   then a rerun that resumes where the interrupted run stopped and completes; the final
 *   model and the logs are in the store;
 * - preemption: kill -9 of the whole run at random times (≥ 3), rerun after each, until it
 *   completes; every rerun resumes from the newest committed checkpoint.
 * The two share one file so that they do not compete for the CPU.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../../jobs/local/machine.ts";
import { killRun, parse, startLocalRun, storedKeys, storedText, whyNoVenv } from "./harness.ts";

const SPEC = "examples/quickstart.yaml";
const PREFIX = "local/quickstart/";
/** checkpoint.every.iters of the quickstart. */
const INTERVAL = 8;

const noVenv = whyNoVenv();
if (noVenv !== undefined) {
  const bar = "!".repeat(100);
  console.warn(
    `\n${bar}\n!! SKIPPING the local end-to-end tests: ${noVenv}\n!! Build the venv with .ci/setup-trainer.sh (CI does this before the tests).\n${bar}\n`,
  );
}

async function fresh(): Promise<{ stateDir: string; args: string[] }> {
  const stateDir = await mkdtemp(join(tmpdir(), "yunshi-local-e2e-"));
  return { stateDir, args: [SPEC, "--state-dir", stateDir, "--s3-port", String(await freePort())] };
}

describe.skipIf(noVenv !== undefined)("submit --local, end to end on CPU", () => {
  it("trains to a checkpoint, stops on Ctrl-C, resumes where it stopped and completes", async () => {
    const { stateDir, args } = await fresh();

    const first = startLocalRun(args);
    // The first committed checkpoint (a fast machine may supersede iter_4 before it is polled).
    await first.waitFor(/checkpoint: iter_\d+\.pth committed/);
    await first.waitFor(/· iter (9|\d\d+)\b/);
    process.kill(-first.pid, "SIGINT");
    expect(await first.exited).toBe(1);
    const out1 = first.text();
    expect(out1).toMatch(/SIGINT: preempting/);
    expect(out1).toMatch(
      /▸ Interrupted: last checkpoint s3:\/\/yunshi-local\/local\/quickstart\/checkpoints\/iter_\d+\.pth/,
    );
    const stoppedAt = Number(/stopped after iteration (\d+)/.exec(out1)?.[1]);
    const lastSeen = Math.max(...parse.iters(first.lines));
    // The preemption checkpoint is at the next iteration boundary and was uploaded.
    expect(stoppedAt).toBeGreaterThanOrEqual(lastSeen);
    expect(parse.committed(first.lines)).toContain(stoppedAt);

    const second = startLocalRun(args);
    expect(await second.exited).toBe(0);
    const out2 = second.text();
    expect(out2).toContain(`restored iter_${stoppedAt}.pth`);
    expect(out2).toMatch(
      new RegExp(`resuming from iter_${stoppedAt}\\.pth \\(epoch \\d+, iter ${stoppedAt}\\)`),
    );
    // The iteration count continues from the checkpoint.
    expect(parse.iters(second.lines)[0]).toBe(stoppedAt + 1);
    expect(out2).toMatch(
      /▸ Completed: final model s3:\/\/yunshi-local\/local\/quickstart\/checkpoints\/iter_\d+\.pth/,
    );

    const keys = await storedKeys(stateDir, PREFIX);
    const finalFile = /final model \S+\/checkpoints\/(iter_\d+\.pth)/.exec(out2)?.[1] ?? "";
    expect(keys.get(`checkpoints/${finalFile}`)).toBeGreaterThan(100_000);
    expect(keys.has("checkpoints/LATEST.json")).toBe(true);
    const logs = [...keys.keys()].filter((k) => k.startsWith("logs/"));
    expect(logs.some((k) => k.endsWith(".log"))).toBe(true);
  }, 900_000);

  it("survives kill -9 of the whole run at random times, losing at most one checkpoint interval", async () => {
    const { stateDir, args } = await fresh();
    const kills = 3;
    const report: string[] = [];
    let previous:
      { lastIter: number; committed: number; saved: number; newestInStore: number } | undefined;
    for (let attempt = 0; ; attempt++) {
      const run = startLocalRun(args);
      const firstIter = run.waitFor(/· iter \d+/);
      if (previous !== undefined) {
        await firstIter;
        const resumed = parse.resumedIter(run.lines);
        expect(resumed, run.text()).toBeDefined();
        // Nothing committed is lost, and nothing uncommitted is used: the store's manifest
        // is the truth (a kill -9 can also take the last lines the run had not printed).
        expect(resumed).toBeGreaterThanOrEqual(previous.committed);
        expect(resumed).toBe(previous.newestInStore);
        const lost = previous.lastIter - (resumed ?? 0);
        // A save still uploading at the kill is lost too: its iterations count on top.
        const inFlight =
          previous.saved > previous.committed ? previous.lastIter - previous.saved : 0;
        expect(lost).toBeLessThanOrEqual(INTERVAL + inFlight);
        report.push(
          `kill ${attempt}: last iter ${previous.lastIter}, resumed at ${resumed}, lost ${lost}`,
        );
      }
      if (attempt === kills) {
        expect(await run.exited, run.text()).toBe(0);
        expect(run.text()).toMatch(/▸ Completed/);
        break;
      }
      await firstIter;
      // A random moment: after 2 to 8 more iterations (so kills land before, during and
      // after checkpoint saves and uploads), plus a random part of an iteration.
      const start = Math.max(...parse.iters(run.lines));
      const target = start + 2 + Math.floor(Math.random() * 7);
      await run.waitFor(new RegExp(`· iter ${target}\\b`), 300_000, run.lines.length);
      await new Promise((r) => setTimeout(r, Math.random() * 1500));
      await killRun(run, stateDir, "quickstart");
      const iters = parse.iters(run.lines);
      const manifest = (await storedText(stateDir, `${PREFIX}checkpoints/LATEST.json`)) ?? "";
      previous = {
        lastIter: iters.length === 0 ? 0 : Math.max(...iters),
        committed: Math.max(0, ...parse.committed(run.lines)),
        saved: Math.max(0, ...parse.saved(run.lines)),
        // The newest checkpoint the manifest names (restore takes the newest that verifies).
        newestInStore: Math.max(
          0,
          ...[...manifest.matchAll(/iter_(\d+)\.pth/g)].map((m) => Number(m[1])),
        ),
      };
    }
    console.log(report.join("\n"));
    const keys = await storedKeys(stateDir, PREFIX);
    expect(keys.has("checkpoints/LATEST.json")).toBe(true);
  }, 1_200_000);
});
