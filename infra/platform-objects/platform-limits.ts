/**
 * The limits a team's platform ConfigMap carries (issue 11), derived from the very objects the
 * stack creates, so that `submit` can refuse a run that can never be admitted:
 * - the team's guaranteed GPUs per capacity type: its ClusterQueue's nominal quota;
 * - the most GPUs one run can be admitted with: Kueue lends idle quota within the cohort (no
 *   borrowing limit is set), so the cohort's quota for the flavor, capped by the GPU NodePool's
 *   limit, which is also the namespace's ResourceQuota;
 * - the most GPUs on one node, from the largest instance of the NodePool's families;
 * - the families themselves (Karpenter launches nothing else).
 * Pure functions of resolved values, shared by infra/team.ts and the test control plane.
 */
import type { PlatformContext } from "../../jobs/platform.ts";
import { clusterQueue, orderedFlavors } from "./kueue-objects.ts";
import type { CapacityType, TeamQuota } from "./kueue-objects.ts";

/**
 * GPUs of the largest instance of each GPU family (EC2 instance types: g4dn.metal,
 * g5/g6/g6e/p5/p5e/p5en.48xlarge, p4d/p4de.24xlarge all have 8).
 */
export const GPUS_PER_LARGEST_INSTANCE: Readonly<Record<string, number>> = {
  g4dn: 8,
  g5: 8,
  g6: 8,
  g6e: 8,
  p4d: 8,
  p4de: 8,
  p5: 8,
  p5e: 8,
  p5en: 8,
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
  const unknown = args.instanceFamilies.filter((f) => GPUS_PER_LARGEST_INSTANCE[f] === undefined);
  if (unknown.length > 0)
    throw new Error(
      `platformLimits: no GPU count known for instance famil${unknown.length === 1 ? "y" : "ies"} ${unknown.join(", ")}; add it to GPUS_PER_LARGEST_INSTANCE`,
    );
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
    maxGpusPerNode: Math.max(
      0,
      ...args.instanceFamilies.map((f) => GPUS_PER_LARGEST_INSTANCE[f] ?? 0),
    ),
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
  | "gpuInstanceFamilies"
> {
  return {
    spotGpuQuota: String(l.spotGpuQuota),
    onDemandGpuQuota: String(l.onDemandGpuQuota),
    maxSpotGpus: String(l.maxSpotGpus),
    maxOnDemandGpus: String(l.maxOnDemandGpus),
    maxGpusPerNode: String(l.maxGpusPerNode),
    gpuInstanceFamilies: l.gpuInstanceFamilies.join(","),
  };
}
