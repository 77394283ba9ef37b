/**
 * Where rendered training pods can land once Kueue admits them: evaluated against the
 * platform's real NodePools and ResourceFlavors (the pure objects `pulumi up` creates).
 * - CPU-only experiments must never launch (or land on) GPU nodes;
 * - `minMemoryGiB` must admit the GPUs sold with at least that much memory, judged by the
 *   label values EC2 actually reports (A10G/L4: 22888 MiB, not 24576).
 */
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { describe, expect, it } from "vitest";
import { defaultPlatformContext } from "../../../jobs/platform.ts";
import { renderKubernetesObjects } from "../../../jobs/render/kubernetes.ts";
import { parseExperiment } from "../../../jobs/spec/load-experiment.ts";
import {
  cpuNodePool,
  gpuNodePool,
  type KarpenterObject,
} from "../../../infra/platform-objects/karpenter-objects.ts";
import { resourceFlavor } from "../../../infra/platform-objects/kueue-objects.ts";
import { patched, specYaml } from "../../spec-fixtures.ts";
import { admitted, launchable } from "./karpenter-launch.ts";

const ALL_GPU_FAMILIES = ["g4dn", "g5", "g6", "g6e", "p4d", "p4de", "p5", "p5e", "p5en"];
const common = {
  capacityTypes: ["spot", "on-demand"],
  consolidateAfter: "5m",
  expireAfter: "720h",
  terminationGracePeriod: "168h",
};
const gpuPool = gpuNodePool({ ...common, instanceFamilies: ALL_GPU_FAMILIES, maxGpus: 64 });
const cpuPool = cpuNodePool({ ...common, instanceFamilies: ["m7i", "c7i"], maxVcpus: 64 });

function podFor(resources: Record<string, unknown>): IPodSpec {
  const loaded = parseExperiment(specYaml(patched({ resources })));
  const job = renderKubernetesObjects({
    experiment: loaded.experiment,
    platform: { ...defaultPlatformContext, namespace: "vision" },
    specHash: loaded.specHash,
    version: "0.1.0",
  }).find((o) => o.kind === "Job") as IJob;
  return job.spec!.template.spec!;
}

const where = (pod: IPodSpec, pool: KarpenterObject) => [
  ...new Set(launchable(admitted(pod, resourceFlavor("spot")), pool).map((f) => f.split("/")[0])),
];

describe("CPU-only experiments", () => {
  const pod = podFor({ gpusPerNode: 0, cpuPerGpu: 4, memoryPerGpuGiB: 16, spot: true });

  it("carry no GPU toleration, even after Kueue admits them to a flavor", () => {
    const tolerations = admitted(pod, resourceFlavor("spot")).tolerations ?? [];
    expect(tolerations.filter((t) => t.key === "nvidia.com/gpu")).toEqual([]);
  });

  it("can only launch CPU nodes", () => {
    expect(where(pod, gpuPool)).toEqual([]);
    expect(where(pod, cpuPool)).toEqual(["m7i", "c7i"]);
  });
});

describe("GPU experiments", () => {
  it("never land in the CPU pool", () => {
    expect(where(podFor({ gpusPerNode: 1, gpu: { minMemoryGiB: 16 } }), cpuPool)).toEqual([]);
  });

  // What each marketed size must admit, by the sizes GPUs are sold with.
  const cases: [number, string[]][] = [
    [16, ["g4dn", "g5", "g6", "g6e", "p4d", "p4de", "p5", "p5e", "p5en"]],
    [20, ["g5", "g6", "g6e", "p4d", "p4de", "p5", "p5e", "p5en"]],
    [24, ["g5", "g6", "g6e", "p4d", "p4de", "p5", "p5e", "p5en"]],
    [40, ["g6e", "p4d", "p4de", "p5", "p5e", "p5en"]],
    [48, ["g6e", "p4de", "p5", "p5e", "p5en"]],
    [80, ["p4de", "p5", "p5e", "p5en"]],
    [141, ["p5e", "p5en"]],
  ];
  for (const [gib, families] of cases)
    it(`minMemoryGiB ${gib} admits ${families.join(", ")} (by EC2's reported MiB)`, () => {
      expect(where(podFor({ gpusPerNode: 1, gpu: { minMemoryGiB: gib } }), gpuPool)).toEqual(
        families,
      );
    });

  it("the Swin-T example's 24 GiB keeps g5 and g6 (the old GiB×1024 threshold excluded them)", () => {
    const families = where(podFor({ gpusPerNode: 4, gpu: { minMemoryGiB: 24 } }), gpuPool);
    expect(families).toContain("g5");
    expect(families).toContain("g6");
  });
});
