/**
 * One way to break each job rule, on a rendered Job or JobSet (every pod template of it).
 * Shared by the TypeScript ↔ CEL equivalence test and the real kube-apiserver test.
 */
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { podSpecsOfWorkload, type Workload } from "../../policies/job-rules.ts";

export type Obj = Workload & {
  spec: Record<string, unknown>;
  metadata: { labels: Record<string, string>; ownerReferences?: { kind: string; name: string }[] };
};

const pods = (o: Obj): IPodSpec[] => podSpecsOfWorkload(o).map(([, p]) => p);
const containers = (o: Obj) =>
  pods(o).flatMap((p) => [...(p.initContainers ?? []), ...p.containers]);

/** Each mutation breaks the named rule (and, by design, no other). */
/** The Job specs of a Job (itself) or a JobSet (each replicated job's template). */
function jobSpecs(o: Obj): Record<string, unknown>[] {
  if (o.kind === "Job") return [o.spec];
  const rjs = (o.spec["replicatedJobs"] ?? []) as { template: { spec: Record<string, unknown> } }[];
  return rjs.map((rj) => rj.template.spec);
}

export const MUTATIONS: Array<[string, (o: Obj) => void]> = [
  ["run-as-non-root", (o) => pods(o).forEach((p) => (p.securityContext!.runAsUser = 0))],
  ["run-as-non-root", (o) => pods(o).forEach((p) => delete p.securityContext!.seccompProfile)],
  ["run-as-non-root", (o) => (containers(o).at(-1)!.securityContext!.runAsUser = 0)],
  [
    "no-privilege",
    // Privileged implies escalation; the API server refuses the pair privileged/no-escalation.
    (o) =>
      Object.assign(containers(o)[0]!.securityContext!, {
        privileged: true,
        allowPrivilegeEscalation: true,
      }),
  ],
  [
    "no-privilege",
    (o) => (containers(o)[0]!.securityContext!.capabilities = { drop: ["ALL"], add: ["NET_RAW"] }),
  ],
  ["no-privilege", (o) => delete containers(o)[0]!.securityContext!.allowPrivilegeEscalation],
  [
    "read-only-root",
    (o) => (containers(o).at(-1)!.securityContext!.readOnlyRootFilesystem = false),
  ],
  ["no-shell-command", (o) => (containers(o).at(-1)!.command = ["sh", "-c", "train $X"])],
  ["no-shell-command", (o) => (containers(o).at(-1)!.command = ["/usr/bin/env", "python"])],
  [
    "restart-never",
    (o) => {
      pods(o).forEach((p) => (p.restartPolicy = "OnFailure"));
      // The API server allows OnFailure only without a pod failure policy or per-index limit.
      for (const job of jobSpecs(o)) {
        delete job["podFailurePolicy"];
        delete job["backoffLimitPerIndex"];
        delete job["maxFailedIndexes"];
      }
    },
  ],
  [
    "gpu-toleration",
    (o) =>
      pods(o).forEach((p) => {
        p.tolerations = [];
        p.containers.at(-1)!.resources!.limits!["nvidia.com/gpu"] = "1";
      }),
  ],
  ["memory-limits", (o) => delete containers(o)[0]!.resources!.limits!["memory"]],
  [
    "no-host-access",
    (o) =>
      pods(o).forEach((p) =>
        (p.volumes ??= []).push({ name: "host", hostPath: { path: "/var/run" } }),
      ),
  ],
  ["no-host-access", (o) => (pods(o)[0]!.hostNetwork = true)],
  ["no-host-access", (o) => (pods(o)[0]!.hostPID = true)],
  [
    "no-host-access",
    (o) => (containers(o).at(-1)!.ports = [{ containerPort: 22, hostPort: 2222 }]),
  ],
  [
    "gpu-limit",
    (o) =>
      pods(o).forEach((p) => {
        p.tolerations = [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }];
        p.containers.at(-1)!.resources!.limits!["nvidia.com/gpu"] = "16";
      }),
  ],
  ["platform-registry", (o) => (containers(o).at(-1)!.image = "docker.io/evil/miner:latest")],
  ["platform-registry", (o) => (containers(o)[0]!.image = "yunshi-evil/agent:1")],
  ["kueue-queue", (o) => delete o.metadata.labels["kueue.x-k8s.io/queue-name"]],
];
