/**
 * Plays the controllers the fake API server does not run — Kueue, the Job controller and
 * the kubelet — by writing the objects and status they would write. Object shapes follow
 * what those controllers produce (Kueue v1beta2 Workload conditions, pod status with
 * init/sidecar containers, the DisruptionTarget condition).
 */
import { randomBytes } from "node:crypto";
import type { Json, JsonObject } from "./apply.ts";
import { isObject, str } from "./apply.ts";
import type { FakeKubeApi } from "./server.ts";

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const cond = (type: string, status: string, reason: string, message = ""): JsonObject => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: now(),
});
const obj = (v: Json | undefined): JsonObject => (isObject(v) ? v : {});

export type WorkloadKind = "Job" | "JobSet";
const API = { Job: "batch/v1", JobSet: "jobset.x-k8s.io/v1alpha2" } as const;

function workloadOf(
  fake: FakeKubeApi,
  ns: string,
  name: string,
): { kind: WorkloadKind; w: JsonObject } {
  const job = fake.get("batch/v1", "Job", ns, name);
  if (job) return { kind: "Job", w: job };
  const js = fake.get(API.JobSet, "JobSet", ns, name);
  if (js) return { kind: "JobSet", w: js };
  throw new Error(`simulate: no Job or JobSet ${ns}/${name}`);
}

const kueueName = (kind: WorkloadKind, name: string) =>
  `${kind.toLowerCase()}-${name}-${name.length.toString(16)}a1f`;

/** Kueue's webhook suspends the new workload; its controller creates a pending Workload. */
export function kueuePending(
  fake: FakeKubeApi,
  ns: string,
  name: string,
  message?: string,
  priority = 0,
): void {
  const { kind, w } = workloadOf(fake, ns, name);
  fake.mutate(API[kind], kind, ns, name, (o) => {
    obj(o.spec).suspend = true;
  });
  const m = obj(w.metadata);
  fake.upsert({
    apiVersion: "kueue.x-k8s.io/v1beta2",
    kind: "Workload",
    metadata: {
      name: kueueName(kind, name),
      namespace: ns,
      labels: { "kueue.x-k8s.io/job-uid": m.uid },
      ownerReferences: [
        {
          apiVersion: API[kind],
          kind,
          name,
          uid: m.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      queueName: obj(m.labels)["kueue.x-k8s.io/queue-name"] ?? "default",
      priority,
      podSets: [{ name: "main", count: 1 }],
    },
    status: {
      conditions: [
        cond(
          "QuotaReserved",
          "False",
          "Pending",
          message ??
            "couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor gpu-spot, 1 more needed",
        ),
      ],
    },
  });
}

/** Kueue admits: quota reserved, Admitted, and the workload unsuspended. */
export function kueueAdmit(fake: FakeKubeApi, ns: string, name: string): void {
  const { kind } = workloadOf(fake, ns, name);
  fake.mutate("kueue.x-k8s.io/v1beta2", "Workload", ns, kueueName(kind, name), (o) => {
    o.status = {
      conditions: [
        cond("QuotaReserved", "True", "QuotaReserved", "Quota reserved in ClusterQueue gpu"),
        cond("Admitted", "True", "Admitted", "The workload is admitted"),
      ],
      admission: {
        clusterQueue: "gpu",
        podSetAssignments: [{ name: "main", flavors: { "nvidia.com/gpu": "gpu-spot" } }],
      },
    };
  });
  fake.mutate(API[kind], kind, ns, name, (o) => {
    obj(o.spec).suspend = false;
    o.status = { ...obj(o.status), startTime: now(), active: 0 };
  });
}

/** The Job controller creates one pod per completion index (a new attempt after failures). */
export function createPods(
  fake: FakeKubeApi,
  ns: string,
  name: string,
  indexes?: number[],
): string[] {
  const { kind, w } = workloadOf(fake, ns, name);
  const spec = obj(w.spec);
  const jobSpec =
    kind === "Job" ? spec : obj(obj(obj((spec.replicatedJobs as Json[])[0]).template).spec);
  const tmpl = obj(jobSpec.template);
  const n = Number(jobSpec.parallelism ?? 1);
  const names: string[] = [];
  for (const i of indexes ?? [...Array(n).keys()]) {
    const base = kind === "Job" ? `${name}-${i}` : `${name}-node-0-${i}`;
    const podName = `${base}-${randomBytes(3).toString("hex").slice(0, 5)}`;
    const tm = obj(tmpl.metadata);
    fake.upsert({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: podName,
        namespace: ns,
        labels: {
          ...obj(tm.labels),
          "batch.kubernetes.io/job-completion-index": String(i),
          "batch.kubernetes.io/job-name": name,
        },
        annotations: {
          ...obj(tm.annotations),
          "batch.kubernetes.io/job-completion-index": String(i),
          ...(jobSpec.backoffLimitPerIndex === undefined
            ? {}
            : indexFailureCounts(fake, ns, name, i)),
        },
        ownerReferences: [
          {
            apiVersion: API[kind],
            kind,
            name,
            uid: obj(w.metadata).uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: { ...obj(tmpl.spec), hostname: base },
      status: { phase: "Pending", conditions: [cond("PodScheduled", "True", "")] },
    });
    names.push(podName);
  }
  fake.mutate(API[kind], kind, ns, name, (o) => {
    o.status = { ...obj(o.status), active: n };
  });
  return names;
}

const containerNames = (pod: JsonObject, key: "containers" | "initContainers") =>
  ((obj(pod.spec)[key] as Json[] | undefined) ?? []).map((c) => str(obj(c).name));
const isSidecar = (pod: JsonObject, name: string) =>
  ((obj(pod.spec).initContainers as Json[] | undefined) ?? []).some(
    (c) => obj(c).name === name && obj(c).restartPolicy === "Always",
  );

function setPod(
  fake: FakeKubeApi,
  ns: string,
  pod: string,
  fn: (p: JsonObject) => void,
): JsonObject {
  return fake.mutate("v1", "Pod", ns, pod, fn);
}

const running = (name: string, restartCount = 0): JsonObject => ({
  name,
  ready: true,
  restartCount,
  state: { running: { startedAt: now() } },
});
const terminated = (name: string, exitCode: number, reason: string): JsonObject => ({
  name,
  ready: false,
  restartCount: 0,
  state: { terminated: { exitCode, reason, startedAt: now(), finishedAt: now() } },
});
/** The pod cannot be scheduled (no GPU node yet: Karpenter is adding one). */
export function podUnschedulable(
  fake: FakeKubeApi,
  ns: string,
  pod: string,
  message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
): void {
  setPod(fake, ns, pod, (p) => {
    p.status = {
      phase: "Pending",
      conditions: [cond("PodScheduled", "False", "Unschedulable", message)],
    };
  });
}

/** The log line the prepare sidecar ends with once the dataset and checkpoint are in
 * (images/checkpoint-agent/src/prepare.ts); while it is at work, its last line is progress. */
export const PREPARED_LINE = "prepared in 3.1 s: training may start";
export const RESTORING_LINE = "restoring iter_8.pth: 41% 135/330 MB, 88.2 MB/s";

/**
 * The prepare sidecar is still fetching and restoring. As the kubelet runs native sidecars,
 * every container already runs: the pod is Running and Ready (what Kueue's waitForPodsReady
 * counts) while the trainer imports and builds its model, waiting for prepare's verdict.
 */
export function podRestoring(fake: FakeKubeApi, ns: string, pod: string): void {
  allRunning(fake, ns, pod);
  fake.writeLog(ns, pod, "prepare", `fetch-dataset: fetched 120/800 files\n${RESTORING_LINE}\n`);
}

/** Every container running: the trainer trains, the snapshot sidecar watches. */
export function podTraining(fake: FakeKubeApi, ns: string, pod: string): void {
  allRunning(fake, ns, pod);
  fake.writeLog(ns, pod, "prepare", `${PREPARED_LINE}\n`);
}

function allRunning(fake: FakeKubeApi, ns: string, pod: string): void {
  const p0 = fake.get("v1", "Pod", ns, pod) as JsonObject;
  const inits = containerNames(p0, "initContainers");
  setPod(fake, ns, pod, (p) => {
    p.status = {
      phase: "Running",
      conditions: [
        cond("PodScheduled", "True", ""),
        cond("Initialized", "True", ""),
        cond("Ready", "True", ""),
      ],
      initContainerStatuses: inits.map((c) =>
        isSidecar(p0, c) ? running(c) : terminated(c, 0, "Completed"),
      ),
      containerStatuses: containerNames(p0, "containers").map((c) => running(c)),
    };
  });
  for (const c of [...inits, ...containerNames(p0, "containers")])
    if (!fake.logs.started(ns, pod, c)) fake.startContainer(ns, pod, c);
}

/** The trainer container exits with `exitCode` (reason `OOMKilled` for the kernel's OOM killer). */
export function podFailed(
  fake: FakeKubeApi,
  ns: string,
  pod: string,
  exitCode: number,
  reason = "Error",
): void {
  const p0 = fake.get("v1", "Pod", ns, pod) as JsonObject;
  setPod(fake, ns, pod, (p) => {
    const st = obj(p.status);
    st.phase = "Failed";
    st.containerStatuses = containerNames(p0, "containers").map((c) =>
      c === "trainer" ? terminated(c, exitCode, reason) : terminated(c, 0, "Completed"),
    );
    st.initContainerStatuses = containerNames(p0, "initContainers").map((c) =>
      terminated(c, c === "snapshot" ? 0 : 0, "Completed"),
    );
  });
  for (const c of [...containerNames(p0, "containers"), ...containerNames(p0, "initContainers")])
    fake.terminateContainer(ns, pod, c);
  // A Job's pod failure policy ignores disruptions: its failed counter does not move. A
  // JobSet's child Job fails, and the set restarts (for free, by its preemption rule).
  const experiment = str(obj(obj(p0.metadata).labels)["yunshi.dev/experiment"]);
  if (workloadOf(fake, ns, experiment).kind !== "Job") bumpFailed(fake, ns, experiment);
}

/** A disruption: the pod gets DisruptionTarget and is terminated (spot reclaim, preemption). */
export function podDisrupted(
  fake: FakeKubeApi,
  ns: string,
  pod: string,
  reason = "DeletionByTaintManager",
  message = "Taint manager: deleting due to NoExecute taint",
): void {
  setPod(fake, ns, pod, (p) => {
    const st = obj(p.status);
    st.conditions = [
      ...((st.conditions as Json[] | undefined) ?? []),
      cond("DisruptionTarget", "True", reason, message),
    ];
    obj(p.metadata).deletionTimestamp = now();
  });
}

/**
 * What the Job controller (backoffLimitPerIndex) writes on a replacement pod: the failures and
 * the ignored failures (pod failure policy Ignore: preemptions) of the pods of its index before
 * it, carried over from the last one (k8s.io/kubernetes pkg/controller/job/indexed_job_utils.go).
 */
function indexFailureCounts(fake: FakeKubeApi, ns: string, name: string, index: number) {
  const FAILURES = "batch.kubernetes.io/job-index-failure-count";
  const IGNORED = "batch.kubernetes.io/job-index-ignored-failure-count";
  const last = fake
    .list("v1", "Pod", ns)
    .map((p) => p)
    .filter((p) => {
      const l = obj(obj(p.metadata).labels);
      return (
        l["batch.kubernetes.io/job-name"] === name &&
        l["batch.kubernetes.io/job-completion-index"] === String(index) &&
        obj(p.status).phase === "Failed"
      );
    })
    .sort((a, b) =>
      str(obj(a.metadata).creationTimestamp).localeCompare(str(obj(b.metadata).creationTimestamp)),
    )
    .at(-1);
  if (!last) return { [FAILURES]: "0" };
  const a = obj(obj(last.metadata).annotations);
  const disrupted = ((obj(last.status).conditions as Json[] | undefined) ?? []).some(
    (c) => obj(c).type === "DisruptionTarget" && obj(c).status === "True",
  );
  const failures = Number(a[FAILURES] ?? 0) + (disrupted ? 0 : 1);
  const ignored = Number(a[IGNORED] ?? 0) + (disrupted ? 1 : 0);
  return { [FAILURES]: String(failures), ...(ignored > 0 ? { [IGNORED]: String(ignored) } : {}) };
}

/** The disrupted pod has finished terminating: Failed, then gone from the Job's active set. */
export function podTerminatedAfterDisruption(fake: FakeKubeApi, ns: string, pod: string): void {
  const p0 = fake.get("v1", "Pod", ns, pod) as JsonObject;
  setPod(fake, ns, pod, (p) => {
    const st = obj(p.status);
    st.phase = "Failed";
    st.containerStatuses = containerNames(p0, "containers").map((c) => terminated(c, 143, "Error"));
    delete obj(p.metadata).deletionTimestamp;
  });
  for (const c of [...containerNames(p0, "containers"), ...containerNames(p0, "initContainers")])
    fake.terminateContainer(ns, pod, c);
  // A Job's pod failure policy ignores disruptions: its failed counter does not move. A
  // JobSet's child Job fails, and the set restarts (for free, by its preemption rule).
  const experiment = str(obj(obj(p0.metadata).labels)["yunshi.dev/experiment"]);
  if (workloadOf(fake, ns, experiment).kind !== "Job") bumpFailed(fake, ns, experiment);
}

function bumpFailed(fake: FakeKubeApi, ns: string, name: string): void {
  const { kind } = workloadOf(fake, ns, name);
  fake.mutate(API[kind], kind, ns, name, (o) => {
    const st = obj(o.status);
    if (kind === "Job") st.failed = Number(st.failed ?? 0) + 1;
    else st.restarts = Number(st.restarts ?? 0) + 1;
    o.status = st;
  });
}

/** The run finished: pods Succeeded, the Job Complete (JobSet Completed). */
export function workloadSucceeded(fake: FakeKubeApi, ns: string, name: string): void {
  const { kind } = workloadOf(fake, ns, name);
  for (const p of fake
    .list("v1", "Pod", ns)
    .filter(
      (p) =>
        obj(obj(p.metadata).labels)["yunshi.dev/experiment"] === name &&
        obj(p.status).phase === "Running",
    )) {
    const pod = str(obj(p.metadata).name);
    setPod(fake, ns, pod, (x) => {
      obj(x.status).phase = "Succeeded";
      obj(x.status).containerStatuses = containerNames(p, "containers").map((c) =>
        terminated(c, 0, "Completed"),
      );
    });
    for (const c of [...containerNames(p, "containers"), ...containerNames(p, "initContainers")])
      fake.terminateContainer(ns, pod, c);
  }
  fake.mutate(API[kind], kind, ns, name, (o) => {
    const st = obj(o.status);
    st.conditions =
      kind === "Job"
        ? [
            cond("SuccessCriteriaMet", "True", "CompletionsReached"),
            cond("Complete", "True", "CompletionsReached"),
          ]
        : [cond("Completed", "True", "AllJobsCompleted", "jobset completed successfully")];
    st.completionTime = now();
    st.active = 0;
    o.status = st;
  });
}

/** The Job controller fails the Job (PodFailurePolicy, BackoffLimitExceeded, DeadlineExceeded). */
export function workloadFailed(
  fake: FakeKubeApi,
  ns: string,
  name: string,
  reason: string,
  message: string,
): void {
  const { kind } = workloadOf(fake, ns, name);
  fake.mutate(API[kind], kind, ns, name, (o) => {
    const st = obj(o.status);
    st.conditions =
      kind === "Job"
        ? [cond("FailureTarget", "True", reason, message), cond("Failed", "True", reason, message)]
        : [cond("Failed", "True", reason, message)];
    st.active = 0;
    o.status = st;
  });
}
