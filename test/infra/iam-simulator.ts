/**
 * A thin wrapper over @cloud-copilot/iam-simulate: evaluate one request against identity
 * policies (and optionally a resource policy) the way IAM does, including policy variables,
 * condition operators and explicit denies. Tests assert on decisions, not on policy text.
 */
import { runSimulation, type Simulation } from "@cloud-copilot/iam-simulate";

export const SIM_ACCOUNT = "123456789012";

export interface SimRequest {
  readonly action: string;
  readonly resource: string;
  /** Request context: `aws:PrincipalTag/...`, `aws:ResourceTag/...`, `s3:prefix`, ... */
  readonly context?: Record<string, string | string[]>;
  readonly principal?: string;
}

export type Decision = "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied";

export async function decide(
  identityPolicies: readonly unknown[],
  req: SimRequest,
  resourcePolicy?: unknown,
): Promise<Decision> {
  const simulation = {
    identityPolicies: identityPolicies.map((policy, i) => ({ name: `p${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy,
    request: {
      action: req.action,
      principal: req.principal ?? `arn:aws:sts::${SIM_ACCOUNT}:assumed-role/subject/eks-session`,
      resource: { accountId: SIM_ACCOUNT, resource: req.resource },
      contextVariables: { "aws:SecureTransport": "true", ...req.context },
    },
  } as unknown as Simulation;
  const result = (await runSimulation(simulation, {})) as {
    resultType?: string;
    overallResult?: string;
    errors?: unknown;
  };
  if (result.resultType === "error" || result.overallResult === undefined)
    throw new Error(`simulation failed: ${JSON.stringify(result).slice(0, 800)}`);
  return result.overallResult as Decision;
}
