/**
 * The EKS cluster: API authentication mode with access entries, Pod Identity agent, a small
 * on-demand system node group for controllers, and the Kubernetes provider every in-cluster
 * component uses. GPU nodes are not here: Karpenter launches them (karpenter.ts).
 */
import * as aws from "@pulumi/aws";
import * as eks from "@pulumi/eks";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { nodeRole } from "./iam-roles.ts";
import { systemNodeAmiType } from "./versions.ts";

export interface ClusterArgs {
  clusterName: string;
  kubernetesVersion: string;
  vpcId: pulumi.Input<string>;
  privateSubnetIds: pulumi.Input<string>[];
  publicSubnetIds: pulumi.Input<string>[];
  /** CIDRs allowed to reach the public API endpoint (never defaulted to 0.0.0.0/0). */
  apiAccessCidrs: string[];
  /** IAM principals given AmazonEKSClusterAdminPolicy. @default [] */
  admins?: string[];
  partition: pulumi.Input<string>;
  /** @default "t3.medium" */
  systemInstanceType?: string;
  /** @default 2 */
  systemNodeCount?: number;
}

export class Cluster extends pulumi.ComponentResource {
  /** Resolves only once the cluster exists, so dependents wait for it. */
  readonly clusterName: pulumi.Output<string>;
  readonly kubeconfigJson: pulumi.Output<string>;
  /** The EKS-created cluster security group (shared by control plane and all nodes). */
  readonly clusterSecurityGroupId: pulumi.Output<string>;
  readonly provider: k8s.Provider;
  /** Pod Identity associations only work once the agent runs. */
  readonly podIdentityAgent: aws.eks.Addon;
  readonly systemNodes: eks.ManagedNodeGroup;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:Cluster", name, {}, opts);
    const admins = args.admins ?? [];
    const accessEntries: Record<string, eks.types.input.AccessEntryArgs> = {};
    admins.forEach((arn, i) => {
      accessEntries[`admin-${i}`] = {
        principalArn: arn,
        accessPolicies: {
          admin: {
            policyArn: pulumi.interpolate`arn:${args.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy`,
            accessScope: { type: "cluster" },
          },
        },
      };
    });

    const cluster = new eks.Cluster(
      `${name}-eks`,
      {
        name: args.clusterName,
        version: args.kubernetesVersion,
        vpcId: args.vpcId,
        privateSubnetIds: args.privateSubnetIds,
        publicSubnetIds: args.publicSubnetIds,
        endpointPrivateAccess: true,
        endpointPublicAccess: true,
        publicAccessCidrs: args.apiAccessCidrs,
        authenticationMode: eks.AuthenticationMode.Api,
        accessEntries,
        // Pod Identity replaces IRSA: no OIDC provider needed.
        createOidcProvider: false,
        skipDefaultNodeGroup: true,
        // Use the EKS-created cluster security group for nodes too (Karpenter selects it by id).
        skipDefaultSecurityGroups: true,
        nodeAssociatePublicIpAddress: false,
        tags: { "yunshi/cluster": args.clusterName },
      },
      { parent: this },
    );

    // The name is known up front; deriving it from an output makes dependents wait for the
    // cluster instead of racing its creation.
    this.clusterName = cluster.kubeconfigJson.apply(() => args.clusterName);
    this.kubeconfigJson = cluster.kubeconfigJson;
    this.clusterSecurityGroupId = cluster.clusterSecurityGroupId;

    const role = nodeRole(`${name}-system-node`, args.partition, this);
    this.systemNodes = new eks.ManagedNodeGroup(
      `${name}-system`,
      {
        cluster,
        nodeRole: role,
        subnetIds: args.privateSubnetIds,
        instanceTypes: [args.systemInstanceType ?? "t3.medium"],
        amiType: systemNodeAmiType,
        capacityType: "ON_DEMAND",
        scalingConfig: {
          minSize: args.systemNodeCount ?? 2,
          desiredSize: args.systemNodeCount ?? 2,
          maxSize: (args.systemNodeCount ?? 2) + 1,
        },
        labels: { "yunshi.dev/pool": "system" },
        diskSize: 50,
      },
      { parent: this },
    );

    this.podIdentityAgent = new aws.eks.Addon(
      `${name}-pod-identity-agent`,
      { clusterName: this.clusterName, addonName: "eks-pod-identity-agent" },
      // The agent is a DaemonSet: the add-on reports healthy only once nodes exist.
      { parent: this, dependsOn: [this.systemNodes] },
    );

    this.provider = new k8s.Provider(
      `${name}-k8s`,
      { kubeconfig: cluster.kubeconfigJson, enableServerSideApply: true },
      { parent: this },
    );

    this.registerOutputs({
      clusterName: this.clusterName,
      kubeconfigJson: this.kubeconfigJson,
      clusterSecurityGroupId: this.clusterSecurityGroupId,
    });
  }
}
