/**
 * Training Jobs and JobSets that reach the cluster through Pulumi obey the same job rules
 * `submit` enforces (policies/job-rules.ts): one definition, two gates.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { checkPodSpec } from "./job-rules.ts";

interface PodTemplate {
  spec?: IPodSpec;
}

/** Pod specs in a Job or JobSet's props, with a path naming where each came from. */
export function podSpecsOf(type: string, props: Record<string, unknown>): [string, IPodSpec][] {
  const spec = props["spec"] as Record<string, unknown> | undefined;
  if (spec === undefined) return [];
  if (type === "kubernetes:batch/v1:Job") {
    const pod = (spec["template"] as PodTemplate | undefined)?.spec;
    return pod === undefined ? [] : [["spec.template.spec", pod]];
  }
  if (type.startsWith("kubernetes:jobset.x-k8s.io/") && type.endsWith(":JobSet")) {
    const jobs = (spec["replicatedJobs"] ?? []) as {
      name?: string;
      template?: { spec?: { template?: PodTemplate } };
    }[];
    return jobs.flatMap((j, i) => {
      const pod = j.template?.spec?.template?.spec;
      return pod === undefined
        ? []
        : [[`spec.replicatedJobs[${i}] (${j.name ?? "?"}).template.spec.template.spec`, pod]];
    });
  }
  return [];
}

export const trainingWorkloads: ResourceValidationPolicy = {
  name: "training-job-rules",
  description: "Jobs and JobSets follow the yunshi job rules (policies/job-rules.ts).",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    for (const [where, pod] of podSpecsOf(args.type, args.props))
      for (const v of checkPodSpec(pod, `${args.name} ${where}`))
        reportViolation(`[${v.rule}] ${v.message}`);
  },
};
