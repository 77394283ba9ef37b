/**
 * What a training user wants to know about a run, derived from Kubernetes objects alone
 * (pure: tested on recorded object states in test/fixtures/cluster-states/). Inputs: the
 * workload (batch/v1 Job or JobSet), its pods, and the Kueue Workload that owns its
 * admission. Phases: Queued → Starting → Restoring → Training, with Interrupted →
 * Restarting on preemption or failure, ending in Succeeded or Failed (with a reason).
 */
import type { KubeObject } from "./types.ts";
import { Annotations } from "../labels.ts";
import { AgentExit, ContainerNames, LauncherExit } from "../pod-contract.ts";
import { DISRUPTION_FAILURE_MESSAGE } from "../render/kubernetes.ts";

export const PHASES = [
  "Queued",
  "Starting",
  "Restoring",
  "Training",
  "Interrupted",
  "Restarting",
  "Succeeded",
  "Failed",
] as const;
export type Phase = (typeof PHASES)[number];

export interface PhaseInput {
  /** The Job or JobSet. */
  workload: KubeObject;
  /** Every pod labelled with the experiment (current and from earlier attempts). */
  pods: readonly KubeObject[];
  /** A JobSet's child Jobs (their Failed condition is known before the JobSet's). */
  childJobs?: readonly KubeObject[] | undefined;
  /** The Kueue Workload owned by the workload, when Kueue made one. */
  kueueWorkload?: KubeObject | undefined;
  /** 1-based position among the pending Workloads of the same LocalQueue. */
  queuePosition?: number | undefined;
  /**
   * Pods whose prepare sidecar is still fetching or restoring → its last log line. The
   * trainer runs beside it (imports, model build) and nothing in the pod's status tells
   * the two apart, so the caller reads the sidecar's log tail (see preparingFromLog).
   */
  preparing?: ReadonlyMap<string, string> | undefined;
}

/** Whether the prepare sidecar's last log line says it is still at work (its final lines
 * are "prepared in …" and "prepare failed at …", images/checkpoint-agent/src/prepare.ts). */
export function preparingFromLog(lastLine: string): boolean {
  const line = lastLine.trim();
  return line !== "" && !/^(prepared in |prepare failed at )/.test(line);
}

export interface PhaseResult {
  phase: Phase;
  /** Why, in words: the queue's reason, the failure's meaning, the interruption's cause. */
  reason?: string;
  queuePosition?: number;
  /** Times the run was restarted: replacement pods (Job) or group restarts (JobSet), preemptions included. */
  restarts: number;
  /** The restarts that used up `retries` (failures; preemptions are free). */
  retriesUsed: number;
  /** `retries` from the spec, when annotated. */
  retries?: number;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {};
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : []);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);

interface Condition {
  type: string;
  status: string;
  reason?: string | undefined;
  message?: string | undefined;
  lastTransitionTime?: string | undefined;
}

function conditions(o: unknown): Condition[] {
  return arr(obj(obj(o).status).conditions).map((c) => ({
    type: str(c.type) ?? "",
    status: str(c.status) ?? "",
    reason: str(c.reason),
    message: str(c.message),
    lastTransitionTime: str(c.lastTransitionTime),
  }));
}
const isTrue = (o: unknown, type: string) =>
  conditions(o).find((c) => c.type === type && c.status === "True");

/** The meaning of an exit code of a container, by the pod contract. */
export function exitMeaning(container: string, code: number): string {
  if (container === ContainerNames.trainer) {
    switch (code) {
      case LauncherExit.configError:
        return "config error (exit 3): the MMDetection config does not load or build; check the experiment's model and cfgOptions";
      case LauncherExit.datasetError:
        return "dataset error (exit 4): the dataset's annotations or images are missing or unreadable; check dataset.uri and its layout";
      case LauncherExit.cudaOutOfMemory:
        return "CUDA out of memory (exit 5): lower train.batchPerGpu or use a GPU with more memory";
      case LauncherExit.checkpointError:
        return "checkpoint error (exit 6): last_checkpoint names no regular file inside the work dir; see `yunshi logs`";
      case LauncherExit.failed:
        return "training failed (exit 1); see `yunshi logs`";
    }
  } else if (code === AgentExit.invalidInput) {
    return `${container} rejected its input (exit 2): the dataset or checkpoint URI is unusable; see \`yunshi logs --container ${container}\``;
  }
  if (code === 137) return `${container} was killed (exit 137, SIGKILL)`;
  if (code === 143) return `${container} was terminated (exit 143, SIGTERM)`;
  return `${container} exited with code ${code}`;
}

interface ContainerView {
  name: string;
  state: "waiting" | "running" | "terminated" | "unknown";
  reason?: string | undefined;
  message?: string | undefined;
  exitCode?: number | undefined;
}

interface PodView {
  name: string;
  index: string;
  /** The Job controller's count of failed / ignored (preempted) pods before this one of its index. */
  failuresBefore: number;
  ignoredBefore: number;
  created: string;
  phase: string;
  deleting: boolean;
  disruption?: Condition | undefined;
  unschedulable?: string | undefined;
  init: ContainerView[];
  containers: ContainerView[];
}

function containerViews(statuses: unknown): ContainerView[] {
  return arr(statuses).map((s) => {
    const st = obj(s.state);
    const [state, detail] = st.running
      ? (["running", obj(st.running)] as const)
      : st.terminated
        ? (["terminated", obj(st.terminated)] as const)
        : st.waiting
          ? (["waiting", obj(st.waiting)] as const)
          : (["unknown", {} as Obj] as const);
    return {
      name: str(s.name) ?? "",
      state,
      reason: str(detail.reason),
      message: str(detail.message),
      exitCode: num(detail.exitCode),
    };
  });
}

function podView(p: KubeObject): PodView {
  const status = obj(p.status);
  const labels = p.metadata.labels ?? {};
  const annotations = p.metadata.annotations ?? {};
  const sched = conditions(p).find((c) => c.type === "PodScheduled" && c.status === "False");
  return {
    name: p.metadata.name,
    index:
      annotations["batch.kubernetes.io/job-completion-index"] ??
      labels["batch.kubernetes.io/job-completion-index"] ??
      "0",
    failuresBefore: Number(annotations[JOB_INDEX_FAILURE_COUNT] ?? 0) || 0,
    ignoredBefore: Number(annotations[JOB_INDEX_IGNORED_FAILURE_COUNT] ?? 0) || 0,
    created: p.metadata.creationTimestamp ?? "",
    phase: str(status.phase) ?? "Pending",
    deleting: p.metadata.deletionTimestamp !== undefined,
    disruption: isTrue(p, "DisruptionTarget"),
    unschedulable:
      sched?.reason === "Unschedulable" ? (sched.message ?? "no node fits") : undefined,
    init: containerViews(status.initContainerStatuses),
    containers: containerViews(status.containerStatuses),
  };
}

/** The reason the last failed pod failed, in words (OOMKilled, exit code meanings). */
function lastFailure(pods: readonly PodView[]): string | undefined {
  const failed = pods
    .filter(
      (p) =>
        p.phase === "Failed" ||
        p.containers.some((c) => c.state === "terminated" && c.exitCode !== 0),
    )
    .sort((a, b) => b.created.localeCompare(a.created));
  for (const p of failed) {
    if (p.disruption) return `${p.name} was interrupted: ${disruptionText(p.disruption)}`;
    for (const c of [...p.containers, ...p.init]) {
      if (c.state !== "terminated" || c.exitCode === 0 || c.exitCode === undefined) continue;
      if (c.reason === "OOMKilled")
        return `${c.name} in ${p.name} was OOMKilled: it used more host memory than its limit; lower dataloader workers or batch size, or use a larger instance`;
      return `${exitMeaning(c.name, c.exitCode)} (pod ${p.name})`;
    }
  }
  return undefined;
}

function disruptionText(c: Condition): string {
  const why: Record<string, string> = {
    PreemptionByScheduler: "preempted by a higher-priority pod",
    PreemptionByKubeScheduler: "preempted by a higher-priority pod",
    DeletionByTaintManager: "its node is going away (spot interruption or node drain)",
    EvictionByEvictionAPI: "evicted (node drain or consolidation)",
    DeletionByPodGC: "its node disappeared",
    TerminationByKubelet: "the node is shutting down or under resource pressure",
  };
  const base = (c.reason && why[c.reason]) ?? c.reason ?? "disrupted";
  return c.message ? `${base} (${c.message})` : base;
}

/** Pod annotations the Job controller sets with backoffLimitPerIndex (k8s.io/api batch/v1). */
const JOB_INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count";
const JOB_INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count";

/**
 * The newest pod of each completion index: it carries the counts of the pods before it. Each
 * replacement's count is one more than its predecessor's, which orders pods created within
 * the same second (creation timestamps have one-second resolution).
 */
function newestPerIndex(pods: readonly PodView[]): PodView[] {
  const newest = new Map<string, PodView>();
  const before = (p: PodView) => p.failuresBefore + p.ignoredBefore;
  for (const p of pods) {
    const cur = newest.get(p.index);
    if (!cur || before(p) > before(cur) || (before(p) === before(cur) && p.created > cur.created))
      newest.set(p.index, p);
  }
  return [...newest.values()];
}

interface RestartCount {
  restarts: number;
  retriesUsed: number;
}

/** How the kind answers the questions phase derivation asks: each kind for itself. */
interface WorkloadKind {
  succeeded(w: KubeObject): boolean;
  restarts(w: KubeObject, pods: readonly PodView[]): RestartCount;
  expectedPods(w: KubeObject): number;
  suspended(w: KubeObject): boolean;
  failedReason(w: KubeObject, pods: readonly PodView[], retries: number | undefined): string;
}

function jobFailedReason(
  c: Condition | undefined,
  pods: readonly PodView[],
  retries: number | undefined,
): string {
  const last = lastFailure(pods);
  switch (c?.reason) {
    case "DeadlineExceeded":
      return `ran longer than maxRuntime (Job deadline exceeded); raise maxRuntime or resubmit to resume from the last checkpoint`;
    case "BackoffLimitExceeded":
    case "FailedIndexes":
    case "MaxFailedIndexesExceeded":
      return `retries exhausted (${retries ?? "?"} allowed)${last ? `; last failure: ${last}` : ""}`;
    case "PodFailurePolicy":
      return last ?? c.message ?? "a pod failed with an exit code that retrying cannot fix";
    default:
      return last ?? c?.message ?? c?.reason ?? "failed";
  }
}

const WORKLOAD_KINDS: Readonly<Record<string, WorkloadKind>> = {
  Job: {
    succeeded: (w) => Boolean(isTrue(w, "Complete") ?? isTrue(w, "SuccessCriteriaMet")),
    // Every replacement pod is a restart, preemptions included; only failures use up retries.
    // The newest pod of the index carries both counts (backoffLimitPerIndex), even after the
    // pods before it are gone; Jobs rendered without it fall back to the failed counter.
    restarts: (w, pods) => {
      const newest = newestPerIndex(pods);
      if (newest.length > 0 && obj(w.spec).backoffLimitPerIndex !== undefined)
        return {
          restarts: newest.reduce((n, p) => n + p.failuresBefore + p.ignoredBefore, 0),
          retriesUsed: newest.reduce((n, p) => n + p.failuresBefore, 0),
        };
      // Without pods (removed after the Job failed, or never listed): every counted failure
      // but a final one was followed by a replacement. Preemptions are not in the counter.
      const failed = num(obj(w.status).failed) ?? 0;
      const ended = isTrue(w, "Failed") ?? isTrue(w, "FailureTarget");
      const counted = ended ? Math.max(0, failed - 1) : failed;
      return { restarts: counted, retriesUsed: counted };
    },
    expectedPods: (w) => num(obj(w.spec).parallelism) ?? 1,
    suspended: (w) => obj(w.spec).suspend === true,
    failedReason: (w, pods, retries) =>
      jobFailedReason(isTrue(w, "Failed") ?? isTrue(w, "FailureTarget"), pods, retries),
  },
  JobSet: {
    succeeded: (w) => Boolean(isTrue(w, "Completed")),
    // JobSet v0.12 counts every group restart and, apart, those that count towards maxRestarts.
    restarts: (w) => {
      const st = obj(w.status);
      const restarts = num(st.restarts) ?? 0;
      // The field is omitted while zero (omitempty), as after preemptions only.
      return { restarts, retriesUsed: num(st.restartsCountTowardsMax) ?? 0 };
    },
    expectedPods: (w) =>
      arr(obj(w.spec).replicatedJobs).reduce(
        (n, rj) => n + (num(rj.replicas) ?? 1) * (num(obj(obj(rj.template).spec).parallelism) ?? 1),
        0,
      ),
    suspended: (w) => obj(w.spec).suspend === true,
    failedReason: (w, pods, retries) => {
      const c = isTrue(w, "Failed");
      const last = lastFailure(pods);
      if (c?.reason === "ReachedMaxRestarts")
        return `retries exhausted (${retries ?? "?"} group restarts allowed)${last ? `; last failure: ${last}` : ""}`;
      return last ?? c?.message ?? c?.reason ?? "failed";
    },
  },
};

export function workloadKind(w: KubeObject): WorkloadKind {
  const k = WORKLOAD_KINDS[w.kind];
  if (!k) throw new Error(`not a training workload: ${w.kind}`);
  return k;
}

function queuedReason(kw: KubeObject | undefined): string {
  if (!kw) return "waiting for Kueue to create its Workload";
  const evicted = isTrue(kw, "Evicted");
  if (evicted)
    return `evicted by Kueue (${evicted.reason ?? ""}${evicted.message ? `: ${evicted.message}` : ""}), waiting to be admitted again`;
  const reserved = conditions(kw).find((c) => c.type === "QuotaReserved" && c.status === "False");
  if (reserved?.message) return reserved.message;
  const queue = str(obj(kw.spec).queueName);
  return `waiting for quota in queue ${queue ?? "?"}`;
}

/**
 * Why Kueue deactivated the run, when it did: most often the requeuing limit of
 * waitForPodsReady (infra/kueue.ts), after the run's pods were not all Ready in time again
 * and again (no capacity of its kind, an image that does not pull).
 */
function deactivationReason(kw: KubeObject | undefined): string | undefined {
  if (kw === undefined || obj(kw.spec).active !== false) return undefined;
  const evicted = conditions(kw).find((c) => c.type === "Evicted" && c.status === "True");
  const requeues = num(obj(obj(kw.status).requeueState).count);
  const why = evicted
    ? ` (${evicted.reason ?? ""}${evicted.message ? `: ${evicted.message}` : ""})`
    : "";
  const notReady = /RequeuingLimitExceeded|re-queuing/i.test(
    `${evicted?.reason ?? ""} ${evicted?.message ?? ""}`,
  );
  return notReady
    ? `Kueue deactivated it${why}: its pods were not all Ready within the platform's waitForPodsReady timeout${requeues === undefined ? "" : ` after ${requeues} requeue(s)`}; look for pods that cannot be scheduled or images that do not pull, then submit again`
    : `Kueue deactivated it${why}; submit again to retry`;
}

/** Position among the pending Workloads of one LocalQueue, in Kueue's order (priority, then age). */
export function queuePosition(kw: KubeObject, all: readonly KubeObject[]): number | undefined {
  const queue = str(obj(kw.spec).queueName);
  const pending = all
    .filter(
      (w) =>
        str(obj(w.spec).queueName) === queue &&
        !isTrue(w, "QuotaReserved") &&
        !isTrue(w, "Finished"),
    )
    .sort((a, b) => {
      const pa = num(obj(a.spec).priority) ?? 0;
      const pb = num(obj(b.spec).priority) ?? 0;
      if (pa !== pb) return pb - pa;
      return (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? "");
    });
  const i = pending.findIndex(
    (w) => w.metadata.uid === kw.metadata.uid && w.metadata.name === kw.metadata.name,
  );
  return i < 0 ? undefined : i + 1;
}

export function derivePhase(input: PhaseInput): PhaseResult {
  const w = input.workload;
  const kind = workloadKind(w);
  const pods = input.pods.map(podView);
  const retriesText = w.metadata.annotations?.[Annotations.retries];
  const retries = retriesText === undefined ? undefined : Number(retriesText);
  const { restarts, retriesUsed } = kind.restarts(w, pods);
  const base = { restarts, retriesUsed, ...(retries === undefined ? {} : { retries }) };
  const result = (
    phase: Phase,
    reason?: string,
    extra: Partial<PhaseResult> = {},
  ): PhaseResult => ({
    phase,
    ...base,
    ...(reason === undefined ? {} : { reason }),
    ...extra,
  });

  if (kind.succeeded(w)) return result("Succeeded");
  if (isTrue(w, "Failed") || (w.kind === "Job" && isTrue(w, "FailureTarget")))
    return result("Failed", kind.failedReason(w, pods, retries));
  // A JobSet ends when its failure policy acts on a failed child Job, up to its grace period
  // later; a child that failed for a reason its policy ends the set for has already decided.
  const decided = (input.childJobs ?? [])
    .map((j) => isTrue(j, "Failed") ?? isTrue(j, "FailureTarget"))
    .find((c) => c !== undefined && endsJobSet(c));
  if (decided)
    return result(
      "Failed",
      decided.reason === "DeadlineExceeded"
        ? jobFailedReason(decided, pods, retries)
        : (lastFailure(pods) ??
            decided.message ??
            "a pod failed with an exit code that retrying cannot fix"),
    );

  // Deactivated (spec.active false): Kueue will not admit it again, so it is not Queued.
  const deactivated = deactivationReason(input.kueueWorkload);
  if (deactivated !== undefined) return result("Failed", deactivated);

  if (kind.suspended(w)) {
    const kw = input.kueueWorkload;
    if (kw && isTrue(kw, "Admitted")) return result("Starting", "admitted by Kueue; creating pods");
    return result(
      "Queued",
      queuedReason(kw),
      input.queuePosition === undefined ? {} : { queuePosition: input.queuePosition },
    );
  }

  const current = pods.filter(
    (p) => !p.deleting && (p.phase === "Pending" || p.phase === "Running"),
  );
  // A disrupted pod not yet replaced (no newer pod for its index): the run is interrupted.
  const interrupted = pods
    .filter((p) => p.disruption && (p.deleting || p.phase === "Failed"))
    .sort((a, b) => b.created.localeCompare(a.created))
    .find(
      (p) =>
        !current.some((c) => c.index === p.index && c.created >= p.created && c.name !== p.name),
    );
  if (interrupted?.disruption)
    return result("Interrupted", `${interrupted.name}: ${disruptionText(interrupted.disruption)}`);

  const earlierFailures = pods.some((p) => p.phase === "Failed") || restarts > 0;
  const restoring = current.find((p) => input.preparing?.has(p.name) === true);
  if (restoring) {
    const line = input.preparing?.get(restoring.name) ?? "";
    return result(
      "Restoring",
      `fetching the dataset and restoring the last checkpoint in ${restoring.name} while the trainer starts${line === "" ? "" : `: ${line}`}`,
    );
  }
  // The trainer finished and the Job is not Complete yet (final upload, controller catching up).
  const finishing = pods.filter(
    (p) =>
      p.phase === "Succeeded" ||
      p.containers.some(
        (c) => c.name === ContainerNames.trainer && c.state === "terminated" && c.exitCode === 0,
      ),
  );
  if (finishing.length > 0 && finishing.length >= kind.expectedPods(w) - current.length)
    if (!current.some((p) => p.containers.some((c) => c.state === "waiting")))
      return result("Training", "the trainer finished; waiting for the run to complete");

  const training = current.filter((p) =>
    p.containers.some((c) => c.name === ContainerNames.trainer && c.state === "running"),
  );
  if (
    current.length > 0 &&
    training.length >= kind.expectedPods(w) &&
    training.length === current.length
  )
    return result(
      "Training",
      restarts > 0 ? `after ${restarts} restart${restarts > 1 ? "s" : ""}` : undefined,
    );

  if (earlierFailures) {
    const last = lastFailure(pods);
    return result("Restarting", last ? `after: ${last}` : "replacing failed or interrupted pods");
  }
  return result("Starting", startingReason(current));
}

function startingReason(current: readonly PodView[]): string {
  if (current.length === 0) return "creating pods";
  for (const p of current) if (p.unschedulable) return `waiting for a node: ${p.unschedulable}`;
  for (const p of current)
    for (const c of [...p.init, ...p.containers])
      if (c.state === "waiting" && c.reason && /ImagePull|ErrImage|InvalidImageName/.test(c.reason))
        return `cannot pull the image of ${c.name} (${c.reason}${c.message ? `: ${c.message}` : ""})`;
  for (const p of current)
    if (p.init.some((c) => c.name === ContainerNames.prepare && c.state === "running"))
      return "fetching the dataset and restoring while the trainer starts";
  return "pods are starting";
}

/**
 * Whether yunshi's JobSet failure policy (jobs/render/kubernetes.ts) ends the set for this
 * child-Job failure: a deadline, or a pod failure policy match that is not a disruption.
 */
function endsJobSet(c: Condition): boolean {
  if (c.reason === "DeadlineExceeded") return true;
  return c.reason === "PodFailurePolicy" && !(c.message ?? "").includes(DISRUPTION_FAILURE_MESSAGE);
}

/** Nodes × GPUs per node, from the workload's spec. */
export function shapeOf(w: KubeObject): { nodes: number; gpusPerNode: number } {
  const k = workloadKind(w);
  const tmpl = podTemplateOf(w);
  const trainer = arr(obj(tmpl.spec).containers).find((c) => c.name === ContainerNames.trainer);
  const gpus = Number(
    str(obj(obj(trainer?.resources).limits)["nvidia.com/gpu"]) ??
      obj(obj(trainer?.resources).limits)["nvidia.com/gpu"] ??
      0,
  );
  return { nodes: k.expectedPods(w), gpusPerNode: Number.isFinite(gpus) ? gpus : 0 };
}

/** The pod template of a Job or of a JobSet's first replicated job. */
export function podTemplateOf(w: KubeObject): Obj {
  const spec = obj(w.spec);
  if (w.kind === "JobSet")
    return obj(obj(obj(arr(spec.replicatedJobs)[0]?.template).spec).template);
  return obj(spec.template);
}

/** Where the run's checkpoints go (the pod template's annotation). */
export function checkpointUriOf(w: KubeObject): string | undefined {
  return str(obj(obj(podTemplateOf(w).metadata).annotations)[Annotations.checkpointUri]);
}

export const isFinished = (p: Phase): boolean => p === "Succeeded" || p === "Failed";
