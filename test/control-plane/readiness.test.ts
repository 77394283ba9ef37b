/**
 * Kueue's waitForPodsReady against the pods yunshi renders (issue 16, finding 3), on the real
 * control plane with a short timeout. The prepare sidecar (fetch, restore) runs beside the
 * trainer, so a pod is Ready as soon as its containers run: a run still restoring is never
 * evicted. For contrast, the same pod with prepare as a regular init container (the layout
 * before) stays not Ready, is evicted, and after the requeuing limit is deactivated, which
 * `status` reports as Failed with Kueue's reason instead of Queued for ever.
 */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { writeSpec } from "../cluster/harness.ts";
import { platformFromConfigMapData } from "../../jobs/platform.ts";
import { renderKubernetesObjects } from "../../jobs/render/kubernetes.ts";
import { parseExperiment } from "../../jobs/spec/load-experiment.ts";
import type { Obj } from "./admin-client.ts";
import { describeOnControlPlane, NS } from "./harness.ts";
import type { Session } from "./harness.ts";

const TIMEOUT_S = 15;
const KUEUE = "kueue.x-k8s.io/v1beta2";

interface StatusJson {
  phase: string;
  reason?: string;
}

async function status(s: Session, name: string): Promise<StatusJson> {
  const r = await s.yunshi("status", name, "-o", "json");
  expect(r.code, r.all).toBe(0);
  return JSON.parse(r.out) as StatusJson;
}

const conditions = (o: Obj | undefined) =>
  (
    o?.status as {
      conditions?: { type: string; status: string; reason?: string; message?: string }[];
    }
  )?.conditions ?? [];
const isTrue = (o: Obj | undefined, type: string) =>
  conditions(o).find((c) => c.type === type && c.status === "True");

async function workloadOf(s: Session, job: string): Promise<Obj | undefined> {
  const all = await s.cp.admin.list(KUEUE, "Workload", NS);
  return all.find((w) => (w.metadata.ownerReferences ?? []).some((r) => r.name === job));
}

describeOnControlPlane(
  "Kueue's waitForPodsReady on the pods yunshi renders",
  (session) => {
    test("a run whose prepare sidecar is still restoring stays admitted past the timeout", async () => {
      const s = session();
      const r = await s.yunshi(
        "submit",
        writeSpec(s.dir, (x) => (x.name = "slow-restore")),
      );
      expect(r.code, r.all).toBe(0);
      s.log("prepare", "restoring iter_80.pth: 3% 1.2/40 GB, 85.0 MB/s");
      await s.waitFor(
        "Restoring",
        async () => (await status(s, "slow-restore")).phase === "Restoring",
      );
      const wl = await s.waitFor("PodsReady", async () => {
        const w = await workloadOf(s, "slow-restore");
        return isTrue(w, "PodsReady") ? w : undefined;
      });
      expect(isTrue(wl, "Admitted")).toBeDefined();
      // Twice the timeout, still restoring: never evicted, never requeued.
      await new Promise((res) => setTimeout(res, 2 * TIMEOUT_S * 1000));
      const after = await workloadOf(s, "slow-restore");
      expect(isTrue(after, "Evicted"), JSON.stringify(conditions(after))).toBeUndefined();
      expect(isTrue(after, "Admitted")).toBeDefined();
      expect((after?.status as { requeueState?: unknown }).requeueState).toBeUndefined();
      expect((await status(s, "slow-restore")).phase).toBe("Restoring");
      const cancel = await s.yunshi("cancel", "slow-restore");
      expect(cancel.code, cancel.all).toBe(0);
    }, 120_000);

    test("with prepare as a blocking init container the same pod is evicted, then deactivated and reported Failed", async () => {
      const s = session();
      const file = writeSpec(s.dir, (x) => (x.name = "blocking-init"));
      const loaded = parseExperiment(readFileSync(file, "utf8"), file);
      const cm = await s.cp.admin.get("v1", "ConfigMap", NS, "yunshi-platform");
      const objects = renderKubernetesObjects({
        experiment: loaded.experiment,
        platform: platformFromConfigMapData(NS, cm?.data as Record<string, string>),
        specHash: loaded.specHash,
        version: "0.0.0-test",
      });
      for (const o of objects) {
        const spec = (
          o as {
            spec?: {
              template?: { spec?: { initContainers?: { name: string; restartPolicy?: string }[] } };
            };
          }
        ).spec;
        for (const c of spec?.template?.spec?.initContainers ?? [])
          if (c.name === "prepare") delete c.restartPolicy;
        await s.cp.admin.apply(o);
      }
      const evicted = await s.waitFor(
        "an eviction for PodsReadyTimeout",
        async () => {
          const w = await workloadOf(s, "blocking-init");
          const e = conditions(w).find(
            (c) => c.type === "Evicted" && c.reason === "PodsReadyTimeout",
          );
          return e ?? undefined;
        },
        (TIMEOUT_S + 30) * 1000,
      );
      expect(evicted.message).toMatch(/PodsReady/);
      const deactivated = await s.waitFor(
        "deactivation after the requeuing limit",
        async () => {
          const w = await workloadOf(s, "blocking-init");
          return (w?.spec as { active?: boolean }).active === false ? w : undefined;
        },
        4 * (TIMEOUT_S + 30) * 1000,
      );
      const st = await status(s, "blocking-init");
      expect(st.phase, JSON.stringify(conditions(deactivated))).toBe("Failed");
      expect(st.reason).toMatch(/Kueue deactivated it/);
      expect(st.reason).toMatch(/re-queuing|requeu/i);
    }, 300_000);
  },
  {
    kueueConfig: (cfg) => ({
      ...cfg,
      waitForPodsReady: {
        timeout: `${TIMEOUT_S}s`,
        blockAdmission: false,
        requeuingStrategy: {
          timestamp: "Eviction",
          backoffBaseSeconds: 1,
          backoffMaxSeconds: 2,
          backoffLimitCount: 1,
        },
      },
    }),
  },
);
