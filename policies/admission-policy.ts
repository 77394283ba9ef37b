/**
 * The job rules (policies/job-rules.ts) as a ValidatingAdmissionPolicy and its binding
 * (admissionregistration.k8s.io/v1, Kubernetes ≥ 1.30): the guard inside the cluster for
 * Jobs and JobSets that do not come through `yunshi submit` (Argo CD, Flux, kubectl).
 *
 * Generated, never hand-written: each validation is one rule's CEL expression, wrapped to
 * run over every pod template of the object, with the rule's name and fix as its message.
 * The platform's limits (registry, GPUs per pod) are baked in as literals rather than read
 * from a params ConfigMap, because a team can edit ConfigMaps in its own namespace and
 * would then loosen its own guard. Pure: `pulumi up` (infra/) installs what this returns.
 */
import { jobRules, type JobRule, type RuleContext } from "./job-rules.ts";

export const ADMISSION_POLICY_NAME = "yunshi-training-workloads";
/** Team namespaces carry this label (infra/); the binding selects them by it. */
export const TEAM_NAMESPACE_LABEL = "yunshi.dev/team";

/** CEL: the pod specs of the object under admission (a Job or a JobSet). */
export const CEL_POD_SPECS =
  "object.kind == 'JobSet' ? (has(object.spec.replicatedJobs) ? object.spec.replicatedJobs.map(rj, rj.template.spec.template.spec) : []) : [object.spec.template.spec]";

export interface AdmissionPolicyArgs extends RuleContext {
  /** How violations are handled; `Deny` unless a rollout starts with `Warn`/`Audit`. */
  readonly validationActions?: readonly ("Deny" | "Warn" | "Audit")[];
}

/** The CEL expression that holds exactly when `rule` holds for the object under admission. */
export function celForRule(rule: JobRule, ctx: RuleContext): string {
  return rule.scope === "pod" ? `variables.podSpecs.all(p, ${rule.cel(ctx)})` : rule.cel();
}

export function admissionMessage(rule: JobRule): string {
  return `yunshi rule ${rule.name}: ${rule.description}. Fix: ${rule.fix}`;
}

export interface KubeObjectLiteral {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

export function admissionPolicyObjects(args: AdmissionPolicyArgs = {}): KubeObjectLiteral[] {
  const labels = {
    "app.kubernetes.io/managed-by": "yunshi",
    "app.kubernetes.io/part-of": "yunshi",
  };
  const policy: KubeObjectLiteral = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: ADMISSION_POLICY_NAME, labels },
    spec: {
      // An expression that cannot be evaluated denies: a guard that fails open is no guard.
      failurePolicy: "Fail",
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: ["batch"],
            apiVersions: ["v1"],
            operations: ["CREATE", "UPDATE"],
            resources: ["jobs"],
          },
          {
            apiGroups: ["jobset.x-k8s.io"],
            apiVersions: ["v1alpha2"],
            operations: ["CREATE", "UPDATE"],
            resources: ["jobsets"],
          },
        ],
      },
      variables: [{ name: "podSpecs", expression: CEL_POD_SPECS }],
      validations: jobRules.map((rule) => ({
        expression: celForRule(rule, args),
        message: admissionMessage(rule),
        reason: "Forbidden",
      })),
    },
  };
  const binding: KubeObjectLiteral = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: ADMISSION_POLICY_NAME, labels },
    spec: {
      policyName: ADMISSION_POLICY_NAME,
      validationActions: [...(args.validationActions ?? ["Deny"])],
      matchResources: {
        namespaceSelector: {
          matchExpressions: [{ key: TEAM_NAMESPACE_LABEL, operator: "Exists" }],
        },
      },
    },
  };
  return [policy, binding];
}
