/**
 * Every version the platform installs, in one place, so that an upgrade is one reviewed diff.
 * Checked against the projects' release records (Nov 2026); bump deliberately, read the
 * upgrade notes (Karpenter and Kueue ship CRD changes), then `pulumi preview`.
 */

/** A pinned Helm chart: where it lives and the exact chart version. */
export interface PinnedChart {
  /** Chart reference: `oci://...` or a chart name inside `repo`. */
  readonly chart: string;
  /** Classic Helm repository URL; absent for OCI charts. */
  readonly repo?: string;
  /** Exact chart version (never a range). */
  readonly version: string;
}

export const charts = {
  /** Karpenter v1 (NodePool karpenter.sh/v1, EC2NodeClass karpenter.k8s.aws/v1). */
  karpenter: { chart: "oci://public.ecr.aws/karpenter/karpenter", version: "1.12.1" },
  /** Karpenter's CRDs as templates, so `helm upgrade` upgrades them (keep equal to karpenter). */
  karpenterCrd: { chart: "oci://public.ecr.aws/karpenter/karpenter-crd", version: "1.12.1" },
  /** Kueue v0.19: serves kueue.x-k8s.io/v1beta2 (v1beta1 deprecated since v0.15). */
  kueue: { chart: "oci://registry.k8s.io/kueue/charts/kueue", version: "0.19.1" },
  /** JobSet v0.12: jobset.x-k8s.io/v1alpha2. */
  jobset: { chart: "oci://registry.k8s.io/jobset/charts/jobset", version: "0.12.0" },
  /**
   * NVIDIA device plugin; the AL2023 NVIDIA AMI ships the driver but not the plugin.
   * 0.19.3, not 0.19.0: 0.19.0 turned MOFED/GDS/GDRCopy injection on by default, which
   * clashes with EFA (NVIDIA/k8s-device-plugin#1692); 0.19.3 reverted it.
   */
  nvidiaDevicePlugin: {
    chart: "nvidia-device-plugin",
    repo: "https://nvidia.github.io/k8s-device-plugin",
    version: "0.19.3",
  },
} as const satisfies Record<string, PinnedChart>;

/** API versions of the custom resources the platform creates (must match the charts above). */
export const apiVersions = {
  kueue: "kueue.x-k8s.io/v1beta2",
  kueueConfig: "config.kueue.x-k8s.io/v1beta2",
  karpenterNodePool: "karpenter.sh/v1",
  karpenterNodeClass: "karpenter.k8s.aws/v1",
} as const;

/** Default EKS Kubernetes version; the stack may choose another with `yunshi:kubernetesVersion`. */
export const defaultKubernetesVersion = "1.35";

/**
 * Karpenter AMI alias for the node pools: a dated AL2023 release, never `@latest`. `al2023`
 * resolves to the NVIDIA variant on GPU instance types (driver + container toolkit; the device
 * plugin comes from the chart above) and to the standard one elsewhere. With `@latest` every
 * AMI release would drift every node (Karpenter's docs: not for production). Upgrade path:
 * set `yunshi:gpu.amiAlias` (or bump this) to a newer release from the amazon-eks-ami
 * changelog, `pulumi up`; nodes drift to it only when idle or inside
 * `gpu.maintenanceWindow` (docs/platform.md, "Upgrades").
 */
export const defaultGpuAmiAlias = "al2023@v20260714";

/** The system node group's AMI type (EKS managed node group). */
export const systemNodeAmiType = "AL2023_x86_64_STANDARD";
