/** Helm charts are installed at an exact version: a floating chart changes the cluster on
 * the next `pulumi up` without any diff in this repository. */
import type { ResourceValidationPolicy } from "@pulumi/policy";

const HELM_TYPES = new Set(["kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"]);
const EXACT_VERSION = /^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

export function helmPinProblems(type: string, props: Record<string, unknown>): string[] {
  if (!HELM_TYPES.has(type)) return [];
  const version = props["version"];
  if (typeof version !== "string" || version === "")
    return ["has no chart version; pin one in infra/versions.ts"];
  if (!EXACT_VERSION.test(version))
    return [`chart version "${version}" is a range or tag; pin an exact version such as 1.2.3`];
  return [];
}

export const helmChartPinned: ResourceValidationPolicy = {
  name: "helm-chart-pinned",
  description: "Helm releases and charts name an exact chart version.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    for (const problem of helmPinProblems(args.type, args.props))
      reportViolation(`${args.name} ${problem}.`);
  },
};
