/**
 * The limits a team's platform ConfigMap carries (issue 11), derived from the very objects the
 * stack creates, so that `submit` can refuse a run that can never be admitted:
 * - the team's guaranteed GPUs per capacity type: its ClusterQueue's nominal quota;
 * - the most GPUs one run can be admitted with: Kueue lends idle quota within the cohort (no
 *   borrowing limit is set), so the cohort's quota for the flavor, capped by the GPU NodePool's
 *   limit, which is also the namespace's ResourceQuota;
 * - the most GPUs, vCPU and memory on one node, from the largest instance of the NodePool's
 *   families;
 * - the families themselves (Karpenter launches nothing else).
 * Pure functions of resolved values, shared by infra/team.ts and the test control plane.
 */
import type { PlatformContext } from "../../jobs/platform.ts";
import { clusterQueue, orderedFlavors } from "./kueue-objects.ts";
import type { CapacityType, TeamQuota } from "./kueue-objects.ts";

/** The largest instance of a GPU family: what one node of it can hold at most. */
export interface LargestInstance {
  readonly type: string;
  readonly gpus: number;
  readonly vcpu: number;
  readonly memoryGiB: number;
}

/** The largest instance of each GPU family the stack accepts (EC2 instance-type data). */
export const LARGEST_GPU_INSTANCE: Readonly<Record<string, LargestInstance>> = {
  g4dn: { type: "g4dn.metal", gpus: 8, vcpu: 96, memoryGiB: 384 },
  g5: { type: "g5.48xlarge", gpus: 8, vcpu: 192, memoryGiB: 768 },
  g6: { type: "g6.48xlarge", gpus: 8, vcpu: 192, memoryGiB: 768 },
  g6e: { type: "g6e.48xlarge", gpus: 8, vcpu: 192, memoryGiB: 1536 },
  p4d: { type: "p4d.24xlarge", gpus: 8, vcpu: 96, memoryGiB: 1152 },
  p4de: { type: "p4de.24xlarge", gpus: 8, vcpu: 96, memoryGiB: 1152 },
  p5: { type: "p5.48xlarge", gpus: 8, vcpu: 192, memoryGiB: 2048 },
  p5e: { type: "p5e.48xlarge", gpus: 8, vcpu: 192, memoryGiB: 2048 },
  p5en: { type: "p5en.48xlarge", gpus: 8, vcpu: 192, memoryGiB: 2048 },
};

export interface PlatformLimitsArgs {
  /** The team (namespace and ClusterQueue name) the limits are for. */
  readonly team: string;
  /** Every team of the stack: their ClusterQueues share one cohort. */
  readonly teams: readonly TeamQuota[];
  readonly capacityTypes: readonly CapacityType[];
  /** The GPU NodePool's instance families. */
  readonly instanceFamilies: readonly string[];
  /** The GPU NodePool's limit, also the namespace's ResourceQuota for GPUs. */
  readonly maxGpus: number;
}

export interface PlatformLimits {
  readonly spotGpuQuota: number;
  readonly onDemandGpuQuota: number;
  readonly maxSpotGpus: number;
  readonly maxOnDemandGpus: number;
  readonly maxGpusPerNode: number;
  /** vCPU and memory of the largest such instance: an upper bound of what one pod can get
   * (allocatable is less: kubelet reservations and DaemonSets). */
  readonly maxCpuPerNode: number;
  readonly maxMemoryGiBPerNode: number;
  readonly gpuInstanceFamilies: readonly string[];
}

interface QueueSpec {
  resourceGroups: {
    flavors: { name: string; resources: { name: string; nominalQuota: string }[] }[];
  }[];
}

/** A ClusterQueue's nominal GPU quota for a flavor, read from the object the stack applies. */
function nominalGpus(team: TeamQuota, flavors: readonly CapacityType[], c: CapacityType): number {
  const spec = clusterQueue(team, flavors).spec as unknown as QueueSpec;
  const q = spec.resourceGroups
    .flatMap((g) => g.flavors)
    .find((f) => f.name === c)
    ?.resources.find((r) => r.name === "nvidia.com/gpu")?.nominalQuota;
  return q === undefined ? 0 : Number(q);
}

export function platformLimits(args: PlatformLimitsArgs): PlatformLimits {
  const me = args.teams.find((t) => t.name === args.team);
  if (me === undefined) throw new Error(`platformLimits: no team ${args.team} among the teams`);
  const largest = args.instanceFamilies.map((f) => LARGEST_GPU_INSTANCE[f]);
  const unknown = args.instanceFamilies.filter((_, i) => largest[i] === undefined);
  if (unknown.length > 0)
    throw new Error(
      `platformLimits: no instance size known for GPU famil${unknown.length === 1 ? "y" : "ies"} ${unknown.join(", ")}; add it to LARGEST_GPU_INSTANCE`,
    );
  const most = (f: (i: LargestInstance) => number) =>
    Math.max(0, ...largest.map((i) => (i === undefined ? 0 : f(i))));
  const flavors = orderedFlavors(args.capacityTypes);
  const cohort = (c: CapacityType) =>
    Math.min(
      args.maxGpus,
      args.teams.reduce((n, t) => n + nominalGpus(t, flavors, c), 0),
    );
  return {
    spotGpuQuota: nominalGpus(me, flavors, "spot"),
    onDemandGpuQuota: nominalGpus(me, flavors, "on-demand"),
    maxSpotGpus: cohort("spot"),
    maxOnDemandGpus: cohort("on-demand"),
    maxGpusPerNode: most((i) => i.gpus),
    maxCpuPerNode: most((i) => i.vcpu),
    maxMemoryGiBPerNode: most((i) => i.memoryGiB),
    gpuInstanceFamilies: [...args.instanceFamilies],
  };
}

/** The limits as the platform ConfigMap's keys (strings, as ConfigMap data are). */
export function platformLimitsFields(
  l: PlatformLimits,
): Pick<
  PlatformContext,
  | "spotGpuQuota"
  | "onDemandGpuQuota"
  | "maxSpotGpus"
  | "maxOnDemandGpus"
  | "maxGpusPerNode"
  | "maxCpuPerNode"
  | "maxMemoryGiBPerNode"
  | "gpuInstanceFamilies"
> {
  return {
    spotGpuQuota: String(l.spotGpuQuota),
    onDemandGpuQuota: String(l.onDemandGpuQuota),
    maxSpotGpus: String(l.maxSpotGpus),
    maxOnDemandGpus: String(l.maxOnDemandGpus),
    maxGpusPerNode: String(l.maxGpusPerNode),
    maxCpuPerNode: String(l.maxCpuPerNode),
    maxMemoryGiBPerNode: String(l.maxMemoryGiBPerNode),
    gpuInstanceFamilies: l.gpuInstanceFamilies.join(","),
  };
}
