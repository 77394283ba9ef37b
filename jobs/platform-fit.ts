/**
 * Can a run ever be admitted on this platform? (issue 11) Kueue admits a workload only when
 * all its GPUs fit at once, and Karpenter launches only the NodePool's instance families; a
 * request beyond either stays Queued or Pending forever with no error. The platform ConfigMap
 * carries the limits (jobs/platform.ts, written by infra/platform-objects/platform-limits.ts),
 * and this compares a spec with them before anything is sent.
 *
 * "Can never be admitted" is not "must wait": a run within the limits but above the GPUs free
 * right now is fine (it queues). A run above the team's guaranteed quota but within what the
 * cohort may lend is admitted too, and gets a note: other teams can reclaim that quota.
 */
import { gpuMemoryRequirement, GPU_MODELS } from "./render/gpu-memory.ts";
import type { PodRequests } from "./pod-requests.ts";
import type { Experiment } from "./spec/experiment.ts";
import type { PlatformContext } from "./platform.ts";

/** One reason a run can never be admitted: the field, its value, the limit and the fix. */
export interface FitProblem {
  readonly field: string;
  readonly value: string;
  readonly limit: string;
  readonly fix: string;
}

export interface PlatformFit {
  readonly problems: readonly FitProblem[];
  /** Admitted, but worth knowing (borrowed quota, instance types the pool ignores). */
  readonly notes: readonly string[];
  /** Why nothing was checked (a platform without limits), when that is so. */
  readonly skipped?: string;
}

type Capacity = "spot" | "on-demand";

const gpuCount = (n: number, capacity: Capacity): string =>
  `${n} ${capacity} GPU${n === 1 ? "" : "s"}`;

const round = (n: number): string => String(Math.round(n * 100) / 100);

const count = (v: string | undefined): number | undefined =>
  v === undefined ? undefined : Number(v);

function limitsFor(p: PlatformContext, capacity: Capacity) {
  return capacity === "spot"
    ? { max: count(p.maxSpotGpus), quota: count(p.spotGpuQuota), maxKey: "maxSpotGpus" }
    : {
        max: count(p.maxOnDemandGpus),
        quota: count(p.onDemandGpuQuota),
        maxKey: "maxOnDemandGpus",
      };
}

const hasLimits = (p: PlatformContext): boolean =>
  [
    p.maxSpotGpus,
    p.maxOnDemandGpus,
    p.maxGpusPerNode,
    p.maxCpuPerNode,
    p.maxMemoryGiBPerNode,
    p.gpuInstanceFamilies,
    p.spotGpuQuota,
    p.onDemandGpuQuota,
  ].some((v) => v !== undefined);

/** The largest GPU (per-GPU memory) that the allowed families offer, for messages. */
function largestGpu(families: readonly string[]) {
  const offered = GPU_MODELS.filter((g) => g.families.some((f) => families.includes(f)));
  return offered.reduce<(typeof offered)[number] | undefined>(
    (best, g) => (best === undefined || g.marketedGiB > best.marketedGiB ? g : best),
    undefined,
  );
}

/**
 * Compare the spec's resources with the platform's limits. `source` says where the limits
 * came from (the ConfigMap, a --platform-file), for messages; `pod` is what one rendered pod
 * requests (jobs/pod-requests.ts), compared with the largest node when given.
 */
export function platformFit(
  e: Experiment,
  p: PlatformContext,
  source: string,
  pod?: PodRequests,
): PlatformFit {
  if (!hasLimits(p))
    return {
      problems: [],
      notes: [],
      skipped: `whether the platform can ever admit ${e.name} was not checked: no limits in ${source}`,
    };
  const r = e.resources;
  if (r.gpusPerNode === 0) return { problems: [], notes: [] };
  const problems: FitProblem[] = [];
  const notes: string[] = [];
  const capacity: Capacity = r.spot ? "spot" : "on-demand";
  const other: Capacity = r.spot ? "on-demand" : "spot";
  const gpus = r.nodes * r.gpusPerNode;

  const perNode = count(p.maxGpusPerNode);
  if (perNode !== undefined && r.gpusPerNode > perNode)
    problems.push({
      field: "resources.gpusPerNode",
      value: String(r.gpusPerNode),
      limit: `the largest node the GPU NodePool launches has ${perNode} GPU${perNode === 1 ? "" : "s"} (${source}: maxGpusPerNode ${perNode})`,
      fix:
        perNode === 0
          ? "this platform launches no GPU nodes; ask your platform engineer"
          : `use more, smaller nodes: resources.nodes: ${Math.ceil(gpus / perNode)} and resources.gpusPerNode: ${perNode} or fewer`,
    });

  const nodeCpu = count(p.maxCpuPerNode);
  if (pod !== undefined && nodeCpu !== undefined && pod.cpu > nodeCpu)
    problems.push({
      field: "resources.cpuPerGpu",
      value: `${r.cpuPerGpu ?? "the default"} per GPU × ${r.gpusPerNode} GPUs: a pod asks for ${round(pod.cpu)} vCPU with its sidecars`,
      limit: `the largest instance the GPU NodePool launches has ${nodeCpu} vCPU (${source}: maxCpuPerNode ${nodeCpu})`,
      fix: `lower resources.cpuPerGpu to at most ${Math.floor((nodeCpu * 0.9) / r.gpusPerNode)} (kubelet and DaemonSets keep about a tenth of a node)`,
    });
  const nodeMemory = count(p.maxMemoryGiBPerNode);
  if (pod !== undefined && nodeMemory !== undefined && pod.memoryGiB > nodeMemory)
    problems.push({
      field: "resources.memoryPerGpuGiB",
      value: `${r.memoryPerGpuGiB ?? "the default"} per GPU × ${r.gpusPerNode} GPUs: a pod asks for ${round(pod.memoryGiB)} GiB with its sidecars`,
      limit: `the largest instance the GPU NodePool launches has ${nodeMemory} GiB (${source}: maxMemoryGiBPerNode ${nodeMemory})`,
      fix: `lower resources.memoryPerGpuGiB to at most ${Math.floor((nodeMemory * 0.9) / r.gpusPerNode)} (kubelet and DaemonSets keep about a tenth of a node)`,
    });

  const mine = limitsFor(p, capacity);
  if (mine.max !== undefined && gpus > mine.max) {
    const theirs = limitsFor(p, other);
    const fixes = [
      ...(mine.max > 0 ? [`ask for at most ${gpuCount(mine.max, capacity)} in total`] : []),
      ...(theirs.max !== undefined && gpus <= theirs.max
        ? [`set resources.spot: ${String(!r.spot)} (up to ${gpuCount(theirs.max, other)})`]
        : []),
      `or ask your platform engineer to raise teams[].${capacity === "spot" ? "spotGpus" : "onDemandGpus"} for this namespace (docs/platform.md, "Multi-node training")`,
    ];
    problems.push({
      field: "resources.nodes × resources.gpusPerNode",
      value: `${r.nodes} × ${r.gpusPerNode} = ${gpuCount(gpus, capacity)}`,
      limit:
        mine.max === 0
          ? `this namespace has no ${capacity} GPU quota (${source}: ${mine.maxKey} 0)`
          : `Kueue admits a run only when all its GPUs fit at once, and one run here can get at most ${gpuCount(mine.max, capacity)} (${source}: ${mine.maxKey} ${mine.max}${mine.quota === undefined ? "" : `, of which the team's guaranteed quota is ${mine.quota}`})`,
      fix: fixes.join("; "),
    });
  } else if (mine.quota !== undefined && gpus > mine.quota)
    notes.push(
      `${e.name} asks for ${gpuCount(gpus, capacity)}, more than the team's guaranteed ${mine.quota}: Kueue admits it only while other teams lend idle quota, and they may take it back (preempting the run; it resumes from its last checkpoint).`,
    );

  if (p.gpuInstanceFamilies !== undefined) {
    const allowed = p.gpuInstanceFamilies.split(",");
    const shown = allowed.join(", ");
    const types = r.gpu.instanceTypes;
    if (types !== undefined) {
      const usable = types.filter((t) => allowed.includes(t.split(".")[0] ?? ""));
      if (usable.length === 0)
        problems.push({
          field: "resources.gpu.instanceTypes",
          value: JSON.stringify(types),
          limit: `the GPU NodePool launches only the families ${shown} (${source}: gpuInstanceFamilies)`,
          fix: `name instance types of those families (e.g. ${allowed[0] ?? "g5"}.12xlarge), or drop instanceTypes and set resources.gpu.minMemoryGiB`,
        });
      else if (usable.length < types.length)
        notes.push(
          `resources.gpu.instanceTypes: ${types.filter((t) => !usable.includes(t)).join(", ")} will never be launched here (the GPU NodePool allows ${shown}); only ${usable.join(", ")} can run it.`,
        );
    } else if (r.gpu.minMemoryGiB !== undefined) {
      const admitted = gpuMemoryRequirement(r.gpu.minMemoryGiB).admits.filter((g) =>
        g.families.some((f) => allowed.includes(f)),
      );
      if (admitted.length === 0) {
        const largest = largestGpu(allowed);
        problems.push({
          field: "resources.gpu.minMemoryGiB",
          value: String(r.gpu.minMemoryGiB),
          limit:
            largest === undefined
              ? `none of the GPU NodePool's families (${shown}) has a GPU this yunshi knows`
              : `the largest GPU the NodePool's families (${shown}) offer is the ${largest.name.toUpperCase()} with ${largest.marketedGiB} GiB (${largest.families.join("/")})`,
          fix:
            largest === undefined
              ? "ask your platform engineer"
              : `set resources.gpu.minMemoryGiB to ${largest.marketedGiB} or less, or ask your platform engineer for a family with larger GPUs`,
        });
      }
    }
  }
  return { problems, notes };
}

/** The problems as one message: what cannot be admitted, where, and each fix. */
export function fitMessage(
  where: string,
  namespace: string,
  problems: readonly FitProblem[],
): string {
  return [
    `${where}: this run can never be admitted in namespace ${namespace}; nothing was sent:`,
    ...problems.map((x) => `  ${x.field}: ${x.value}, but ${x.limit}\n    fix: ${x.fix}`),
  ].join("\n");
}
