import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { KubeObject } from "../../jobs/cluster/types.ts";
import { stateOf } from "../../jobs/cluster/experiments.ts";
import { derivePhase, exitMeaning, PHASES, preparingFromLog } from "../../jobs/cluster/phase.ts";

interface Fixture {
  description: string;
  expect: { phase: string; reason?: string; restarts?: number; queuePosition?: number };
  workload: KubeObject;
  pods: KubeObject[];
  kueueWorkloads: KubeObject[];
  /** Pod → the prepare sidecar's last log line. */
  prepareLog?: Record<string, string>;
}

const dir = join(import.meta.dirname, "..", "fixtures", "cluster-states");
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .map(
    (f) =>
      [
        f.replace(/\.json$/, ""),
        JSON.parse(readFileSync(join(dir, f), "utf8")) as Fixture,
      ] as const,
  );

describe("phase derivation on recorded object states", () => {
  test.each(fixtures)("%s", (_name, fx) => {
    const preparing = new Map(
      Object.entries(fx.prepareLog ?? {}).filter(([, line]) => preparingFromLog(line)),
    );
    const s = stateOf(fx.workload, fx.pods, fx.kueueWorkloads, [], preparing);
    expect(s.status.phase, fx.description).toBe(fx.expect.phase);
    if (fx.expect.reason !== undefined) expect(s.status.reason).toContain(fx.expect.reason);
    if (fx.expect.restarts !== undefined) expect(s.status.restarts).toBe(fx.expect.restarts);
    if (fx.expect.queuePosition !== undefined)
      expect(s.status.queuePosition).toBe(fx.expect.queuePosition);
  });

  test("every phase is covered by a recorded state", () => {
    const seen = new Set(fixtures.map(([, f]) => f.expect.phase));
    expect([...PHASES].filter((p) => !seen.has(p))).toEqual([]);
  });

  test("the Kueue Workload decides Queued vs Starting while the Job is suspended", () => {
    const [, fx] = fixtures.find(
      ([n]) => n === "queued-kueue-pending",
    ) as (typeof fixtures)[number];
    const own = fx.kueueWorkloads.find(
      (k) => k.metadata.ownerReferences?.[0]?.uid === fx.workload.metadata.uid,
    );
    expect(derivePhase({ workload: fx.workload, pods: [] }).reason).toBe(
      "waiting for Kueue to create its Workload",
    );
    const admitted = structuredClone(own) as KubeObject;
    (admitted.status as { conditions: unknown[] }).conditions = [
      { type: "Admitted", status: "True" },
    ];
    expect(derivePhase({ workload: fx.workload, pods: [], kueueWorkload: admitted }).phase).toBe(
      "Starting",
    );
  });

  test("exit codes by the pod contract", () => {
    expect(exitMeaning("trainer", 3)).toMatch(/^config error/);
    expect(exitMeaning("trainer", 4)).toMatch(/^dataset error/);
    expect(exitMeaning("trainer", 5)).toMatch(/^CUDA out of memory/);
    expect(exitMeaning("restore", 2)).toMatch(/restore rejected its input/);
    expect(exitMeaning("trainer", 42)).toBe("trainer exited with code 42");
  });

  test("a non-workload kind is a programming error", () => {
    expect(() =>
      derivePhase({
        workload: { apiVersion: "v1", kind: "Pod", metadata: { name: "x" } },
        pods: [],
      }),
    ).toThrow(/not a training workload/);
  });
});
