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
