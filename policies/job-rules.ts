/**
 * Rules every training workload must satisfy. One definition, three gates:
 * - `submit`/`render`/`validate` check the rendered objects before anything is printed or sent;
 * - the CrossGuard pack (policies/training-workloads.ts) checks objects that reach the cluster
 *   through Pulumi;
 * - a ValidatingAdmissionPolicy (policies/admission-policy.ts) checks, inside the cluster,
 *   whatever else applies a Job or JobSet to a team namespace: Argo CD, Flux, kubectl.
 *
 * Each rule carries both forms, a TypeScript check and a CEL expression, side by side, so
 * that a change to one is a visible change to the other; test/policies/admission-policy.test.ts
 * runs both on the same objects and asserts the same verdicts (issue 14).
 *
 * CEL here is the portable subset Kubernetes and the reference evaluators share: `has()`,
 * `all`/`exists`/`map`, `in`, `size`, `startsWith`, `matches`. Absent fields are guarded with
 * `has()`, because a missing key is a runtime error in CEL (the policy would then deny by
 * its failure policy, with a confusing message).
 */
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";

export interface JobRuleViolation {
  readonly rule: string;
  readonly message: string;
}

/** Platform limits some rules need; a rule whose setting is absent admits everything. */
export interface RuleContext {
  /** Image references must start with `<registry>/` (the platform's ECR registry). */
  readonly registry?: string;
  /** The most `nvidia.com/gpu` one container may ask for (the largest GPU node). */
  readonly maxGpusPerPod?: number;
}

interface RuleBase {
  /** kebab-case, stable: it appears in messages, policy reports and the admission policy. */
  readonly name: string;
  readonly description: string;
  /** What to do about a violation, for the person who sees it. */
  readonly fix: string;
}

/** A rule over one pod spec. Its CEL expression sees the pod spec as `p`. */
export interface PodRule extends RuleBase {
  readonly scope: "pod";
  check(pod: IPodSpec, where: string, ctx: RuleContext): JobRuleViolation[];
  cel(ctx: RuleContext): string;
}

/** A rule over the whole Job or JobSet. Its CEL expression sees it as `object`. */
export interface WorkloadRule extends RuleBase {
  readonly scope: "workload";
  check(workload: Workload, where: string): JobRuleViolation[];
  cel(): string;
}

export type JobRule = PodRule | WorkloadRule;

/** The parts of a Job or JobSet the rules read. */
export interface Workload {
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly { readonly kind?: string; readonly name?: string }[];
  };
  readonly spec?: unknown;
}

const allContainers = (pod: IPodSpec): IContainer[] => [
  ...(pod.initContainers ?? []),
  ...pod.containers,
];

/** CEL: the same list as allContainers, for a pod spec `p`. */
const CEL_CONTAINERS = "(has(p.initContainers) ? p.initContainers : []) + p.containers";

const SHELLS = ["sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/env", "dash", "zsh", "ash"];

const celString = (s: string): string => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
const celList = (xs: readonly string[]): string => `[${xs.map(celString).join(", ")}]`;

const GPU = "nvidia.com/gpu";
export const QUEUE_LABEL = "kueue.x-k8s.io/queue-name";

function violation(rule: RuleBase, message: string): JobRuleViolation {
  return { rule: rule.name, message: `${message}. Fix: ${rule.fix}` };
}

/** A per-container rule: `ok` and `celOk` (over a container `c`) must say the same. */
function containerRule(
  base: RuleBase & {
    ok(c: IContainer, ctx: RuleContext): boolean;
    celOk(ctx: RuleContext): string;
    what(c: IContainer, ctx: RuleContext): string;
  },
): PodRule {
  return {
    scope: "pod",
    name: base.name,
    description: base.description,
    fix: base.fix,
    check(pod, where, ctx) {
      return allContainers(pod)
        .filter((c) => !base.ok(c, ctx))
        .map((c) => violation(this, `${where}: container ${c.name} ${base.what(c, ctx)}`));
    },
    cel: (ctx) => `(${CEL_CONTAINERS}).all(c, ${base.celOk(ctx)})`,
  };
}

const gpuLimitOf = (c: IContainer): string | undefined => {
  // A quantity: a string in objects from YAML or the API, a number when built in code.
  const v = c.resources?.limits?.[GPU];
  return v === undefined ? undefined : String(v);
};

export const jobRules: readonly JobRule[] = [
  {
    scope: "pod",
    name: "run-as-non-root",
    description: "pods run as a non-root user with the RuntimeDefault seccomp profile",
    fix: "set securityContext runAsNonRoot: true, runAsUser: 1000 and seccompProfile RuntimeDefault, and no container override to root (yunshi render does this)",
    check(pod, where) {
      const sc = pod.securityContext;
      const podOk =
        sc?.runAsNonRoot === true &&
        (sc.runAsUser === undefined || sc.runAsUser > 0) &&
        sc.seccompProfile?.type === "RuntimeDefault";
      // A container's own securityContext overrides the pod's: it must not undo it.
      const overrides = allContainers(pod).filter(
        (c) => c.securityContext?.runAsUser === 0 || c.securityContext?.runAsNonRoot === false,
      );
      return [
        ...(podOk
          ? []
          : [
              violation(
                this,
                `${where}: pod must set runAsNonRoot, a non-zero runAsUser and seccomp RuntimeDefault`,
              ),
            ]),
        ...overrides.map((c) => violation(this, `${where}: container ${c.name} runs as root`)),
      ];
    },
    cel: () =>
      [
        "has(p.securityContext) && has(p.securityContext.runAsNonRoot) && p.securityContext.runAsNonRoot == true",
        "(!has(p.securityContext.runAsUser) || p.securityContext.runAsUser > 0)",
        "has(p.securityContext.seccompProfile) && p.securityContext.seccompProfile.type == 'RuntimeDefault'",
        `(${CEL_CONTAINERS}).all(c, !has(c.securityContext) || ((!has(c.securityContext.runAsUser) || c.securityContext.runAsUser != 0) && (!has(c.securityContext.runAsNonRoot) || c.securityContext.runAsNonRoot != false)))`,
      ].join(" && "),
  },
  containerRule({
    name: "no-privilege",
    description: "no container may escalate privileges, run privileged or keep capabilities",
    fix: "set allowPrivilegeEscalation: false and capabilities.drop: [ALL], and never privileged",
    ok: (c) => {
      const sc = c.securityContext;
      return (
        sc?.allowPrivilegeEscalation === false &&
        sc.privileged !== true &&
        (sc.capabilities?.drop ?? []).includes("ALL") &&
        (sc.capabilities?.add ?? []).length === 0
      );
    },
    celOk: () =>
      [
        "has(c.securityContext) && has(c.securityContext.allowPrivilegeEscalation) && c.securityContext.allowPrivilegeEscalation == false",
        "(!has(c.securityContext.privileged) || c.securityContext.privileged != true)",
        "has(c.securityContext.capabilities) && has(c.securityContext.capabilities.drop) && 'ALL' in c.securityContext.capabilities.drop",
        "(!has(c.securityContext.capabilities.add) || size(c.securityContext.capabilities.add) == 0)",
      ].join(" && "),
    what: () => "must set allowPrivilegeEscalation false, drop ALL capabilities, not be privileged",
  }),
  containerRule({
    name: "read-only-root",
    description: "containers run with a read-only root filesystem (writes go to mounted volumes)",
    fix: "set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the program writes",
    ok: (c) => c.securityContext?.readOnlyRootFilesystem === true,
    celOk: () =>
      "has(c.securityContext) && has(c.securityContext.readOnlyRootFilesystem) && c.securityContext.readOnlyRootFilesystem == true",
    what: () => "must set readOnlyRootFilesystem true",
  }),
  containerRule({
    name: "no-shell-command",
    description: "containers get argv arrays: no shell, so no user string is ever parsed by one",
    fix: "run the program directly with command/args arrays, not through sh -c",
    ok: (c) => {
      const argv0 = c.command?.[0];
      return argv0 === undefined || (!SHELLS.includes(argv0) && !(c.command ?? []).includes("-c"));
    },
    celOk: () =>
      `!has(c.command) || size(c.command) == 0 || (!(c.command[0] in ${celList(SHELLS)}) && !('-c' in c.command))`,
    what: (c) => `runs through a shell (${c.command?.[0] ?? ""})`,
  }),
  {
    scope: "pod",
    name: "restart-never",
    description:
      "training pods use restartPolicy Never so the Job's podFailurePolicy sees every failure",
    fix: "set the pod template's restartPolicy: Never",
    check(pod, where) {
      return pod.restartPolicy === "Never"
        ? []
        : [
            violation(
              this,
              `${where}: restartPolicy must be Never, got ${String(pod.restartPolicy)}`,
            ),
          ];
    },
    cel: () => "has(p.restartPolicy) && p.restartPolicy == 'Never'",
  },
  {
    scope: "pod",
    name: "gpu-toleration",
    description: "pods that request GPUs tolerate the nvidia.com/gpu taint",
    fix: `add a toleration for the ${GPU} taint (key ${GPU}, operator Exists, effect NoSchedule)`,
    check(pod, where) {
      const wantsGpu = pod.containers.some((c) => gpuLimitOf(c) !== undefined);
      const tolerates = (pod.tolerations ?? []).some((t) => t.key === GPU);
      return wantsGpu && !tolerates
        ? [violation(this, `${where}: requests ${GPU} without tolerating the ${GPU} taint`)]
        : [];
    },
    cel: () =>
      `!p.containers.exists(c, has(c.resources) && has(c.resources.limits) && '${GPU}' in c.resources.limits) || (has(p.tolerations) && p.tolerations.exists(t, has(t.key) && t.key == '${GPU}'))`,
  },
  containerRule({
    name: "memory-limits",
    description: "every container has a memory limit (a runaway dataloader must not take the node)",
    fix: "set resources.limits.memory on every container",
    ok: (c) => c.resources?.limits?.memory !== undefined,
    celOk: () => "has(c.resources) && has(c.resources.limits) && 'memory' in c.resources.limits",
    what: () => "has no memory limit",
  }),
  {
    scope: "pod",
    name: "no-host-access",
    description:
      "pods use no hostPath volumes, host namespaces or host ports (the node is not theirs)",
    fix: "remove hostPath volumes, hostNetwork/hostPID/hostIPC and hostPort; use emptyDir and S3",
    check(pod, where) {
      const problems = [
        ...(pod.volumes ?? [])
          .filter((v) => v.hostPath !== undefined)
          .map((v) => `volume ${v.name} is a hostPath`),
        ...(["hostNetwork", "hostPID", "hostIPC"] as const)
          .filter((k) => pod[k] === true)
          .map((k) => `${k} is true`),
        ...allContainers(pod)
          .filter((c) => (c.ports ?? []).some((p) => p.hostPort !== undefined && p.hostPort !== 0))
          .map((c) => `container ${c.name} uses a hostPort`),
      ];
      return problems.map((p) => violation(this, `${where}: ${p}`));
    },
    cel: () =>
      [
        "(!has(p.volumes) || p.volumes.all(v, !has(v.hostPath)))",
        "(!has(p.hostNetwork) || p.hostNetwork != true)",
        "(!has(p.hostPID) || p.hostPID != true)",
        "(!has(p.hostIPC) || p.hostIPC != true)",
        `(${CEL_CONTAINERS}).all(c, !has(c.ports) || c.ports.all(q, !has(q.hostPort) || q.hostPort == 0))`,
      ].join(" && "),
  },
  containerRule({
    name: "gpu-limit",
    description: "no container asks for more GPUs than the platform's largest GPU node has",
    fix: "lower resources.gpusPerNode in exp.yaml (spread over more nodes), or raise the platform's GPU limit",
    ok: (c, ctx) => {
      const v = gpuLimitOf(c);
      if (v === undefined || ctx.maxGpusPerPod === undefined) return true;
      return /^[0-9]+$/.test(v) && Number(v) <= ctx.maxGpusPerPod;
    },
    celOk: (ctx) =>
      ctx.maxGpusPerPod === undefined
        ? "true"
        : `!has(c.resources) || !has(c.resources.limits) || !('${GPU}' in c.resources.limits) || (string(c.resources.limits['${GPU}']).matches('^[0-9]+$') && int(string(c.resources.limits['${GPU}'])) <= ${ctx.maxGpusPerPod})`,
    what: (c, ctx) =>
      `asks for ${gpuLimitOf(c) ?? "?"} ${GPU}, more than the platform's ${ctx.maxGpusPerPod ?? "?"}`,
  }),
  containerRule({
    name: "platform-registry",
    description: "images come only from the platform's registry (built and scanned by pulumi up)",
    fix: "use the trainer and agent images of the platform (yunshi render puts them in), or push yours to the platform's registry",
    ok: (c, ctx) => ctx.registry === undefined || (c.image ?? "").startsWith(`${ctx.registry}/`),
    celOk: (ctx) =>
      ctx.registry === undefined
        ? "true"
        : `has(c.image) && c.image.startsWith(${celString(`${ctx.registry}/`)})`,
    what: (c, ctx) => `uses image ${c.image ?? "(none)"}, not from ${ctx.registry ?? "?"}`,
  }),
  {
    scope: "workload",
    name: "kueue-queue",
    description: "Jobs and JobSets name a Kueue queue, so GPU quota applies to them",
    fix: `set the label ${QUEUE_LABEL} to the namespace's LocalQueue (yunshi render does this)`,
    check(w, where) {
      // A JobSet's child Jobs are admitted through their JobSet's Workload.
      if ((w.metadata?.ownerReferences ?? []).some((r) => r.kind === "JobSet")) return [];
      const q = w.metadata?.labels?.[QUEUE_LABEL];
      return q !== undefined && q !== ""
        ? []
        : [violation(this, `${where}: has no ${QUEUE_LABEL} label`)];
    },
    cel: () =>
      `(has(object.metadata.ownerReferences) && object.metadata.ownerReferences.exists(r, r.kind == 'JobSet')) || (has(object.metadata.labels) && '${QUEUE_LABEL}' in object.metadata.labels && object.metadata.labels['${QUEUE_LABEL}'] != '')`,
  },
];

const podRules = jobRules.filter((r): r is PodRule => r.scope === "pod");
const workloadRules = jobRules.filter((r): r is WorkloadRule => r.scope === "workload");

/** All violations of the pod rules for one pod spec. */
export function checkPodSpec(
  pod: IPodSpec,
  where: string,
  ctx: RuleContext = {},
): JobRuleViolation[] {
  return podRules.flatMap((r) => r.check(pod, where, ctx));
}

/** The pod specs of a Job or JobSet, each with the path it sits at. */
export function podSpecsOfWorkload(w: Workload): [string, IPodSpec][] {
  const spec = w.spec as Record<string, unknown> | undefined;
  if (spec === undefined) return [];
  const name = `${w.kind ?? "?"}/${w.metadata?.name ?? "?"}`;
  if (w.kind === "Job") {
    const pod = (spec["template"] as { spec?: IPodSpec } | undefined)?.spec;
    return pod === undefined ? [] : [[`${name} spec.template.spec`, pod]];
  }
  if (w.kind === "JobSet") {
    const jobs = (spec["replicatedJobs"] ?? []) as {
      name?: string;
      template?: { spec?: { template?: { spec?: IPodSpec } } };
    }[];
    return jobs.flatMap((j, i): [string, IPodSpec][] => {
      const pod = j.template?.spec?.template?.spec;
      return pod === undefined
        ? []
        : [[`${name} spec.replicatedJobs[${i}] (${j.name ?? "?"}) pod template`, pod]];
    });
  }
  return [];
}

/** All violations of all rules for a Job or JobSet (other kinds have none). */
export function checkWorkload(w: Workload, ctx: RuleContext = {}): JobRuleViolation[] {
  if (w.kind !== "Job" && w.kind !== "JobSet") return [];
  const name = `${w.kind}/${w.metadata?.name ?? "?"}`;
  return [
    ...workloadRules.flatMap((r) => r.check(w, name)),
    ...podSpecsOfWorkload(w).flatMap(([where, pod]) => checkPodSpec(pod, where, ctx)),
  ];
}
