/**
 * `pulumi up` and `pulumi destroy` order, proven on the dependency graph the mocks record.
 * Destroy deletes a resource only after everything that depends on it: so every NodePool and
 * EC2NodeClass must (transitively) depend on each permission and wire Karpenter needs to
 * drain and terminate their nodes. Otherwise the controller's policy can go first, the
 * finalizers hang and GPU instances keep running after the stack is gone. On up, the same
 * edges make the controller start only once its credentials exist.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { dependencyPath } from "./dependency-graph.ts";
import { baseConfig, one, ofType, runProgram, type Recorded } from "./harness.ts";

let resources: Recorded[];
beforeAll(async () => {
  ({ resources } = await runProgram(baseConfig));
});

/** Everything Karpenter needs to launch and to terminate nodes. */
function karpenterNeeds(): Recorded[] {
  const karpenter = (r: Recorded) => r.urn.includes("yunshi:infra:Karpenter");
  return [
    ...ofType(resources, "aws:iam/policy:Policy").filter(karpenter),
    ...ofType(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter(karpenter),
    one(resources, "aws:iam/role:Role", "karpenter-controller"),
    one(resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "karpenter-controller"),
    one(resources, "aws:eks/accessEntry:AccessEntry", "karpenter-node"),
    one(resources, "aws:sqs/queuePolicy:QueuePolicy", "karpenter-interruption-queue-policy"),
    ...ofType(resources, "aws:cloudwatch/eventTarget:EventTarget"),
    one(resources, "kubernetes:helm.sh/v3:Release", "karpenter-crd"),
    one(resources, "kubernetes:helm.sh/v3:Release", "karpenter"),
  ];
}

describe("Karpenter outlives the nodes it manages", () => {
  it("lists what it needs: 6 policies and their attachments, 4 node-role attachments, queue wiring", () => {
    const needs = karpenterNeeds();
    expect(needs.filter((r) => r.type === "aws:iam/policy:Policy")).toHaveLength(6);
    expect(
      needs.filter((r) => r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment"),
    ).toHaveLength(10);
    expect(needs.filter((r) => r.type === "aws:cloudwatch/eventTarget:EventTarget")).toHaveLength(
      5,
    );
  });

  const pools = () => [
    ...ofType(resources, "kubernetes:karpenter.sh/v1:NodePool"),
    ...ofType(resources, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"),
  ];

  it("every NodePool and EC2NodeClass depends on each of them (deleted first on destroy)", () => {
    expect(
      pools()
        .map((p) => p.name)
        .sort(),
    ).toEqual([
      "pools-cpu-nodeclass",
      "pools-cpu-nodepool",
      "pools-gpu-nodeclass",
      "pools-gpu-nodepool",
    ]);
    const missing = pools().flatMap((pool) =>
      karpenterNeeds()
        .filter((need) => dependencyPath(resources, pool, need) === undefined)
        .map((need) => `${pool.name} ↛ ${need.type} ${need.name}`),
    );
    expect(missing).toEqual([]);
  });

  it("the controller starts only once its credentials and the interruption wiring exist", () => {
    const release = one(resources, "kubernetes:helm.sh/v3:Release", "karpenter");
    const missing = karpenterNeeds()
      .filter((n) => n !== release)
      .filter((need) => dependencyPath(resources, release, need) === undefined)
      .map((need) => `${need.type} ${need.name}`);
    expect(missing).toEqual([]);
  });

  it("shows the path, e.g. NodePool → release → controller policy attachment", () => {
    const pool = one(resources, "kubernetes:karpenter.sh/v1:NodePool", "pools-gpu-nodepool");
    const attachment = one(
      resources,
      "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
      "karpenter-NodeLifecyclePolicy",
    );
    expect(dependencyPath(resources, pool, attachment)).toEqual([
      "pools-gpu-nodepool",
      "karpenter",
      "karpenter-NodeLifecyclePolicy",
    ]);
  });
});

describe("queues and CRDs", () => {
  it("team queues wait for Kueue, Kueue waits for the JobSet CRDs, pools for Karpenter's CRDs", () => {
    const lq = one(resources, "kubernetes:kueue.x-k8s.io/v1beta2:LocalQueue", "team-vision-lq");
    const kueue = one(resources, "kubernetes:helm.sh/v3:Release", "kueue");
    const jobsetCrds = one(resources, "kubernetes:yaml/v2:ConfigFile", "jobset-crds");
    const ns = one(resources, "kubernetes:core/v1:Namespace", "team-vision-ns");
    expect(dependencyPath(resources, lq, kueue)).toBeDefined();
    expect(dependencyPath(resources, lq, ns)).toBeDefined();
    expect(dependencyPath(resources, kueue, jobsetCrds)).toBeDefined();
    const gpuPool = one(resources, "kubernetes:karpenter.sh/v1:NodePool", "pools-gpu-nodepool");
    const karpenterCrds = one(resources, "kubernetes:helm.sh/v3:Release", "karpenter-crd");
    expect(dependencyPath(resources, gpuPool, karpenterCrds)).toBeDefined();
  });
});
