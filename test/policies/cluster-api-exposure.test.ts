import { describe, expect, it } from "vitest";
import { clusterApiExposure } from "../../policies/cluster-api-exposure.ts";
import { validateResource } from "./harness.ts";

const check = (type: string, props: Record<string, unknown>, config = {}) =>
  validateResource(clusterApiExposure, type, props, config);

describe("cluster-api-not-public", () => {
  it("rejects a public EKS endpoint open to the internet, explicitly or by AWS default", async () => {
    expect(
      await check("aws:eks/cluster:Cluster", {
        vpcConfig: { endpointPublicAccess: true, publicAccessCidrs: ["0.0.0.0/0"] },
      }),
    ).toHaveLength(1);
    expect(
      await check("aws:eks/cluster:Cluster", { vpcConfig: { endpointPublicAccess: true } }),
    ).toHaveLength(1);
    expect(
      await check("eks:index:Cluster", { publicAccessCidrs: ["203.0.113.0/24", "0.0.0.0/0"] }),
    ).toEqual([expect.stringContaining("yunshi:apiAccessCidrs")]);
  });

  it("accepts a restricted or private endpoint", async () => {
    expect(
      await check("aws:eks/cluster:Cluster", {
        vpcConfig: { endpointPublicAccess: true, publicAccessCidrs: ["203.0.113.0/24"] },
      }),
    ).toEqual([]);
    expect(
      await check("aws:eks/cluster:Cluster", { vpcConfig: { endpointPublicAccess: false } }),
    ).toEqual([]);
  });

  it("rejects security-group ingress from anywhere that covers port 443", async () => {
    const open = { cidrBlocks: ["0.0.0.0/0"], fromPort: 443, toPort: 443, protocol: "tcp" };
    expect(await check("aws:ec2/securityGroup:SecurityGroup", { ingress: [open] })).toHaveLength(1);
    expect(
      await check("aws:ec2/securityGroupRule:SecurityGroupRule", { type: "ingress", ...open }),
    ).toHaveLength(1);
    expect(
      await check("aws:ec2/securityGroupRule:SecurityGroupRule", {
        type: "ingress",
        ipv6CidrBlocks: ["::/0"],
        fromPort: 0,
        toPort: 0,
        protocol: "-1",
      }),
    ).toHaveLength(1);
    expect(
      await check("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {
        cidrIpv4: "0.0.0.0/0",
        fromPort: 1,
        toPort: 65535,
        ipProtocol: "tcp",
      }),
    ).toHaveLength(1);
  });

  it("allows other ports, egress and private sources", async () => {
    expect(
      await check("aws:ec2/securityGroup:SecurityGroup", {
        ingress: [{ cidrBlocks: ["0.0.0.0/0"], fromPort: 80, toPort: 80, protocol: "tcp" }],
      }),
    ).toEqual([]);
    expect(
      await check("aws:ec2/securityGroupRule:SecurityGroupRule", {
        type: "egress",
        cidrBlocks: ["0.0.0.0/0"],
        fromPort: 0,
        toPort: 0,
        protocol: "-1",
      }),
    ).toEqual([]);
    expect(
      await check("aws:ec2/securityGroupRule:SecurityGroupRule", {
        type: "ingress",
        cidrBlocks: ["10.0.0.0/16"],
        fromPort: 443,
        toPort: 443,
        protocol: "tcp",
      }),
    ).toEqual([]);
  });

  it("accepts an open API when the policy config allows it", async () => {
    expect(
      await check(
        "aws:eks/cluster:Cluster",
        { vpcConfig: { publicAccessCidrs: ["0.0.0.0/0"] } },
        { allowPublicApi: true },
      ),
    ).toEqual([]);
  });
});
