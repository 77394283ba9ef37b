/**
 * Rules every training workload must satisfy, shared by `submit`/`render` (checked on
 * the rendered objects before anything is printed or sent) and by the CrossGuard pack
 * (policies/) for objects that reach the cluster through Pulumi. Pure functions over
 * plain objects; each returns the violations it finds.
 */
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";

export interface JobRuleViolation {
  readonly rule: string;
  readonly message: string;
}

export interface JobRule {
  /** kebab-case, stable: it appears in messages and policy reports. */
  readonly name: string;
  readonly description: string;
  check(pod: IPodSpec, where: string): JobRuleViolation[];
}

const allContainers = (pod: IPodSpec): IContainer[] => [
  ...(pod.initContainers ?? []),
  ...pod.containers,
];

const SHELLS = new Set([
  "sh",
  "bash",
  "/bin/sh",
  "/bin/bash",
  "/usr/bin/env",
  "dash",
  "zsh",
  "ash",
]);

export const jobRules: readonly JobRule[] = [
  {
    name: "run-as-non-root",
    description: "pods run as a non-root user with the RuntimeDefault seccomp profile",
    check(pod, where) {
      const sc = pod.securityContext;
      const ok =
        sc?.runAsNonRoot === true &&
        (sc.runAsUser === undefined || sc.runAsUser > 0) &&
        sc.seccompProfile?.type === "RuntimeDefault";
      return ok
        ? []
        : [
            {
              rule: this.name,
              message: `${where}: pod must set runAsNonRoot, a non-zero runAsUser and seccomp RuntimeDefault`,
            },
          ];
    },
  },
  {
    name: "no-privilege",
    description: "no container may escalate privileges, run privileged or keep capabilities",
    check(pod, where) {
      return allContainers(pod).flatMap((c) => {
        const sc = c.securityContext;
        const ok =
          sc?.allowPrivilegeEscalation === false &&
          sc.privileged !== true &&
          (sc.capabilities?.drop ?? []).includes("ALL") &&
          (sc.capabilities?.add ?? []).length === 0;
        return ok
          ? []
          : [
              {
                rule: this.name,
                message: `${where}: container ${c.name} must set allowPrivilegeEscalation false, drop ALL capabilities, not privileged`,
              },
            ];
      });
    },
  },
  {
    name: "no-shell-command",
    description: "containers get argv arrays: no shell, so no user string is ever parsed by one",
    check(pod, where) {
      return allContainers(pod).flatMap((c) => {
        const argv0 = c.command?.[0];
        const viaShell =
          argv0 !== undefined && (SHELLS.has(argv0) || (c.command ?? []).includes("-c"));
        return viaShell
          ? [
              {
                rule: this.name,
                message: `${where}: container ${c.name} runs through a shell (${argv0})`,
              },
            ]
          : [];
      });
    },
  },
  {
    name: "restart-never",
    description:
      "training pods use restartPolicy Never so the Job's podFailurePolicy sees every failure",
    check(pod, where) {
      return pod.restartPolicy === "Never"
        ? []
        : [
            {
              rule: this.name,
              message: `${where}: restartPolicy must be Never, got ${String(pod.restartPolicy)}`,
            },
          ];
    },
  },
  {
    name: "gpu-toleration",
    description: "pods that request GPUs tolerate the nvidia.com/gpu taint",
    check(pod, where) {
      const wantsGpu = pod.containers.some(
        (c) => c.resources?.limits?.["nvidia.com/gpu"] !== undefined,
      );
      const tolerates = (pod.tolerations ?? []).some((t) => t.key === "nvidia.com/gpu");
      return wantsGpu && !tolerates
        ? [
            {
              rule: this.name,
              message: `${where}: requests nvidia.com/gpu without tolerating the nvidia.com/gpu taint`,
            },
          ]
        : [];
    },
  },
  {
    name: "memory-limits",
    description: "every container has a memory limit (a runaway dataloader must not take the node)",
    check(pod, where) {
      return allContainers(pod)
        .filter((c) => c.resources?.limits?.memory === undefined)
        .map((c) => ({
          rule: this.name,
          message: `${where}: container ${c.name} has no memory limit`,
        }));
    },
  },
];

/** All violations of all rules for one pod spec. */
export function checkPodSpec(pod: IPodSpec, where: string): JobRuleViolation[] {
  return jobRules.flatMap((r) => r.check(pod, where));
}
