/**
 * Karpenter: the node role its instances use (with an EC2_LINUX access entry so they join),
 * the interruption queue, the controller's IAM role through Pod Identity, its CRDs (the
 * `karpenter-crd` chart, so that an upgrade upgrades them: Helm never upgrades a chart's
 * `crds/`) and the controller chart. NodePools/EC2NodeClasses live in nodepools.ts.
 *
 * Ordering is the point of `controllerReady`: everything Karpenter needs to launch *and to
 * terminate* nodes (its policies, the node role's attachments and access entry, the queue
 * policy and EventBridge targets) is a dependency of the controller release, and every
 * NodePool depends on the release. Pulumi deletes in reverse dependency order, so on
 * `pulumi destroy` the NodePools go first, while the controller can still drain and terminate
 * their nodes; its permissions go last.
 */
import * as aws from "@pulumi/aws";
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { pinnedRelease } from "./helm.ts";
import { nodeRole, podIdentityTrustPolicy } from "./iam-roles.ts";
import { karpenterControllerPolicies, type KarpenterPolicyName } from "./karpenter-iam.ts";
import { InterruptionQueue } from "./karpenter-interruption.ts";
import { charts } from "./versions.ts";

export const KARPENTER_NAMESPACE = "kube-system";
export const KARPENTER_SERVICE_ACCOUNT = "karpenter";

export interface KarpenterArgs {
  clusterName: string;
  /** The cluster's name as an output that resolves once the cluster exists. */
  clusterNameOutput: pulumi.Input<string>;
  region: string;
  partition: pulumi.Input<string>;
  accountId: pulumi.Input<string>;
  provider: k8s.Provider;
  /** Pod Identity associations need the agent add-on. */
  podIdentityAgent: pulumi.Resource;
  /** The controller must run on the system nodes, never on nodes it manages. */
  systemNodes: pulumi.Resource;
  /** Create AWSServiceRoleForEC2Spot (fresh accounts only). @default false */
  createSpotServiceLinkedRole?: boolean;
}

export class Karpenter extends pulumi.ComponentResource {
  /** Role of Karpenter-launched nodes (the EC2NodeClass names it). */
  readonly nodeRoleName: pulumi.Output<string>;
  readonly interruptionQueueName: pulumi.Output<string>;
  /** The controller chart; NodePools and EC2NodeClasses depend on it. */
  readonly release: k8s.helm.v3.Release;
  /** The CRD chart (NodePool, EC2NodeClass, NodeClaim, NodeOverlay). */
  readonly crds: k8s.helm.v3.Release;

  constructor(name: string, args: KarpenterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:Karpenter", name, {}, opts);
    const parent = { parent: this };

    const nodes = nodeRole(`${name}-node`, args.partition, this);
    const accessEntry = new aws.eks.AccessEntry(
      `${name}-node`,
      { clusterName: args.clusterNameOutput, principalArn: nodes.role.arn, type: "EC2_LINUX" },
      parent,
    );

    if (args.createSpotServiceLinkedRole === true)
      new aws.iam.ServiceLinkedRole(
        `${name}-spot`,
        { awsServiceName: "spot.amazonaws.com" },
        parent,
      );

    const queue = new InterruptionQueue(
      `${name}-interruption`,
      { clusterName: args.clusterName },
      parent,
    );

    const controllerRole = new aws.iam.Role(
      `${name}-controller`,
      {
        assumeRolePolicy: pulumi.output(args.accountId).apply((accountId) =>
          podIdentityTrustPolicy({
            accountId,
            clusterName: args.clusterName,
            namespace: KARPENTER_NAMESPACE,
            serviceAccount: KARPENTER_SERVICE_ACCOUNT,
          }),
        ),
      },
      parent,
    );
    const documents = pulumi
      .all([args.partition, args.accountId, queue.queueArn, nodes.role.arn])
      .apply(([partition, accountId, queueArn, nodeRoleArn]) =>
        karpenterControllerPolicies({
          partition,
          region: args.region,
          accountId,
          clusterName: args.clusterName,
          interruptionQueueArn: queueArn,
          nodeRoleArn,
        }),
      );
    const policyNames: KarpenterPolicyName[] = [
      "NodeLifecyclePolicy",
      "IAMIntegrationPolicy",
      "EKSIntegrationPolicy",
      "InterruptionPolicy",
      "ZonalShiftPolicy",
      "ResourceDiscoveryPolicy",
    ];
    const controllerAttachments = policyNames.map((policyName) => {
      const policy = new aws.iam.Policy(
        `${name}-${policyName}`,
        {
          description: `Karpenter controller (${args.clusterName}): ${policyName}`,
          policy: documents.apply((d) => JSON.stringify(d[policyName])),
        },
        parent,
      );
      return new aws.iam.RolePolicyAttachment(
        `${name}-${policyName}`,
        { role: controllerRole.name, policyArn: policy.arn },
        parent,
      );
    });
    const association = new aws.eks.PodIdentityAssociation(
      `${name}-controller`,
      {
        clusterName: args.clusterNameOutput,
        namespace: KARPENTER_NAMESPACE,
        serviceAccount: KARPENTER_SERVICE_ACCOUNT,
        roleArn: controllerRole.arn,
      },
      { parent: this, dependsOn: [args.podIdentityAgent] },
    );

    this.crds = pinnedRelease(
      "karpenter-crd",
      charts.karpenterCrd,
      { namespace: KARPENTER_NAMESPACE },
      { parent: this, provider: args.provider, dependsOn: [args.systemNodes] },
    );

    this.release = pinnedRelease(
      "karpenter",
      charts.karpenter,
      {
        namespace: KARPENTER_NAMESPACE,
        // The CRDs come from karpenter-crd, which Helm upgrades like any template.
        skipCrds: true,
        values: {
          serviceAccount: { name: KARPENTER_SERVICE_ACCOUNT },
          settings: { clusterName: args.clusterName, interruptionQueue: queue.queueName },
          controller: {
            resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "1Gi" } },
          },
          // System nodes only; the chart already tolerates their CriticalAddonsOnly taint.
          nodeSelector: { "yunshi.dev/pool": "system" },
        },
      },
      {
        parent: this,
        provider: args.provider,
        dependsOn: [
          this.crds,
          association,
          ...controllerAttachments,
          accessEntry,
          ...nodes.attachments,
          ...queue.delivery,
          args.systemNodes,
        ],
      },
    );

    this.nodeRoleName = nodes.role.name;
    this.interruptionQueueName = queue.queueName;
    this.registerOutputs({
      nodeRoleName: this.nodeRoleName,
      interruptionQueueName: this.interruptionQueueName,
    });
  }
}
