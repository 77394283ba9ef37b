/**
 * The Kueue objects `pulumi up` creates, as plain Kubernetes objects: one ResourceFlavor per
 * capacity type, and per team a ClusterQueue (its guaranteed quota in the shared cohort) and
 * the LocalQueue jobs name. Pure functions of plain arguments (no Pulumi), so a real test
 * cluster can apply exactly what the stack applies.
 *
 * Flavors carry no GPU toleration on purpose: Kueue injects a flavor's tolerations into every
 * pod it admits, and a GPU toleration on CPU-only pods would let them land on (and launch)
 * GPU nodes. The renderer tolerates the GPU taint only for pods that request GPUs.
 */
import { apiVersions } from "../versions.ts";
import { CAPACITY_TYPE_LABEL } from "./node-labels.ts";

/** All team ClusterQueues join this cohort so idle quota is lent out and reclaimed fairly. */
export const KUEUE_COHORT = "yunshi";
/** The LocalQueue in every team namespace (also the queue the platform ConfigMap names). */
export const LOCAL_QUEUE_NAME = "default";
/** GPU is the scarce resource; CPU and memory quotas are sized per GPU generously (p5 has
 * 24 vCPU and 256 GiB per GPU) so that GPU quota is what decides admission. */
export const CPU_PER_GPU = 24;
export const MEMORY_GIB_PER_GPU = 256;

export type CapacityType = "spot" | "on-demand";
/** Flavors in preference order: spot first (cheapest). */
export const CAPACITY_PREFERENCE: readonly CapacityType[] = ["spot", "on-demand"];

/** A custom resource as plain data. */
export interface KueueObject {
  readonly apiVersion: string;
  readonly kind: "ResourceFlavor" | "ClusterQueue" | "LocalQueue";
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec: Record<string, unknown>;
}

/** A team's guaranteed GPUs and its fair-sharing weight. */
export interface TeamQuota {
  readonly name: string;
  readonly spotGpus: number;
  readonly onDemandGpus: number;
  readonly weight: number;
}

/** Kueue ResourceFlavor name for a capacity type (same words, by design). */
export function flavorName(capacity: CapacityType): string {
  return capacity;
}

/** The capacity types in flavor preference order. */
export function orderedFlavors(capacityTypes: readonly CapacityType[]): CapacityType[] {
  return CAPACITY_PREFERENCE.filter((c) => capacityTypes.includes(c));
}

export function resourceFlavor(capacity: CapacityType): KueueObject {
  return {
    apiVersion: apiVersions.kueue,
    kind: "ResourceFlavor",
    metadata: { name: flavorName(capacity) },
    // Admitted pods get this node selector, so Kueue's quota and Karpenter's launch agree.
    spec: { nodeLabels: { [CAPACITY_TYPE_LABEL]: capacity } },
  };
}

export function clusterQueue(team: TeamQuota, flavors: readonly CapacityType[]): KueueObject {
  const gpusFor = (c: CapacityType) => (c === "spot" ? team.spotGpus : team.onDemandGpus);
  return {
    apiVersion: apiVersions.kueue,
    kind: "ClusterQueue",
    metadata: { name: team.name },
    spec: {
      cohortName: KUEUE_COHORT,
      // Only this team's namespace may submit to its ClusterQueue.
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": team.name } },
      queueingStrategy: "BestEffortFIFO",
      resourceGroups: [
        {
          coveredResources: ["cpu", "memory", "nvidia.com/gpu"],
          flavors: orderedFlavors(flavors).map((c) => {
            const gpus = gpusFor(c);
            return {
              name: flavorName(c),
              resources: [
                { name: "cpu", nominalQuota: String(gpus * CPU_PER_GPU) },
                { name: "memory", nominalQuota: `${gpus * MEMORY_GIB_PER_GPU}Gi` },
                { name: "nvidia.com/gpu", nominalQuota: String(gpus) },
              ],
            };
          }),
        },
      ],
      // Idle quota is lent to other teams and taken back (by preemption) when the owner needs
      // it; between borrowers, fair sharing (Kueue config) decides by weight.
      preemption: { reclaimWithinCohort: "Any", withinClusterQueue: "LowerPriority" },
      fairSharing: { weight: String(team.weight) },
    },
  };
}

export function localQueue(namespace: string): KueueObject {
  return {
    apiVersion: apiVersions.kueue,
    kind: "LocalQueue",
    metadata: { name: LOCAL_QUEUE_NAME, namespace },
    spec: { clusterQueue: namespace },
  };
}

export interface KueueObjectsArgs {
  readonly capacityTypes: readonly CapacityType[];
  readonly teams: readonly TeamQuota[];
}

/** Every Kueue object of the platform, in apply order (flavors, then queues). */
export function kueueObjects(args: KueueObjectsArgs): KueueObject[] {
  const flavors = orderedFlavors(args.capacityTypes);
  return [
    ...flavors.map(resourceFlavor),
    ...args.teams.flatMap((t) => [clusterQueue(t, flavors), localQueue(t.name)]),
  ];
}
