/** ECR repositories scan images on push and keep release tags immutable, so the image ref
 * in the platform ConfigMap always means the image that was scanned. */
import type { ResourceValidationPolicy } from "@pulumi/policy";

const IMMUTABLE = new Set(["IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"]);

export function ecrProblems(type: string, props: Record<string, unknown>): string[] {
  if (type !== "aws:ecr/repository:Repository") return [];
  const problems: string[] = [];
  const scan = props["imageScanningConfiguration"] as { scanOnPush?: boolean } | undefined;
  if (scan?.scanOnPush !== true)
    problems.push("must set imageScanningConfiguration.scanOnPush: true");
  const mutability = props["imageTagMutability"];
  if (typeof mutability !== "string" || !IMMUTABLE.has(mutability))
    problems.push(
      `imageTagMutability must be IMMUTABLE or IMMUTABLE_WITH_EXCLUSION (got ${JSON.stringify(mutability ?? "MUTABLE")})`,
    );
  return problems;
}

export const ecrRepositoryHardened: ResourceValidationPolicy = {
  name: "ecr-scan-on-push-immutable",
  description: "ECR repositories scan on push and have immutable tags.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    for (const problem of ecrProblems(args.type, args.props))
      reportViolation(`${args.name}: ${problem}.`);
  },
};
