/** The test cluster's shape: one team, Karpenter-shaped GPU nodes (no vitest imports here). */
import type { GpuNode } from "./control-plane.ts";

export const NS = "vision";
export const BUCKET = "acme-training";

/** Karpenter-shaped nodes: a spot A10G node for one-GPU runs and two on-demand p4d nodes. */
export const NODES: GpuNode[] = [
  {
    name: "gpu-spot-a10g-0",
    capacityType: "spot",
    instanceType: "g5.2xlarge",
    gpus: 1,
    cpu: 8,
    memoryGiB: 32,
    gpuMemoryMiB: 22888,
    gpuName: "a10g",
  },
  ...[0, 1].map((i): GpuNode => ({
    name: `gpu-od-p4d-${i}`,
    capacityType: "on-demand",
    instanceType: "p4d.24xlarge",
    gpus: 8,
    cpu: 96,
    memoryGiB: 1152,
    gpuMemoryMiB: 40960,
    gpuName: "a100",
  })),
];

/** The team's guaranteed quota: one spot GPU (so a second one-GPU run queues) and 16 on-demand. */
export const TEAM = { name: NS, spotGpus: 1, onDemandGpus: 16, weight: 1 };

/**
 * A node of the platform's CPU pool (infra/platform-objects/karpenter-objects.ts, spot and
 * on-demand by default): no GPU, no GPU taint. Kept apart from NODES so that the GPU tests'
 * cluster is unchanged; a test that runs CPU-only pods (the export Job) adds it.
 */
export const CPU_NODE = {
  name: "cpu-spot-m7i-0",
  capacityType: "spot",
  instanceType: "m7i.2xlarge",
  cpu: 8,
  memoryGiB: 32,
  pool: "cpu",
} as const;
