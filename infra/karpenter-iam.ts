/**
 * The Karpenter controller's IAM policies, statement by statement as Karpenter's reference
 * CloudFormation for v1.12 has them (getting-started cloudformation.yaml; a transcription is
 * vendored in test/infra/fixtures and a test diffs the two). Six managed policies, as in the
 * reference: one inline policy would pass IAM's 10,240-character limit for a role's inline
 * policies. It may only launch, tag and terminate instances and launch templates tagged as
 * owned by this cluster, create and tag only instance profiles tagged for this cluster and
 * region, pass only the node role, and read only its interruption queue.
 * Pure: policy documents from plain values.
 */

export interface KarpenterPolicyParams {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  readonly clusterName: string;
  readonly interruptionQueueArn: string;
  readonly nodeRoleArn: string;
}

export interface PolicyStatement {
  Sid: string;
  Effect: "Allow";
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

/** The reference's managed policies, by the reference's resource names. */
export type KarpenterPolicyName =
  | "NodeLifecyclePolicy"
  | "IAMIntegrationPolicy"
  | "EKSIntegrationPolicy"
  | "InterruptionPolicy"
  | "ZonalShiftPolicy"
  | "ResourceDiscoveryPolicy";

const doc = (...Statement: PolicyStatement[]): PolicyDocument => ({
  Version: "2012-10-17",
  Statement,
});

export function karpenterControllerPolicies(
  p: KarpenterPolicyParams,
): Record<KarpenterPolicyName, PolicyDocument> {
  const ec2 = (res: string) => `arn:${p.partition}:ec2:${p.region}:*:${res}`;
  const clusterTag = `kubernetes.io/cluster/${p.clusterName}`;
  const instanceProfiles = `arn:${p.partition}:iam::${p.accountId}:instance-profile/*`;
  const clusterArn = `arn:${p.partition}:eks:${p.region}:${p.accountId}:cluster/${p.clusterName}`;
  /** What Karpenter creates and tags at launch: the scope of its create and tag grants. */
  const taggedOnCreate = [
    "fleet/*",
    "instance/*",
    "volume/*",
    "network-interface/*",
    "launch-template/*",
    "spot-instances-request/*",
  ].map(ec2);
  /** Tags Karpenter must put on what it creates; the conditions check them. */
  const ownedRequest = {
    [`aws:RequestTag/${clusterTag}`]: "owned",
    "aws:RequestTag/eks:eks-cluster-name": p.clusterName,
  };
  const ownedResource = {
    StringEquals: { [`aws:ResourceTag/${clusterTag}`]: "owned" },
    StringLike: { "aws:ResourceTag/karpenter.sh/nodepool": "*" },
  };

  return {
    NodeLifecyclePolicy: doc(
      {
        Sid: "AllowScopedEC2InstanceAccessActions",
        Effect: "Allow",
        Resource: [
          `arn:${p.partition}:ec2:${p.region}::image/*`,
          `arn:${p.partition}:ec2:${p.region}::snapshot/*`,
          ec2("security-group/*"),
          ec2("subnet/*"),
          ec2("capacity-reservation/*"),
          ec2("placement-group/*"),
        ],
        Action: ["ec2:RunInstances", "ec2:CreateFleet"],
      },
      {
        Sid: "AllowScopedEC2LaunchTemplateAccessActions",
        Effect: "Allow",
        Resource: ec2("launch-template/*"),
        Action: ["ec2:RunInstances", "ec2:CreateFleet"],
        Condition: ownedResource,
      },
      {
        Sid: "AllowScopedEC2InstanceActionsWithTags",
        Effect: "Allow",
        Resource: taggedOnCreate,
        Action: ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
        Condition: {
          StringEquals: ownedRequest,
          StringLike: { "aws:RequestTag/karpenter.sh/nodepool": "*" },
        },
      },
      {
        Sid: "AllowScopedResourceCreationTagging",
        Effect: "Allow",
        Resource: taggedOnCreate,
        Action: "ec2:CreateTags",
        Condition: {
          StringEquals: {
            ...ownedRequest,
            "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
          },
          StringLike: { "aws:RequestTag/karpenter.sh/nodepool": "*" },
        },
      },
      {
        Sid: "AllowScopedResourceTagging",
        Effect: "Allow",
        Resource: ec2("instance/*"),
        Action: "ec2:CreateTags",
        Condition: {
          ...ownedResource,
          StringEqualsIfExists: { "aws:RequestTag/eks:eks-cluster-name": p.clusterName },
          "ForAllValues:StringEquals": {
            "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"],
          },
        },
      },
      {
        Sid: "AllowScopedDeletion",
        Effect: "Allow",
        Resource: [ec2("instance/*"), ec2("launch-template/*")],
        Action: ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
        Condition: ownedResource,
      },
    ),
    IAMIntegrationPolicy: doc(
      {
        Sid: "AllowPassingInstanceRole",
        Effect: "Allow",
        Resource: p.nodeRoleArn,
        Action: "iam:PassRole",
        Condition: {
          StringEquals: { "iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"] },
        },
      },
      {
        Sid: "AllowScopedInstanceProfileCreationActions",
        Effect: "Allow",
        Resource: instanceProfiles,
        Action: ["iam:CreateInstanceProfile"],
        Condition: {
          StringEquals: {
            ...ownedRequest,
            "aws:RequestTag/topology.kubernetes.io/region": p.region,
          },
          StringLike: { "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*" },
        },
      },
      {
        // Tagging needs both: the profile already belongs to this cluster and region, and
        // the new tags keep it so. Without the ResourceTag half, the controller could re-tag
        // (and then take over) any instance profile in the account.
        Sid: "AllowScopedInstanceProfileTagActions",
        Effect: "Allow",
        Resource: instanceProfiles,
        Action: ["iam:TagInstanceProfile"],
        Condition: {
          StringEquals: {
            [`aws:ResourceTag/${clusterTag}`]: "owned",
            "aws:ResourceTag/topology.kubernetes.io/region": p.region,
            ...ownedRequest,
            "aws:RequestTag/topology.kubernetes.io/region": p.region,
          },
          StringLike: {
            "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
            "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
          },
        },
      },
      {
        Sid: "AllowScopedInstanceProfileActions",
        Effect: "Allow",
        Resource: instanceProfiles,
        Action: [
          "iam:AddRoleToInstanceProfile",
          "iam:RemoveRoleFromInstanceProfile",
          "iam:DeleteInstanceProfile",
        ],
        Condition: {
          StringEquals: {
            [`aws:ResourceTag/${clusterTag}`]: "owned",
            "aws:ResourceTag/topology.kubernetes.io/region": p.region,
          },
          StringLike: { "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*" },
        },
      },
    ),
    EKSIntegrationPolicy: doc({
      Sid: "AllowAPIServerEndpointDiscovery",
      Effect: "Allow",
      Resource: clusterArn,
      Action: "eks:DescribeCluster",
    }),
    InterruptionPolicy: doc({
      Sid: "AllowInterruptionQueueActions",
      Effect: "Allow",
      Resource: p.interruptionQueueArn,
      Action: ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
    }),
    ZonalShiftPolicy: doc({
      Sid: "AllowZonalShiftStatusReadOnly",
      Effect: "Allow",
      Resource: "*",
      Action: ["arc-zonal-shift:GetManagedResource"],
      Condition: { StringEquals: { "arc-zonal-shift:ResourceIdentifier": clusterArn } },
    }),
    ResourceDiscoveryPolicy: doc(
      {
        Sid: "AllowRegionalReadActions",
        Effect: "Allow",
        Resource: "*",
        Action: [
          "ec2:DescribeCapacityReservations",
          "ec2:DescribeImages",
          // Required since v1.12: without it instance status health checks are silently off.
          "ec2:DescribeInstanceStatus",
          "ec2:DescribeInstances",
          "ec2:DescribeInstanceTypeOfferings",
          "ec2:DescribeInstanceTypes",
          "ec2:DescribeLaunchTemplates",
          "ec2:DescribePlacementGroups",
          "ec2:DescribeSecurityGroups",
          "ec2:DescribeSpotPriceHistory",
          "ec2:DescribeSubnets",
        ],
        Condition: { StringEquals: { "aws:RequestedRegion": p.region } },
      },
      {
        Sid: "AllowSSMReadActions",
        Effect: "Allow",
        Resource: `arn:${p.partition}:ssm:${p.region}::parameter/aws/service/*`,
        Action: "ssm:GetParameter",
      },
      {
        Sid: "AllowPricingReadActions",
        Effect: "Allow",
        Resource: "*",
        Action: "pricing:GetProducts",
      },
      {
        Sid: "AllowUnscopedInstanceProfileListAction",
        Effect: "Allow",
        Resource: "*",
        Action: "iam:ListInstanceProfiles",
      },
      {
        Sid: "AllowInstanceProfileReadActions",
        Effect: "Allow",
        Resource: instanceProfiles,
        Action: "iam:GetInstanceProfile",
      },
    ),
  };
}
