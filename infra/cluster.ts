/**
 * The EKS cluster: API authentication mode with access entries, Pod Identity agent, CoreDNS
 * as an EKS add-on, a small on-demand system node group for controllers, and the Kubernetes
 * provider every in-cluster component uses. Team nodes are not here: Karpenter launches them
 * (karpenter.ts, nodepools.ts).
 *
 * System nodes are tainted `CriticalAddonsOnly` (only controllers that tolerate it run
 * there; team pods never do) and use a launch template that requires IMDSv2 with a hop limit
 * of 1, so a pod cannot reach the instance metadata service and borrow the node role.
 */
import * as aws from "@pulumi/aws";
import * as eks from "@pulumi/eks";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { nodeRole } from "./iam-roles.ts";
import {
  SYSTEM_PLACEMENT,
  SYSTEM_POOL_LABEL,
  SYSTEM_TAINT,
} from "./platform-objects/node-labels.ts";
import { systemNodeAmiType } from "./versions.ts";

/** IMDSv2 only, one network hop: reachable from the node, not from a pod's network namespace. */
export const NODE_METADATA_OPTIONS = {
  httpEndpoint: "enabled",
  httpTokens: "required",
  httpPutResponseHopLimit: 1,
} as const;

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
        // pulumi-eks only manages CoreDNS as an add-on with its default node group; the
        // add-on below replaces the self-managed copy EKS bootstraps.
        corednsAddonOptions: { enabled: false },
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
    const launchTemplate = new aws.ec2.LaunchTemplate(
      `${name}-system`,
      {
        metadataOptions: NODE_METADATA_OPTIONS,
        blockDeviceMappings: [
          {
            deviceName: "/dev/xvda",
            ebs: {
              volumeSize: 50,
              volumeType: "gp3",
              encrypted: "true",
              deleteOnTermination: "true",
            },
          },
        ],
        tagSpecifications: [
          { resourceType: "instance", tags: { "yunshi/cluster": args.clusterName } },
        ],
      },
      { parent: this },
    );
    this.systemNodes = new eks.ManagedNodeGroup(
      `${name}-system`,
      {
        cluster,
        nodeRole: role.role,
        subnetIds: args.privateSubnetIds,
        instanceTypes: [args.systemInstanceType ?? "t3.medium"],
        amiType: systemNodeAmiType,
        capacityType: "ON_DEMAND",
        scalingConfig: {
          minSize: args.systemNodeCount ?? 2,
          desiredSize: args.systemNodeCount ?? 2,
          maxSize: (args.systemNodeCount ?? 2) + 1,
        },
        labels: { [SYSTEM_POOL_LABEL.key]: SYSTEM_POOL_LABEL.value },
        taints: [{ key: SYSTEM_TAINT.key, value: SYSTEM_TAINT.value, effect: "NO_SCHEDULE" }],
        launchTemplate: {
          id: launchTemplate.id,
          version: pulumi.interpolate`${launchTemplate.latestVersion}`,
        },
      },
      { parent: this, dependsOn: role.attachments },
    );

    this.podIdentityAgent = new aws.eks.Addon(
      `${name}-pod-identity-agent`,
      { clusterName: this.clusterName, addonName: "eks-pod-identity-agent" },
      // The agent is a DaemonSet: the add-on reports healthy only once nodes exist.
      { parent: this, dependsOn: [this.systemNodes] },
    );

    // CoreDNS as an EKS add-on (upgraded with the cluster, not left self-managed), on the
    // system nodes. OVERWRITE takes over the self-managed copy EKS bootstrapped.
    new aws.eks.Addon(
      `${name}-coredns`,
      {
        clusterName: this.clusterName,
        addonName: "coredns",
        resolveConflictsOnCreate: "OVERWRITE",
        resolveConflictsOnUpdate: "OVERWRITE",
        configurationValues: JSON.stringify(SYSTEM_PLACEMENT),
      },
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
