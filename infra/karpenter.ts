/**
 * Karpenter: the node role its instances use (with an EC2_LINUX access entry so they join),
 * the interruption queue, the controller's IAM role through Pod Identity, and the chart.
 * The GPU NodePool/EC2NodeClass live in gpu-nodepool.ts.
 */
import * as aws from "@pulumi/aws";
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { pinnedRelease } from "./helm.ts";
import { nodeRole, podIdentityTrustPolicy } from "./iam-roles.ts";
import { karpenterControllerPolicy } from "./karpenter-iam.ts";
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
  readonly release: k8s.helm.v3.Release;

  constructor(name: string, args: KarpenterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:Karpenter", name, {}, opts);
    const parent = { parent: this };

    const nodes = nodeRole(`${name}-node`, args.partition, this);
    const accessEntry = new aws.eks.AccessEntry(
      `${name}-node`,
      { clusterName: args.clusterNameOutput, principalArn: nodes.arn, type: "EC2_LINUX" },
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
      { assumeRolePolicy: pulumi.output(args.accountId).apply(podIdentityTrustPolicy) },
      parent,
    );
    new aws.iam.RolePolicy(
      `${name}-controller`,
      {
        role: controllerRole.id,
        policy: pulumi
          .all([args.partition, args.accountId, queue.queueArn, nodes.arn])
          .apply(([partition, accountId, queueArn, nodeRoleArn]) =>
            JSON.stringify(
              karpenterControllerPolicy({
                partition,
                region: args.region,
                accountId,
                clusterName: args.clusterName,
                interruptionQueueArn: queueArn,
                nodeRoleArn,
              }),
            ),
          ),
      },
      parent,
    );
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

    this.release = pinnedRelease(
      "karpenter",
      charts.karpenter,
      {
        namespace: KARPENTER_NAMESPACE,
        values: {
          serviceAccount: { name: KARPENTER_SERVICE_ACCOUNT },
          settings: { clusterName: args.clusterName, interruptionQueue: queue.queueName },
          controller: {
            resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "1Gi" } },
          },
          nodeSelector: { "yunshi.dev/pool": "system" },
        },
      },
      {
        parent: this,
        provider: args.provider,
        dependsOn: [association, accessEntry, args.systemNodes],
      },
    );

    this.nodeRoleName = nodes.name;
    this.interruptionQueueName = queue.queueName;
    this.registerOutputs({
      nodeRoleName: this.nodeRoleName,
      interruptionQueueName: this.interruptionQueueName,
    });
  }
}
