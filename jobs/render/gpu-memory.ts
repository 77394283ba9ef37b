/**
 * From the spec's `resources.gpu.minMemoryGiB` (marketed GPU sizes, what users know) to a
 * requirement on Karpenter's `karpenter.k8s.aws/instance-gpu-memory` label, which holds the
 * per-GPU MiB that EC2 reports: an A10G or L4 reports 22888, not 24 × 1024 = 24576, so a
 * naive conversion of "24 GiB" would quietly exclude g5 and g6.
 *
 * Values from Karpenter's instance-types reference (website/content/en/v1.12/reference/
 * instance-types.md in aws/karpenter-provider-aws); docs/platform.md shows the same table.
 */

export interface GpuModel {
  /** Karpenter's `karpenter.k8s.aws/instance-gpu-name`. */
  readonly name: string;
  /** The size the GPU is sold as, in GiB (GB for the data-centre parts). */
  readonly marketedGiB: number;
  /** `karpenter.k8s.aws/instance-gpu-memory`: per-GPU MiB as EC2 reports it. */
  readonly labelMiB: number;
  readonly families: readonly string[];
}

export const GPU_MODELS: readonly GpuModel[] = [
  { name: "t4", marketedGiB: 16, labelMiB: 16384, families: ["g4dn"] },
  { name: "a10g", marketedGiB: 24, labelMiB: 22888, families: ["g5"] },
  { name: "l4", marketedGiB: 24, labelMiB: 22888, families: ["g6"] },
  { name: "a100", marketedGiB: 40, labelMiB: 40960, families: ["p4d"] },
  { name: "l40s", marketedGiB: 48, labelMiB: 45776, families: ["g6e"] },
  { name: "a100", marketedGiB: 80, labelMiB: 81920, families: ["p4de"] },
  { name: "h100", marketedGiB: 80, labelMiB: 81920, families: ["p5"] },
  { name: "h200", marketedGiB: 141, labelMiB: 144384, families: ["p5e", "p5en"] },
];

export interface GpuMemoryRequirement {
  /** The label must be at least this many MiB (render as `Gt thresholdMiB - 1`). */
  readonly minLabelMiB: number;
  /** The GPU models (and so instance families) the requirement admits. */
  readonly admits: readonly GpuModel[];
}

/**
 * The smallest label value among GPUs sold with at least `minGiB`: every such GPU is admitted,
 * and no GPU sold with less (a T4 for 24 GiB) is. Above the largest GPU nothing qualifies; the
 * requirement then asks for the literal MiB and no node will match.
 */
export function gpuMemoryRequirement(minGiB: number): GpuMemoryRequirement {
  const admits = GPU_MODELS.filter((g) => g.marketedGiB >= minGiB);
  const minLabelMiB =
    admits.length === 0 ? minGiB * 1024 : Math.min(...admits.map((g) => g.labelMiB));
  // A model sold smaller but reporting as much would slip in: refuse to hide that.
  return { minLabelMiB, admits: GPU_MODELS.filter((g) => g.labelMiB >= minLabelMiB) };
}
