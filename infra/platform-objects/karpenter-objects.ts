/**
 * Karpenter's EC2NodeClasses and NodePools as plain objects: a GPU pool (tainted, only GPU
 * pods land there) and a small CPU pool for CPU-only team work. Pure functions of resolved
 * values (no Pulumi), so tests check behaviour on the objects themselves.
 *
 * Training must not be evicted by the platform. Karpenter disrupts nodes for four reasons:
 * - Empty / Underutilized (consolidation): the GPU pool only consolidates empty nodes;
 * - Drifted (the NodePool/EC2NodeClass changed, e.g. a new AMI): a dated AMI alias makes
 *   drift happen only when an operator bumps it, and a disruption budget blocks it outside
 *   an optional maintenance window;
 * - Expired (`expireAfter`): forceful in Karpenter v1 (budgets do not apply), so the pool's
 *   `terminationGracePeriod` bounds how long a draining node waits for its pods.
 * Training pods carry `karpenter.sh/do-not-disrupt: "true"`, which blocks every graceful
 * disruption of a busy node and, on expiry, holds the node until `terminationGracePeriod`.
 */
import { apiVersions } from "../versions.ts";
import { CAPACITY_TYPE_LABEL, GPU_PRESENT_LABEL, GPU_TAINT } from "./node-labels.ts";

export const GPU_NODEPOOL_NAME = "gpu";
export const CPU_NODEPOOL_NAME = "cpu";
/** Label each pool's nodes carry (besides Karpenter's own `karpenter.sh/nodepool`). */
export const POOL_LABEL = "yunshi.dev/pool";

export interface KarpenterObject {
  readonly apiVersion: string;
  readonly kind: "EC2NodeClass" | "NodePool";
  readonly metadata: { readonly name: string };
  readonly spec: Record<string, unknown>;
}

export interface NodeClassParams {
  readonly name: string;
  readonly clusterName: string;
  readonly nodeRoleName: string;
  readonly clusterSecurityGroupId: string;
  readonly amiAlias: string;
  readonly rootVolumeGiB: number;
}

export function nodeClass(p: NodeClassParams): KarpenterObject {
  return {
    apiVersion: apiVersions.karpenterNodeClass,
    kind: "EC2NodeClass",
    metadata: { name: p.name },
    spec: {
      role: p.nodeRoleName,
      // al2023 resolves to the NVIDIA variant on GPU instance types, the standard one elsewhere.
      amiSelectorTerms: [{ alias: p.amiAlias }],
      subnetSelectorTerms: [{ tags: { "karpenter.sh/discovery": p.clusterName } }],
      securityGroupSelectorTerms: [{ id: p.clusterSecurityGroupId }],
      // Local NVMe (g5/g6/p4d/p5) as ephemeral storage: image layers and datasets.
      instanceStorePolicy: "RAID0",
      blockDeviceMappings: [
        {
          deviceName: "/dev/xvda",
          ebs: {
            volumeSize: `${p.rootVolumeGiB}Gi`,
            volumeType: "gp3",
            encrypted: true,
            deleteOnTermination: true,
          },
        },
      ],
      // IMDSv2 only, hop limit 1: pods cannot borrow the node role; they use Pod Identity.
      metadataOptions: {
        httpEndpoint: "enabled",
        httpProtocolIPv6: "disabled",
        httpPutResponseHopLimit: 1,
        httpTokens: "required",
      },
      tags: { "yunshi/cluster": p.clusterName, "yunshi/pool": p.name },
    },
  };
}

/** A weekly window in UTC in which drift may replace nodes (AMI upgrades). */
export interface MaintenanceWindow {
  /** cron day of week: sun, mon, ... */
  readonly day: "sun" | "mon" | "tue" | "wed" | "thu" | "fri" | "sat";
  readonly startHourUtc: number;
  readonly hours: number;
}

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;

/**
 * Disruption budgets. Empty nodes may always go (an idle GPU node is pure cost).
 * Drift: never without a window; with one, drift is blocked from the window's end until its
 * next start (a budget with `schedule` is active for `duration` after each cron match), and
 * inside it at most one node at a time is replaced.
 */
export function disruptionBudgets(
  window: MaintenanceWindow | undefined,
): Record<string, unknown>[] {
  const empty = { nodes: "100%", reasons: ["Empty"] };
  if (window === undefined) return [empty, { nodes: "0", reasons: ["Drifted", "Underutilized"] }];
  const end = window.startHourUtc + window.hours;
  const endDay = DAYS[(DAYS.indexOf(window.day) + Math.floor(end / 24)) % 7] ?? "sun";
  return [
    empty,
    { nodes: "0", reasons: ["Underutilized"] },
    {
      nodes: "0",
      reasons: ["Drifted"],
      schedule: `0 ${end % 24} * * ${endDay}`,
      duration: `${168 - window.hours}h`,
    },
    { nodes: "1", reasons: ["Drifted"] },
  ];
}

export interface GpuNodePoolParams {
  readonly instanceFamilies: readonly string[];
  readonly capacityTypes: readonly string[];
  readonly maxGpus: number;
  readonly consolidateAfter: string;
  readonly expireAfter: string;
  readonly terminationGracePeriod: string;
  readonly maintenanceWindow?: MaintenanceWindow | undefined;
}

export function gpuNodePool(p: GpuNodePoolParams): KarpenterObject {
  return {
    apiVersion: apiVersions.karpenterNodePool,
    kind: "NodePool",
    metadata: { name: GPU_NODEPOOL_NAME },
    spec: {
      template: {
        metadata: {
          labels: {
            [GPU_PRESENT_LABEL.key]: GPU_PRESENT_LABEL.value,
            [POOL_LABEL]: GPU_NODEPOOL_NAME,
          },
        },
        spec: {
          nodeClassRef: {
            group: "karpenter.k8s.aws",
            kind: "EC2NodeClass",
            name: GPU_NODEPOOL_NAME,
          },
          taints: [{ ...GPU_TAINT }],
          requirements: [
            {
              key: "karpenter.k8s.aws/instance-family",
              operator: "In",
              values: [...p.instanceFamilies],
            },
            { key: CAPACITY_TYPE_LABEL, operator: "In", values: [...p.capacityTypes] },
            { key: "kubernetes.io/arch", operator: "In", values: ["amd64"] },
            { key: "kubernetes.io/os", operator: "In", values: ["linux"] },
          ],
          expireAfter: p.expireAfter,
          terminationGracePeriod: p.terminationGracePeriod,
        },
      },
      // Cost guard: Karpenter stops launching once the pool holds this many GPUs.
      limits: { "nvidia.com/gpu": String(p.maxGpus) },
      disruption: {
        consolidationPolicy: "WhenEmpty",
        consolidateAfter: p.consolidateAfter,
        budgets: disruptionBudgets(p.maintenanceWindow),
      },
    },
  };
}

export interface CpuNodePoolParams {
  readonly instanceFamilies: readonly string[];
  readonly capacityTypes: readonly string[];
  readonly maxVcpus: number;
  readonly consolidateAfter: string;
  readonly expireAfter: string;
  readonly terminationGracePeriod: string;
  readonly maintenanceWindow?: MaintenanceWindow | undefined;
}

/** CPU-only team work (data preparation, CPU smoke runs): untainted, small, capped. */
export function cpuNodePool(p: CpuNodePoolParams): KarpenterObject {
  return {
    apiVersion: apiVersions.karpenterNodePool,
    kind: "NodePool",
    metadata: { name: CPU_NODEPOOL_NAME },
    spec: {
      template: {
        metadata: { labels: { [POOL_LABEL]: CPU_NODEPOOL_NAME } },
        spec: {
          nodeClassRef: {
            group: "karpenter.k8s.aws",
            kind: "EC2NodeClass",
            name: CPU_NODEPOOL_NAME,
          },
          requirements: [
            {
              key: "karpenter.k8s.aws/instance-family",
              operator: "In",
              values: [...p.instanceFamilies],
            },
            { key: CAPACITY_TYPE_LABEL, operator: "In", values: [...p.capacityTypes] },
            { key: "kubernetes.io/arch", operator: "In", values: ["amd64"] },
            { key: "kubernetes.io/os", operator: "In", values: ["linux"] },
          ],
          expireAfter: p.expireAfter,
          terminationGracePeriod: p.terminationGracePeriod,
        },
      },
      limits: { cpu: String(p.maxVcpus) },
      disruption: {
        consolidationPolicy: "WhenEmpty",
        consolidateAfter: p.consolidateAfter,
        budgets: disruptionBudgets(p.maintenanceWindow),
      },
    },
  };
}
