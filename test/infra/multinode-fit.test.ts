/**
 * Does examples/multinode-2x8-faster-rcnn.yaml fit a stack? Evaluated from the rendered
 * JobSet and the objects the stack would create: Kueue admits it only when all its pods'
 * requests fit the team's ClusterQueue (its nominal quota plus what it may borrow from the
 * cohort) for the flavor its capacity type selects; Karpenter launches only families the
 * GPU NodePool allows, within its GPU limit; and one pod's requests must fit one instance.
 * The example must fit Pulumi.multinode.yaml, the stack docs/platform.md shows for it.
 */
import { readFileSync } from "node:fs";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { parseStackConfig, rawConfigFrom, type StackConfig } from "../../infra/config.ts";
import { clusterQueue, orderedFlavors } from "../../infra/platform-objects/kueue-objects.ts";
import { defaultPlatformContext } from "../../jobs/platform.ts";
import { renderKubernetesObjects } from "../../jobs/render/kubernetes.ts";
import type { JobSet } from "../../jobs/render/jobset-types.ts";
import { loadExperimentFile } from "../../jobs/spec/load-experiment.ts";

/** vCPU and memory (GiB) of the 8-GPU instance types (EC2 instance-type data). */
const INSTANCES: Record<string, { vcpu: number; memoryGiB: number }> = {
  "g5.48xlarge": { vcpu: 192, memoryGiB: 768 },
  "g6.48xlarge": { vcpu: 192, memoryGiB: 768 },
  "g6e.48xlarge": { vcpu: 192, memoryGiB: 1536 },
  "p4d.24xlarge": { vcpu: 96, memoryGiB: 1152 },
};
/** Kubelet/system reservations and DaemonSets: keep a tenth of the node free. */
const ALLOCATABLE = 0.9;

function stack(file: string): StackConfig {
  const doc = parse(readFileSync(file, "utf8")) as { config: Record<string, unknown> };
  const flat = Object.fromEntries(
    Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
  flat["yunshi:apiAccessCidrs"] = JSON.stringify(["81.2.69.7/32"]);
  return parseStackConfig(rawConfigFrom(flat), { region: flat["aws:region"], stack: "x" });
}

const cpu = (q: string | number | undefined) =>
  q === undefined ? 0 : String(q).endsWith("m") ? Number(String(q).slice(0, -1)) / 1000 : Number(q);
const gib = (q: string | number | undefined) => {
  if (q === undefined) return 0;
  const m = /^(\d+(?:\.\d+)?)(Mi|Gi)?$/.exec(String(q));
  if (m === null) throw new Error(`unexpected quantity ${String(q)}`);
  return m[2] === "Gi" ? Number(m[1]) : Number(m[1]) / 1024;
};

/** What Kueue counts for one pod: its containers plus native sidecars. */
function podRequests(pod: IPodSpec): { cpu: number; memoryGiB: number; gpus: number } {
  const running = [
    ...pod.containers,
    ...(pod.initContainers ?? []).filter((c) => c.restartPolicy === "Always"),
  ];
  const sum = (f: (r: Record<string, string | number>) => number) =>
    running.reduce((n, c) => n + f((c.resources?.requests ?? {}) as Record<string, string>), 0);
  return {
    cpu: sum((r) => cpu(r["cpu"])),
    memoryGiB: sum((r) => gib(r["memory"])),
    gpus: pod.containers.reduce(
      (n, c) => n + Number(c.resources?.limits?.["nvidia.com/gpu"] ?? 0),
      0,
    ),
  };
}

const loaded = await loadExperimentFile("examples/multinode-2x8-faster-rcnn.yaml");
const exp = loaded.experiment;
const jobset = renderKubernetesObjects({
  experiment: exp,
  platform: { ...defaultPlatformContext, namespace: exp.namespace ?? "vision" },
  specHash: loaded.specHash,
  version: "0.1.0",
}).find((o) => o.kind === "JobSet") as unknown as JobSet;
const replicated = jobset.spec.replicatedJobs[0]!;
const pods = (replicated.replicas ?? 1) * (replicated.template.spec?.parallelism ?? 1);
const pod = replicated.template.spec.template.spec!;
const perPod = podRequests(pod);

/** Problems that keep the example from running on this stack; [] when it fits. */
function problems(cfg: StackConfig): string[] {
  const out: string[] = [];
  const capacity = exp.resources.spot ? "spot" : "on-demand";
  const types = exp.resources.gpu.instanceTypes ?? [];
  const families = types.map((t) => t.split(".")[0]!);
  if (!families.some((f) => (cfg.gpu.instanceFamilies as string[]).includes(f)))
    out.push(`none of ${families.join(", ")} is in gpu.instanceFamilies`);
  if (pods * perPod.gpus > cfg.gpu.maxGpus) out.push(`needs ${pods * perPod.gpus} > gpu.maxGpus`);
  if (
    !types.some((t) => {
      const i = INSTANCES[t];
      return (
        i !== undefined &&
        perPod.cpu <= i.vcpu * ALLOCATABLE &&
        perPod.memoryGiB <= i.memoryGiB * ALLOCATABLE
      );
    })
  )
    out.push(
      `a pod (${perPod.cpu} vCPU, ${perPod.memoryGiB} GiB) fits none of ${types.join(", ")}`,
    );
  // Kueue: the team's quota for the flavor plus what others lend in the cohort.
  const flavors = orderedFlavors(cfg.gpu.capacityTypes);
  if (!flavors.includes(capacity)) out.push(`no ${capacity} flavor`);
  const quota = (resource: string) =>
    cfg.teams
      .map(
        (t) =>
          clusterQueue(t, flavors).spec as {
            resourceGroups: {
              flavors: { name: string; resources: { name: string; nominalQuota: string }[] }[];
            }[];
          },
      )
      .map(
        (s) =>
          s.resourceGroups[0]!.flavors.find((f) => f.name === capacity)?.resources.find(
            (r) => r.name === resource,
          )?.nominalQuota ?? "0",
      );
  const gpusInCohort = quota("nvidia.com/gpu").reduce((n, q) => n + Number(q), 0);
  if (pods * perPod.gpus > gpusInCohort)
    out.push(`needs ${pods * perPod.gpus} ${capacity} GPUs, the cohort has ${gpusInCohort}`);
  const cpuInCohort = quota("cpu").reduce((n, q) => n + Number(q), 0);
  if (pods * perPod.cpu > cpuInCohort) out.push(`needs ${pods * perPod.cpu} CPU quota`);
  const memInCohort = quota("memory").reduce((n, q) => n + gib(q), 0);
  if (pods * perPod.memoryGiB > memInCohort) out.push(`needs ${pods * perPod.memoryGiB} GiB quota`);
  return out;
}

describe("examples/multinode-2x8-faster-rcnn.yaml", () => {
  it("is 2 pods × 8 GPUs", () => {
    expect([pods, perPod.gpus]).toEqual([2, 8]);
  });

  it("fits the stack the docs show for it (Pulumi.multinode.yaml)", () => {
    expect(problems(stack("Pulumi.multinode.yaml"))).toEqual([]);
  });

  it("does not fit the small example stack, and the check says why", () => {
    expect(problems(stack("Pulumi.dev.yaml"))).toEqual([
      "needs 16 on-demand GPUs, the cohort has 2",
      "needs 161 CPU quota",
      "needs 1025 GiB quota",
    ]);
  });
});
