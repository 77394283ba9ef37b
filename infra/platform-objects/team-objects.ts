/**
 * One team's namespace objects as plain Kubernetes objects: the namespace (Pod Security
 * Admission `restricted`), the training ServiceAccount, a ResourceQuota and LimitRange, the
 * `yunshi-platform` ConfigMap that `submit` reads, and the minimal RBAC a team member needs
 * to submit, watch, read logs and cancel. Pure functions of plain arguments (no Pulumi), so a
 * real test cluster can apply exactly what `pulumi up` applies.
 */
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { ILimitRange } from "kubernetes-models/v1/LimitRange";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { IResourceQuota } from "kubernetes-models/v1/ResourceQuota";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { IRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import type { IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import {
  PLATFORM_CONFIGMAP_NAME,
  PlatformContextSchema,
  platformConfigMapData,
} from "../../jobs/platform.ts";
import { LOCAL_QUEUE_NAME } from "./kueue-objects.ts";
import { platformLimitsFields, type PlatformLimits } from "./platform-limits.ts";

export const TRAINING_SERVICE_ACCOUNT = "yunshi-training";
/** Name of the team's Role and RoleBinding. */
export const TEAM_ROLE_NAME = "yunshi-team";
/** Label that marks a namespace as a yunshi team namespace. */
export const TEAM_LABEL = "yunshi.dev/team";

/** The Kubernetes group bound to the team Role; map IAM principals to it with EKS access
 * entries (`kubernetesGroups`). EKS refuses groups that start with `system:`. */
export function teamGroup(namespace: string): string {
  return `yunshi-team-${namespace}`;
}

export interface TeamObjectsArgs {
  /** Team namespace (also the ClusterQueue name). */
  readonly namespace: string;
  /** Namespace-level GPU ceiling (requests.nvidia.com/gpu). */
  readonly maxGpus: number;
  readonly bucket: string;
  readonly region: string;
  readonly trainerImage: string;
  readonly checkpointAgentImage: string;
  /** S3-compatible endpoint for non-AWS stores (test clusters); absent on AWS. */
  readonly s3Endpoint?: string;
  /** What one run can ever be admitted with (platform-limits.ts); `submit` checks it. */
  readonly limits?: PlatformLimits;
}

export interface TeamObjects {
  readonly namespace: INamespace;
  readonly serviceAccount: IServiceAccount;
  /** Quantities as strings (the API's canonical form, and what Pulumi's inputs accept). */
  readonly resourceQuota: IResourceQuota & { spec: { hard: Record<string, string> } };
  readonly limitRange: ILimitRange & {
    spec: { limits: { type: string; defaultRequest: Record<string, string> }[] };
  };
  readonly platformConfigMap: IConfigMap;
  readonly role: IRole;
  readonly roleBinding: IRoleBinding;
}

/**
 * Pod Security Admission: `restricted` enforced. Training pods are rendered to comply
 * (non-root, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp).
 */
export const POD_SECURITY_LABELS = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/enforce-version": "latest",
  "pod-security.kubernetes.io/audit": "restricted",
  "pod-security.kubernetes.io/warn": "restricted",
} as const;

export function teamNamespace(namespace: string): INamespace {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: namespace, labels: { [TEAM_LABEL]: namespace, ...POD_SECURITY_LABELS } },
  };
}

/**
 * What `yunshi submit/status/logs/cancel` do, and nothing more: server-side apply (patch,
 * create) and delete of the run's Job or JobSet, Service and ConfigMap; read pods, their logs
 * and events; read Kueue Workloads and LocalQueues for the queue position. No exec, no
 * secrets, no RBAC or quota changes.
 */
export function teamRoleRules(): NonNullable<IRole["rules"]> {
  const manage = ["get", "list", "watch", "create", "patch", "delete"];
  const read = ["get", "list", "watch"];
  return [
    { apiGroups: ["batch"], resources: ["jobs"], verbs: manage },
    { apiGroups: ["jobset.x-k8s.io"], resources: ["jobsets"], verbs: manage },
    { apiGroups: [""], resources: ["services", "configmaps"], verbs: manage },
    { apiGroups: [""], resources: ["pods", "events"], verbs: read },
    { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    { apiGroups: ["kueue.x-k8s.io"], resources: ["workloads", "localqueues"], verbs: read },
  ];
}

export function teamObjects(args: TeamObjectsArgs): TeamObjects {
  const ns = args.namespace;
  // Parse with the same schema `submit` uses, so a bad value fails `pulumi up`, not a job.
  const platform = PlatformContextSchema.parse({
    namespace: ns,
    bucket: args.bucket,
    region: args.region,
    trainerImage: args.trainerImage,
    checkpointAgentImage: args.checkpointAgentImage,
    queue: LOCAL_QUEUE_NAME,
    serviceAccount: TRAINING_SERVICE_ACCOUNT,
    ...(args.s3Endpoint === undefined ? {} : { s3Endpoint: args.s3Endpoint }),
    ...(args.limits === undefined ? {} : platformLimitsFields(args.limits)),
  });
  return {
    namespace: teamNamespace(ns),
    serviceAccount: {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: TRAINING_SERVICE_ACCOUNT, namespace: ns },
      // Training pods never call the Kubernetes API; S3 credentials come from Pod Identity.
      automountServiceAccountToken: false,
    },
    resourceQuota: {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "yunshi", namespace: ns },
      spec: { hard: { "requests.nvidia.com/gpu": String(args.maxGpus), pods: "500" } },
    },
    limitRange: {
      apiVersion: "v1",
      kind: "LimitRange",
      metadata: { name: "yunshi", namespace: ns },
      // Every container gets a request so Kueue and the scheduler can count it.
      spec: { limits: [{ type: "Container", defaultRequest: { cpu: "100m", memory: "256Mi" } }] },
    },
    platformConfigMap: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: PLATFORM_CONFIGMAP_NAME, namespace: ns },
      data: platformConfigMapData(platform),
    },
    role: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: TEAM_ROLE_NAME, namespace: ns },
      rules: teamRoleRules(),
    },
    roleBinding: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: TEAM_ROLE_NAME, namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: TEAM_ROLE_NAME },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: teamGroup(ns) }],
    },
  };
}

/** The team's objects in apply order (namespace first). */
export function teamObjectList(args: TeamObjectsArgs): TeamObjects[keyof TeamObjects][] {
  const o = teamObjects(args);
  return [
    o.namespace,
    o.serviceAccount,
    o.resourceQuota,
    o.limitRange,
    o.platformConfigMap,
    o.role,
    o.roleBinding,
  ];
}
