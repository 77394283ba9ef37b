/**
 * Which (instance family, capacity type) a NodePool could launch for a pod: the decision
 * Karpenter makes, reduced to what the platform controls. A pod fits a pool when it tolerates
 * every taint of the pool, and some instance the pool allows has labels that satisfy the
 * pod's node selector and required node affinity (In, NotIn, Exists, DoesNotExist, Gt, Lt),
 * and GPUs when the pod requests them.
 *
 * Instance labels are Karpenter's well-known labels, with the GPU memory values of Karpenter's
 * instance-types reference (v1.12; one representative size per family).
 */
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { IToleration } from "kubernetes-models/v1/Toleration";
import type { KarpenterObject } from "../../../infra/platform-objects/karpenter-objects.ts";
import type { KueueObject } from "../../../infra/platform-objects/kueue-objects.ts";

/** `karpenter.k8s.aws/instance-gpu-memory` per family, from Karpenter's instance-types page. */
export const REAL_GPU_MEMORY_LABEL: Readonly<Record<string, number>> = {
  g4dn: 16384,
  g5: 22888,
  g6: 22888,
  g6e: 45776,
  p4d: 40960,
  p4de: 81920,
  p5: 81920,
  p5e: 144384,
  p5en: 144384,
};

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}
interface Taint {
  key: string;
  value?: string;
  effect: string;
}

function instanceLabels(family: string, capacity: string): Record<string, string> {
  const labels: Record<string, string> = {
    "karpenter.k8s.aws/instance-family": family,
    "karpenter.sh/capacity-type": capacity,
    "kubernetes.io/arch": "amd64",
    "kubernetes.io/os": "linux",
  };
  const mem = REAL_GPU_MEMORY_LABEL[family];
  if (mem !== undefined) labels["karpenter.k8s.aws/instance-gpu-memory"] = String(mem);
  return labels;
}

function satisfies(labels: Record<string, string>, r: Requirement): boolean {
  const v = labels[r.key];
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return v !== undefined && values.includes(v);
    case "NotIn":
      return v === undefined || !values.includes(v);
    case "Exists":
      return v !== undefined;
    case "DoesNotExist":
      return v === undefined;
    case "Gt":
      return v !== undefined && Number(v) > Number(values[0]);
    case "Lt":
      return v !== undefined && Number(v) < Number(values[0]);
    default:
      throw new Error(`unknown operator ${r.operator}`);
  }
}

function tolerates(tolerations: readonly IToleration[], taint: Taint): boolean {
  return tolerations.some(
    (t) =>
      (t.effect === undefined || t.effect === taint.effect) &&
      (t.operator === "Exists"
        ? t.key === undefined || t.key === taint.key
        : t.key === taint.key && (t.value ?? "") === (taint.value ?? "")),
  );
}

/** The pod as Kueue admits it to a flavor: the flavor's node labels and tolerations added. */
export function admitted(pod: IPodSpec, flavor: KueueObject): IPodSpec {
  const spec = flavor.spec as { nodeLabels?: Record<string, string>; tolerations?: IToleration[] };
  return {
    ...pod,
    nodeSelector: { ...pod.nodeSelector, ...spec.nodeLabels },
    tolerations: [...(pod.tolerations ?? []), ...(spec.tolerations ?? [])],
  };
}

/** "family/capacity" pairs the pool could launch for the pod (empty: never). */
export function launchable(pod: IPodSpec, pool: KarpenterObject): string[] {
  const template = (
    pool.spec as {
      template: {
        metadata?: { labels?: Record<string, string> };
        spec: { taints?: Taint[]; requirements: Requirement[] };
      };
    }
  ).template;
  if (!(template.spec.taints ?? []).every((t) => tolerates(pod.tolerations ?? [], t))) return [];
  const allowed = (key: string) =>
    template.spec.requirements.find((r) => r.key === key && r.operator === "In")?.values ?? [];
  const podRequirements: Requirement[] = [
    ...Object.entries(pod.nodeSelector ?? {}).map(([key, value]) => ({
      key,
      operator: "In",
      values: [value],
    })),
    ...(pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms[0]?.matchExpressions ?? []),
  ];
  const wantsGpu = pod.containers.some(
    (c) => Number(c.resources?.limits?.["nvidia.com/gpu"] ?? 0) > 0,
  );
  const fits: string[] = [];
  for (const family of allowed("karpenter.k8s.aws/instance-family"))
    for (const capacity of allowed("karpenter.sh/capacity-type")) {
      const labels = { ...instanceLabels(family, capacity), ...template.metadata?.labels };
      if (wantsGpu && REAL_GPU_MEMORY_LABEL[family] === undefined) continue;
      if (podRequirements.every((r) => satisfies(labels, r))) fits.push(`${family}/${capacity}`);
    }
  return fits;
}
