/**
 * The Kubernetes API is never reachable from the whole internet unless the stack owner
 * said so: no public endpoint open to 0.0.0.0/0 (AWS's default when publicAccessCidrs is
 * unset) and no security group rule letting 0.0.0.0/0 reach port 443. Policy config
 * `allowPublicApi: true` accepts it (mirrors `yunshi:apiAccessCidrs: ["0.0.0.0/0"]`).
 */
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { OPEN_CIDRS, asArray } from "./resource-helpers.ts";

export interface ApiExposureConfig {
  allowPublicApi?: boolean;
}

const API_PORT = 443;

function coversApiPort(from: unknown, to: unknown, protocol: unknown): boolean {
  if (protocol === "-1" || protocol === "all") return true;
  if (protocol !== undefined && protocol !== "tcp" && protocol !== "6") return false;
  const lo = Number(from ?? 0);
  const hi = Number(to ?? 65535);
  return lo <= API_PORT && API_PORT <= hi;
}

function openToInternet(cidrs: unknown, ipv6: unknown = undefined): boolean {
  return [...asArray(cidrs), ...asArray(ipv6)].some((c) => OPEN_CIDRS.has(String(c)));
}

/** Violations for one resource (empty when fine or not applicable). */
export function apiExposureProblems(type: string, props: Record<string, unknown>): string[] {
  switch (type) {
    case "aws:eks/cluster:Cluster": {
      const vpc = (props["vpcConfig"] ?? {}) as Record<string, unknown>;
      if (vpc["endpointPublicAccess"] === false) return [];
      const cidrs = asArray(vpc["publicAccessCidrs"]);
      if (cidrs.length === 0 || openToInternet(cidrs))
        return [
          "the public API endpoint is open to 0.0.0.0/0; set vpcConfig.publicAccessCidrs to your networks",
        ];
      return [];
    }
    case "eks:index:Cluster": {
      if (props["endpointPublicAccess"] === false) return [];
      const cidrs = asArray(props["publicAccessCidrs"]);
      if (cidrs.length === 0 || openToInternet(cidrs))
        return [
          "the public API endpoint is open to 0.0.0.0/0; set publicAccessCidrs (yunshi:apiAccessCidrs) to your networks",
        ];
      return [];
    }
    case "aws:ec2/securityGroup:SecurityGroup":
      return asArray(props["ingress"])
        .map((r) => r as Record<string, unknown>)
        .filter(
          (r) =>
            openToInternet(r["cidrBlocks"], r["ipv6CidrBlocks"]) &&
            coversApiPort(r["fromPort"], r["toPort"], r["protocol"]),
        )
        .map(() => `an ingress rule opens port ${API_PORT} to the internet`);
    case "aws:ec2/securityGroupRule:SecurityGroupRule":
      return props["type"] === "ingress" &&
        openToInternet(props["cidrBlocks"], props["ipv6CidrBlocks"]) &&
        coversApiPort(props["fromPort"], props["toPort"], props["protocol"])
        ? [`the ingress rule opens port ${API_PORT} to the internet`]
        : [];
    case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
      return openToInternet(props["cidrIpv4"], props["cidrIpv6"]) &&
        coversApiPort(props["fromPort"], props["toPort"], props["ipProtocol"])
        ? [`the ingress rule opens port ${API_PORT} to the internet`]
        : [];
    default:
      return [];
  }
}

export const clusterApiExposure: ResourceValidationPolicy = {
  name: "cluster-api-not-public",
  description:
    "The Kubernetes API (port 443) is not open to 0.0.0.0/0 unless allowPublicApi is set.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: { allowPublicApi: { type: "boolean", default: false } },
  },
  validateResource: (args: ResourceValidationArgs, reportViolation) => {
    if (args.getConfig<ApiExposureConfig>().allowPublicApi === true) return;
    for (const problem of apiExposureProblems(args.type, args.props))
      reportViolation(`${args.name}: ${problem}.`);
  },
};
