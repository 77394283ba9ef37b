/**
 * Reading an experiment's state from the cluster: its workload (Job or JobSet), pods and
 * Kueue Workload, and the phase derived from them (jobs/phase.ts).
 */
import { Annotations, Labels } from "../labels.ts";
import type { PhaseResult } from "./phase.ts";
import { ContainerNames } from "../pod-contract.ts";
import { checkpointUriOf, derivePhase, preparingFromLog, queuePosition, shapeOf } from "./phase.ts";
import type { ClusterClient } from "./client.ts";
import { ClusterError } from "./errors.ts";
import type { KubeObject } from "./types.ts";

export const WORKLOAD_TYPES = [
  { apiVersion: "batch/v1", kind: "Job" },
  { apiVersion: "jobset.x-k8s.io/v1alpha2", kind: "JobSet" },
] as const;
export const KUEUE_WORKLOAD = { apiVersion: "kueue.x-k8s.io/v1beta2", kind: "Workload" } as const;

export interface ExperimentState {
  name: string;
  namespace: string;
  workload: KubeObject;
  pods: KubeObject[];
  kueueWorkload?: KubeObject | undefined;
  status: PhaseResult;
  nodes: number;
  gpusPerNode: number;
  created: string;
  checkpointUri?: string | undefined;
  specHash?: string | undefined;
}

/** A kind whose CRD is missing simply has no objects when we are only looking. */
async function tolerateMissingCrd<T>(f: () => Promise<T>, empty: T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ClusterError && e.kind === "crd-missing") return empty;
    throw e;
  }
}

const ownedByJobSet = (o: KubeObject) =>
  (o.metadata.ownerReferences ?? []).some((r) => r.kind === "JobSet");

/** The experiment's workload (Job or JobSet), if any. */
export async function findWorkload(
  client: ClusterClient,
  namespace: string,
  name: string,
): Promise<KubeObject | undefined> {
  for (const t of WORKLOAD_TYPES) {
    const w = await tolerateMissingCrd(() => client.get({ ...t, namespace, name }), undefined);
    if (w && w.metadata.labels?.[Labels.experiment] !== undefined && !ownedByJobSet(w)) return w;
  }
  return undefined;
}

/** States of every experiment in the namespace, or of one. */
export async function experimentStates(
  client: ClusterClient,
  namespace: string,
  name?: string,
): Promise<ExperimentState[]> {
  const selector = name === undefined ? Labels.experiment : `${Labels.experiment}=${name}`;
  const workloads: KubeObject[] = [];
  const childJobs: KubeObject[] = [];
  for (const t of WORKLOAD_TYPES) {
    const { items } = await tolerateMissingCrd(
      () => client.list(t.apiVersion, t.kind, namespace, selector),
      { items: [], resourceVersion: "" },
    );
    // A JobSet's child Jobs carry the experiment label too: the JobSet speaks for them, and
    // its phase reads their conditions.
    workloads.push(...items.filter((o) => !ownedByJobSet(o)));
    childJobs.push(...items.filter(ownedByJobSet));
  }
  if (workloads.length === 0) return [];
  const { items: pods } = await client.list("v1", "Pod", namespace, selector);
  const { items: kueue } = await tolerateMissingCrd(
    () => client.list(KUEUE_WORKLOAD.apiVersion, KUEUE_WORKLOAD.kind, namespace),
    { items: [], resourceVersion: "" },
  );
  const preparing = await prepareTails(client, namespace, pods);
  return workloads
    .map((w) => stateOf(w, pods, kueue, childJobs, preparing))
    .sort((a, b) => b.created.localeCompare(a.created));
}

/**
 * Running pods whose prepare sidecar is still at work → its last log line. The pod's status
 * cannot say (the sidecar and the trainer both run), its log can: one short request per
 * running pod. A log that cannot be read (RBAC without pods/log, a node that serves none)
 * leaves the pod out: status then says Training, as before prepare ran beside the trainer.
 */
async function prepareTails(
  client: ClusterClient,
  namespace: string,
  pods: readonly KubeObject[],
): Promise<Map<string, string>> {
  const running = pods.filter((p) => {
    const status = (p.status ?? {}) as {
      phase?: string;
      initContainerStatuses?: { name: string; state?: { running?: unknown } }[];
    };
    return (
      status.phase === "Running" &&
      p.metadata.deletionTimestamp === undefined &&
      (status.initContainerStatuses ?? []).some(
        (c) => c.name === ContainerNames.prepare && c.state?.running !== undefined,
      )
    );
  });
  const tails = new Map<string, string>();
  await Promise.all(
    running.map(async (p) => {
      let text = "";
      try {
        await client.podLogs(
          namespace,
          p.metadata.name,
          ContainerNames.prepare,
          { tailLines: 1, follow: false },
          (chunk) => {
            text += chunk;
          },
        );
      } catch {
        return;
      }
      const last = text.trimEnd().split("\n").pop() ?? "";
      if (preparingFromLog(last)) tails.set(p.metadata.name, last.slice(0, 300));
    }),
  );
  return tails;
}

/** Pure assembly of one experiment's state from listed objects. */
export function stateOf(
  w: KubeObject,
  pods: readonly KubeObject[],
  kueue: readonly KubeObject[],
  childJobs: readonly KubeObject[] = [],
  preparing: ReadonlyMap<string, string> = new Map(),
): ExperimentState {
  const name = w.metadata.labels?.[Labels.experiment] ?? w.metadata.name;
  const mine = pods.filter((p) => p.metadata.labels?.[Labels.experiment] === name);
  const kw = kueue.find((k) =>
    (k.metadata.ownerReferences ?? []).some((r) => r.uid === w.metadata.uid),
  );
  const position = kw ? queuePosition(kw, kueue) : undefined;
  const shape = shapeOf(w);
  return {
    name,
    namespace: w.metadata.namespace ?? "",
    workload: w,
    pods: mine,
    kueueWorkload: kw,
    status: derivePhase({
      workload: w,
      pods: mine,
      childJobs: childJobs.filter((j) =>
        (j.metadata.ownerReferences ?? []).some((r) => r.uid === w.metadata.uid),
      ),
      kueueWorkload: kw,
      queuePosition: position,
      preparing,
    }),
    nodes: shape.nodes,
    gpusPerNode: shape.gpusPerNode,
    created: w.metadata.creationTimestamp ?? "",
    checkpointUri: checkpointUriOf(w),
    specHash: w.metadata.annotations?.[Annotations.specHash],
  };
}
