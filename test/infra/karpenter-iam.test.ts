/**
 * The Karpenter controller's IAM, two ways:
 * - statement by statement against a transcription of Karpenter's v1.12 reference
 *   CloudFormation (test/infra/fixtures), so a drift from the reference fails here;
 * - evaluated with an IAM policy simulator: what the controller can and cannot do.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  karpenterControllerPolicies,
  type PolicyDocument,
  type PolicyStatement,
} from "../../infra/karpenter-iam.ts";
import { decide } from "./iam-simulator.ts";

const params = {
  partition: "aws",
  region: "us-east-1",
  accountId: "123456789012",
  clusterName: "yunshi-dev",
  interruptionQueueArn: "arn:aws:sqs:us-east-1:123456789012:yunshi-dev-karpenter",
  nodeRoleArn: "arn:aws:iam::123456789012:role/karpenter-node",
};

const reference = JSON.parse(
  readFileSync(
    new URL("./fixtures/karpenter-v1.12-controller-policies.json", import.meta.url),
    "utf8",
  ),
) as { policies: Record<string, PolicyDocument> };

/** The reference with its placeholders filled in, as plain data. */
function referenceFor(p: typeof params): Record<string, PolicyDocument> {
  const text = JSON.stringify(reference.policies).replace(
    /\{(partition|region|accountId|clusterName|interruptionQueueArn|nodeRoleArn)\}/g,
    (_, key: keyof typeof params) => p[key],
  );
  return JSON.parse(text) as Record<string, PolicyDocument>;
}

/** Order-insensitive form of a statement: sets as sorted arrays. */
function normalized(s: PolicyStatement): unknown {
  const sorted = (v: string | string[]) => [...(Array.isArray(v) ? v : [v])].sort();
  const condition = Object.fromEntries(
    Object.entries(s.Condition ?? {}).map(([op, kv]) => [
      op,
      Object.fromEntries(Object.entries(kv).map(([k, v]) => [k, sorted(v)])),
    ]),
  );
  return { ...s, Action: sorted(s.Action), Resource: sorted(s.Resource), Condition: condition };
}

describe("controller policies against the v1.12 reference", () => {
  const ours = karpenterControllerPolicies(params);
  const theirs = referenceFor(params);

  it("has the reference's managed policies", () => {
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
  });

  for (const [name, doc] of Object.entries(referenceFor(params)))
    it(`${name}: same statements, actions, resources and conditions`, () => {
      const mine = ours[name as keyof typeof ours];
      expect(mine.Statement.map((s) => s.Sid)).toEqual(doc.Statement.map((s) => s.Sid));
      for (const [i, s] of doc.Statement.entries())
        expect(normalized(mine.Statement[i]!), s.Sid).toEqual(normalized(s));
    });

  it("each policy fits IAM's 6,144-character limit for a managed policy", () => {
    for (const [name, doc] of Object.entries(ours))
      expect(JSON.stringify(doc).replace(/\s/g, "").length, name).toBeLessThanOrEqual(6144);
  });
});

describe("controller permissions, evaluated", () => {
  const policies = Object.values(karpenterControllerPolicies(params));
  const region = { "aws:RequestedRegion": "us-east-1" };
  const profile = "arn:aws:iam::123456789012:instance-profile/some-profile";
  /** The tags Karpenter puts on instance profiles it creates. */
  const ownTags = {
    "aws:RequestTag/kubernetes.io/cluster/yunshi-dev": "owned",
    "aws:RequestTag/eks:eks-cluster-name": "yunshi-dev",
    "aws:RequestTag/topology.kubernetes.io/region": "us-east-1",
    "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "gpu",
  };

  it("may read instance status (health checks are silently off without it)", async () => {
    expect(
      await decide(policies, {
        action: "ec2:DescribeInstanceStatus",
        resource: "*",
        context: region,
      }),
    ).toBe("Allowed");
  });

  it("cannot take over an instance profile it does not own by re-tagging it", async () => {
    expect(
      await decide(policies, {
        action: "iam:TagInstanceProfile",
        resource: profile,
        context: ownTags,
      }),
    ).toBe("ImplicitlyDenied");
    const owned = {
      ...ownTags,
      "aws:ResourceTag/kubernetes.io/cluster/yunshi-dev": "owned",
      "aws:ResourceTag/topology.kubernetes.io/region": "us-east-1",
      "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "gpu",
    };
    expect(
      await decide(policies, {
        action: "iam:TagInstanceProfile",
        resource: profile,
        context: owned,
      }),
    ).toBe("Allowed");
  });

  it("terminates only instances of this cluster's NodePools", async () => {
    const instance = "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0";
    const tags = (cluster: string) => ({
      [`aws:ResourceTag/kubernetes.io/cluster/${cluster}`]: "owned",
      "aws:ResourceTag/karpenter.sh/nodepool": "gpu",
    });
    const terminate = (context: Record<string, string>) =>
      decide(policies, { action: "ec2:TerminateInstances", resource: instance, context });
    expect(await terminate(tags("yunshi-dev"))).toBe("Allowed");
    expect(await terminate(tags("someone-else"))).toBe("ImplicitlyDenied");
    expect(await terminate({})).toBe("ImplicitlyDenied");
  });

  it("passes only the node role, and only to EC2", async () => {
    const pass = (resource: string, service: string) =>
      decide(policies, {
        action: "iam:PassRole",
        resource,
        context: { "iam:PassedToService": service },
      });
    expect(await pass(params.nodeRoleArn, "ec2.amazonaws.com")).toBe("Allowed");
    expect(await pass("arn:aws:iam::123456789012:role/admin", "ec2.amazonaws.com")).toBe(
      "ImplicitlyDenied",
    );
    expect(await pass(params.nodeRoleArn, "lambda.amazonaws.com")).toBe("ImplicitlyDenied");
  });

  it("reads EC2 only in its own region", async () => {
    expect(
      await decide(policies, {
        action: "ec2:DescribeInstances",
        resource: "*",
        context: { "aws:RequestedRegion": "eu-west-1" },
      }),
    ).toBe("ImplicitlyDenied");
  });
});
