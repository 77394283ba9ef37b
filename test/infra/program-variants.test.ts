/** The program with non-default choices: an explicitly public API, NAT per AZ, spot only. */
import { beforeAll, expect, it } from "vitest";
import { baseConfig, one, ofType, runProgram, type Recorded } from "./harness.ts";

let resources: Recorded[];

beforeAll(async () => {
  ({ resources } = await runProgram({
    ...baseConfig,
    "yunshi:apiAccessCidrs": JSON.stringify(["0.0.0.0/0"]),
    "yunshi:allowPublicApiAccess": "true",
    "yunshi:availabilityZones": "3",
    "yunshi:natGateways": "perAz",
    "yunshi:clusterName": "lab",
    "yunshi:createSpotServiceLinkedRole": "true",
    "yunshi:gpu": JSON.stringify({
      capacityTypes: ["spot"],
      instanceFamilies: ["p5"],
      allowWithoutEfa: true,
      maxGpus: 32,
    }),
    "yunshi:teams": JSON.stringify([{ name: "vision", spotGpus: 16 }]),
  }));
});

it("opens the API to the internet only because config says so", () => {
  expect(one(resources, "eks:index:Cluster", "cluster-eks").inputs["publicAccessCidrs"]).toEqual([
    "0.0.0.0/0",
  ]);
});

it("builds one NAT gateway and private route table per AZ", () => {
  expect(ofType(resources, "aws:ec2/natGateway:NatGateway")).toHaveLength(3);
  expect(
    one(resources, "aws:ec2/vpcEndpoint:VpcEndpoint", "network-s3").inputs["routeTableIds"],
  ).toHaveLength(3);
});

it("offers only the spot flavor and spot capacity", () => {
  expect(
    ofType(resources, "kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor").map((f) => f.name),
  ).toEqual(["kueue-flavor-spot"]);
  const pool = one(resources, "kubernetes:karpenter.sh/v1:NodePool", "pools-gpu-nodepool");
  const reqs = (
    pool.inputs["spec"] as {
      template: { spec: { requirements: { key: string; values: string[] }[] } };
    }
  ).template.spec.requirements;
  expect(reqs.find((r) => r.key === "karpenter.sh/capacity-type")?.values).toEqual(["spot"]);
  expect(reqs.find((r) => r.key === "karpenter.k8s.aws/instance-family")?.values).toEqual(["p5"]);
  const cq = one(resources, "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue", "team-vision-cq");
  const flavors = (cq.inputs["spec"] as { resourceGroups: { flavors: { name: string }[] }[] })
    .resourceGroups[0]!.flavors;
  expect(flavors.map((f) => f.name)).toEqual(["spot"]);
});

it("names the cluster and its repositories from config", () => {
  expect(one(resources, "eks:index:Cluster", "cluster-eks").inputs["name"]).toBe("lab");
  expect(
    ofType(resources, "aws:ecr/repository:Repository")
      .map((r) => r.inputs["name"])
      .sort(),
  ).toEqual(["lab/checkpoint-agent", "lab/trainer"]);
});

it("creates the Spot service-linked role only when asked", () => {
  expect(
    one(resources, "aws:iam/serviceLinkedRole:ServiceLinkedRole", "karpenter-spot").inputs[
      "awsServiceName"
    ],
  ).toBe("spot.amazonaws.com");
});
