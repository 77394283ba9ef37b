/**
 * Multi-node runs (JobSet) and the rules the real cluster enforces, through the CLI on the real
 * control plane: JobSet's name-length webhook against `validate`, webhook vs RBAC refusals,
 * the group on on-demand GPU nodes, a preemption that restarts the group without using a
 * retry, a do-not-retry exit code, and maxRuntime on one node and on several.
 */
import { expect, test } from "vitest";
import { ClusterClient } from "../../jobs/cluster/client.ts";
import type { ClusterError } from "../../jobs/cluster/errors.ts";
import { loadKubeConfig } from "../../jobs/cluster/kubeconfig.ts";
import { platformFromConfigMapData } from "../../jobs/platform.ts";
import { renderKubernetesObjects } from "../../jobs/render/kubernetes.ts";
import { parseExperiment } from "../../jobs/spec/load-experiment.ts";
import { writeSpec } from "../cluster/harness.ts";
import { readFileSync } from "node:fs";
import type { Obj } from "./admin-client.ts";
import { describeOnControlPlane, NS } from "./harness.ts";
import type { Session } from "./harness.ts";
import { TestAnnotations } from "./kwok-config.ts";

interface StatusJson {
  phase: string;
  reason?: string;
  restarts: number;
  retriesUsed: number;
}

const MULTI = "multinode-2x8-faster-rcnn.yaml";

/** The example's 2×8 spec on the test cluster's on-demand p4d nodes. */
const multiSpec = (dir: string, edit: (x: Record<string, unknown>) => void) =>
  writeSpec(
    dir,
    (x) => {
      (x.resources as Record<string, unknown>).gpu = { instanceTypes: ["p4d.24xlarge"] };
      edit(x);
    },
    MULTI,
  );
const JOBSET = "jobset.x-k8s.io/v1alpha2";

async function status(s: Session, name: string): Promise<StatusJson> {
  const r = await s.yunshi("status", name, "-o", "json");
  expect(r.code, r.all).toBe(0);
  return JSON.parse(r.out) as StatusJson;
}
const waitPhase = (s: Session, name: string, phase: string, ms = 30_000) =>
  s.waitFor(
    `${name} ${phase}`,
    async () => {
      const st = await status(s, name);
      return st.phase === phase ? st : undefined;
    },
    ms,
  );
const livePods = async (s: Session, name: string): Promise<Obj[]> =>
  (await s.pods(name)).filter((p) => p.metadata.deletionTimestamp === undefined);
async function annotate(s: Session, pods: Obj[], annotations: Record<string, string>) {
  for (const p of pods)
    await s.cp.admin.mergePatch("v1", "Pod", NS, p.metadata.name, { metadata: { annotations } });
}
/** The prepare sidecars' last log line says they are done (kwok serves one prepare log to
 * every pod), once the run has its pods. */
const finishInit = async (s: Session, name: string, count: number) => {
  await s.waitFor(`${count} pods of ${name}`, async () => {
    const ps = await livePods(s, name);
    return ps.length === count ? ps : undefined;
  });
  s.log("prepare", "prepared in 3.1 s: training may start");
};

/** The rendered objects of a spec with the team's real platform ConfigMap. */
async function rendered(s: Session, name: string, nodes: number) {
  const file = writeSpec(
    s.dir,
    (x) => {
      // validate would refuse the name: render with a short one, then rename.
      x.name = "short";
      (x.resources as Record<string, unknown>).nodes = nodes;
    },
    MULTI,
  );
  const loaded = parseExperiment(readFileSync(file, "utf8"), file);
  const cm = await s.cp.admin.get("v1", "ConfigMap", NS, "yunshi-platform");
  return renderKubernetesObjects({
    experiment: { ...loaded.experiment, name },
    platform: platformFromConfigMapData(NS, cm?.data as Record<string, string>),
    specHash: loaded.specHash,
    version: "0.0.0-test",
  });
}

describeOnControlPlane("multi-node runs and cluster rules on a real control plane", (session) => {
  test("names: JobSet's webhook refuses what validate refuses (49 characters on 2 nodes), and accepts 48", async () => {
    const s = session();
    const alice = new ClusterClient(
      loadKubeConfig({ env: { KUBECONFIG: s.cp.kubeconfig("alice", NS) } }),
    );
    for (const [length, nodes, accepted] of [
      [48, 2, true],
      [49, 2, false],
      [47, 11, true],
      [48, 11, false],
    ] as const) {
      const name = "n" + "x".repeat(length - 1);
      const v = await s.yunshi(
        "validate",
        writeSpec(
          s.dir,
          (x) => {
            x.name = name;
            (x.resources as Record<string, unknown>).nodes = nodes;
          },
          MULTI,
        ),
      );
      expect(v.code, `${length} characters, ${nodes} nodes: ${v.all}`).toBe(accepted ? 0 : 2);
      const jobSet = (await rendered(s, name, nodes)).find((o) => o.kind === "JobSet")!;
      const sent = alice.apply(jobSet as never, { dryRun: true });
      if (accepted) await expect(sent).resolves.toBeDefined();
      else {
        const e = (await sent.catch((x: unknown) => x)) as ClusterError;
        // A webhook's denial, quoted, not "ask for a Role".
        expect(e.kind).toBe("admission-denied");
        expect(e.message).toMatch(/admission webhook vjobset\.kb\.io refused JobSet/);
        expect(e.message).toContain(
          "pod names generated for this JobSet will exceed 63 characters",
        );
      }
    }
  });

  test("RBAC: a user outside the team may not submit; nothing is half-applied", async () => {
    const s = session();
    const r = await s.as(
      "mallory",
      "submit",
      multiSpec(s.dir, (x) => (x.name = "not-mine")),
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /Forbidden: you may not (get|apply|list) .*Ask your platform engineer for a Role/,
    );
    expect(await s.cp.admin.get(JOBSET, "JobSet", NS, "not-mine")).toBeUndefined();
    expect(await s.cp.admin.get("v1", "ConfigMap", NS, "not-mine-config")).toBeUndefined();
  });

  test("a 2×8 run: JobSet → child Job → two pods on the on-demand GPU nodes; Restoring → Training", async () => {
    const s = session();
    const r = await s.yunshi(
      "submit",
      multiSpec(s.dir, (x) => (x.name = "mn")),
    );
    expect(r.code, r.all).toBe(0);
    s.log("prepare", "restoring iter_8.pth: 41% 135/330 MB, 88.2 MB/s");
    await waitPhase(s, "mn", "Restoring");
    const pods = await livePods(s, "mn");
    const nodes = await Promise.all(
      pods.map((p) =>
        s.cp.admin.get("v1", "Node", undefined, (p.spec as { nodeName: string }).nodeName),
      ),
    );
    expect(nodes.map((n) => n?.metadata.labels?.["karpenter.sh/capacity-type"])).toEqual([
      "on-demand",
      "on-demand",
    ]);
    expect(new Set(nodes.map((n) => n?.metadata.name)).size).toBe(2);
    await finishInit(s, "mn", 2);
    await waitPhase(s, "mn", "Training");
  });

  test("a preempted node restarts the whole group without using a retry (JobSet v0.12 rule)", async () => {
    const s = session();
    const [victim] = await livePods(s, "mn");
    await s.cp.admin.evict(NS, victim!.metadata.name);
    const js = await s.waitFor("the JobSet restarted", async () => {
      const j = await s.cp.admin.get(JOBSET, "JobSet", NS, "mn");
      return ((j?.status as { restarts?: number } | undefined)?.restarts ?? 0) >= 1 ? j : undefined;
    });
    expect((js.status as { restartsCountTowardsMax?: number }).restartsCountTowardsMax ?? 0).toBe(
      0,
    );
    await finishInit(s, "mn", 2);
    const st = await waitPhase(s, "mn", "Training");
    expect(st).toMatchObject({ restarts: 1, retriesUsed: 0 });
  });

  test("an exit code from the do-not-retry set fails the group at once, with its reason", async () => {
    const s = session();
    const [one] = await livePods(s, "mn");
    await annotate(s, [one!], { [TestAnnotations.exitCode]: "4" });
    const failed = await waitPhase(s, "mn", "Failed", 15_000);
    expect(failed.reason).toMatch(/dataset error \(exit 4\)/);
    const js = await s.waitFor(
      "the JobSet Failed",
      async () => {
        const j = await s.cp.admin.get(JOBSET, "JobSet", NS, "mn");
        const c = (
          (j?.status as { conditions?: { type: string; status: string; reason?: string }[] })
            ?.conditions ?? []
        ).find((x) => x.type === "Failed" && x.status === "True");
        return c;
      },
      60_000,
    );
    expect(js).toBeDefined();
    expect((await status(s, "mn")).restarts).toBe(1);
  });

  test("maxRuntime ends the run, on one node and on several (no fresh deadline for the group)", async () => {
    const s = session();
    const one = await s.yunshi(
      "submit",
      writeSpec(s.dir, (x) => ((x.name = "dl-one"), (x.maxRuntime = "1m"))),
    );
    expect(one.code, one.all).toBe(0);
    const multi = await s.yunshi(
      "submit",
      multiSpec(s.dir, (x) => ((x.name = "dl-multi"), (x.maxRuntime = "1m"))),
    );
    expect(multi.code, multi.all).toBe(0);
    await finishInit(s, "dl-one", 1);
    await finishInit(s, "dl-multi", 2);
    await waitPhase(s, "dl-one", "Training");
    await waitPhase(s, "dl-multi", "Training");
    const [a, b] = await Promise.all([
      waitPhase(s, "dl-one", "Failed", 120_000),
      waitPhase(s, "dl-multi", "Failed", 120_000),
    ]);
    for (const [name, st] of [
      ["dl-one", a],
      ["dl-multi", b],
    ] as const) {
      expect(st.reason, name).toMatch(/ran longer than maxRuntime/);
      expect(st.restarts, `${name}: ${JSON.stringify(st)}`).toBe(0);
    }
    const js = await s.waitFor(
      "the JobSet Failed by its deadline rule",
      async () => {
        const j = await s.cp.admin.get(JOBSET, "JobSet", NS, "dl-multi");
        const c = (
          (j?.status as { conditions?: { type: string; status: string; message?: string }[] })
            ?.conditions ?? []
        ).find((x) => x.type === "Failed" && x.status === "True");
        return c ? j : undefined;
      },
      60_000,
    );
    expect((js.status as { restarts?: number }).restarts ?? 0, JSON.stringify(js.status)).toBe(0);
  }, 240_000);
});
