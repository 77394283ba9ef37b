/**
 * Node labels and taints the platform's NodePools, Kueue flavors and the job renderer agree
 * on. Pure constants (no Pulumi imports) so tests and a real test cluster can use them.
 */

/** The taint every GPU node carries; only pods that request GPUs tolerate it. */
export const GPU_TAINT = { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" } as const;
/** The device plugin's default affinity schedules only on nodes with this label. */
export const GPU_PRESENT_LABEL = { key: "nvidia.com/gpu.present", value: "true" } as const;
/** Karpenter's well-known capacity-type label: `spot` or `on-demand`. */
export const CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type";
/** Karpenter labels every node it launches with the NodePool's name. */
export const NODEPOOL_LABEL = "karpenter.sh/nodepool";
/** The system node group's taint: only critical add-ons (which tolerate it) run there. */
export const SYSTEM_TAINT = {
  key: "CriticalAddonsOnly",
  value: "true",
  effect: "NoSchedule",
} as const;
/** Label of the always-on system node group (EKS managed, not Karpenter). */
export const SYSTEM_POOL_LABEL = { key: "yunshi.dev/pool", value: "system" } as const;

/** Where a controller must run: on the system nodes, tolerating their taint. Controllers
 * without it would make Karpenter launch CPU nodes for them. */
export const SYSTEM_PLACEMENT = {
  nodeSelector: { [SYSTEM_POOL_LABEL.key]: SYSTEM_POOL_LABEL.value },
  tolerations: [{ key: SYSTEM_TAINT.key, operator: "Exists", effect: SYSTEM_TAINT.effect }],
} as const;
