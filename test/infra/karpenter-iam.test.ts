import { expect, it } from "vitest";
import { karpenterControllerPolicy } from "../../infra/karpenter-iam.ts";

const params = {
  partition: "aws",
  region: "us-east-1",
  accountId: "123456789012",
  clusterName: "yunshi-dev",
  interruptionQueueArn: "arn:aws:sqs:us-east-1:123456789012:yunshi-dev-karpenter",
  nodeRoleArn: "arn:aws:iam::123456789012:role/karpenter-node",
};

it("scopes every mutating EC2 and IAM action to resources this cluster owns", () => {
  const policy = karpenterControllerPolicy(params);
  const mutating = policy.Statement.filter((s) =>
    s.Action.some((a) =>
      /^(ec2:(CreateTags|TerminateInstances|DeleteLaunchTemplate|CreateLaunchTemplate)|iam:(Create|Delete|Add|Remove|Tag))/.test(
        a,
      ),
    ),
  );
  expect(mutating.length).toBeGreaterThanOrEqual(5);
  for (const s of mutating)
    expect(JSON.stringify(s.Condition), s.Sid).toContain("kubernetes.io/cluster/yunshi-dev");
});

it("passes only the node role, reads only its queue and describes only its cluster", () => {
  const byAction = (a: string) =>
    karpenterControllerPolicy(params).Statement.find((s) => s.Action.includes(a));
  expect(byAction("iam:PassRole")?.Resource).toBe(params.nodeRoleArn);
  expect(byAction("sqs:ReceiveMessage")?.Resource).toBe(params.interruptionQueueArn);
  expect(byAction("eks:DescribeCluster")?.Resource).toBe(
    "arn:aws:eks:us-east-1:123456789012:cluster/yunshi-dev",
  );
  const wildcard = karpenterControllerPolicy(params).Statement.filter((s) => s.Resource === "*");
  expect(
    wildcard
      .flatMap((s) => s.Action)
      .every((a) => /^(ec2:Describe|pricing:Get|iam:(Get|List)InstanceProfile)/.test(a)),
  ).toBe(true);
});
