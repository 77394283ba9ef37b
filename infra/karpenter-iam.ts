/**
 * The Karpenter controller's IAM policy, scoped the way Karpenter's own CloudFormation
 * reference does (v1): it may only launch, tag and terminate instances and launch templates
 * tagged as owned by this cluster, pass only the node role, and read its interruption queue.
 * Pure: a policy document from plain values.
 */

export interface KarpenterPolicyParams {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  readonly clusterName: string;
  readonly interruptionQueueArn: string;
  readonly nodeRoleArn: string;
}

interface Statement {
  Sid: string;
  Effect: "Allow";
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export function karpenterControllerPolicy(p: KarpenterPolicyParams): {
  Version: string;
  Statement: Statement[];
} {
  const ec2 = (res: string) => `arn:${p.partition}:ec2:${p.region}:*:${res}`;
  const owned = `aws:RequestTag/kubernetes.io/cluster/${p.clusterName}`;
  const ownedRes = `aws:ResourceTag/kubernetes.io/cluster/${p.clusterName}`;
  const launch = ["ec2:RunInstances", "ec2:CreateFleet"];
  /** What Karpenter creates and tags at launch: the scope of its create and tag grants. */
  const taggedOnCreate = [
    "fleet/*",
    "instance/*",
    "volume/*",
    "network-interface/*",
    "launch-template/*",
    "spot-instances-request/*",
  ].map(ec2);
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "AllowScopedEC2InstanceAccessActions",
        Effect: "Allow",
        Action: launch,
        Resource: [
          `arn:${p.partition}:ec2:${p.region}::image/*`,
          `arn:${p.partition}:ec2:${p.region}::snapshot/*`,
          ec2("security-group/*"),
          ec2("subnet/*"),
          ec2("capacity-reservation/*"),
        ],
      },
      {
        Sid: "AllowScopedEC2LaunchTemplateAccessActions",
        Effect: "Allow",
        Action: launch,
        Resource: ec2("launch-template/*"),
        Condition: {
          StringEquals: { [ownedRes]: "owned" },
          StringLike: { "aws:ResourceTag/karpenter.sh/nodepool": "*" },
        },
      },
      {
        Sid: "AllowScopedEC2InstanceActionsWithTags",
        Effect: "Allow",
        Action: [...launch, "ec2:CreateLaunchTemplate"],
        Resource: taggedOnCreate,
        Condition: {
          StringEquals: { [owned]: "owned", "aws:RequestTag/eks:eks-cluster-name": p.clusterName },
          StringLike: { "aws:RequestTag/karpenter.sh/nodepool": "*" },
        },
      },
      {
        Sid: "AllowScopedResourceCreationTagging",
        Effect: "Allow",
        Action: ["ec2:CreateTags"],
        Resource: taggedOnCreate,
        Condition: {
          StringEquals: {
            [owned]: "owned",
            "aws:RequestTag/eks:eks-cluster-name": p.clusterName,
            "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
          },
          StringLike: { "aws:RequestTag/karpenter.sh/nodepool": "*" },
        },
      },
      {
        Sid: "AllowScopedResourceTagging",
        Effect: "Allow",
        Action: ["ec2:CreateTags"],
        Resource: ec2("instance/*"),
        Condition: {
          StringEquals: { [ownedRes]: "owned" },
          StringLike: { "aws:ResourceTag/karpenter.sh/nodepool": "*" },
          "ForAllValues:StringEquals": {
            "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"],
          },
        },
      },
      {
        Sid: "AllowScopedDeletion",
        Effect: "Allow",
        Action: ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
        Resource: [ec2("instance/*"), ec2("launch-template/*")],
        Condition: {
          StringEquals: { [ownedRes]: "owned" },
          StringLike: { "aws:ResourceTag/karpenter.sh/nodepool": "*" },
        },
      },
      {
        Sid: "AllowRegionalReadActions",
        Effect: "Allow",
        Action: [
          "ec2:DescribeAvailabilityZones",
          "ec2:DescribeCapacityReservations",
          "ec2:DescribeImages",
          "ec2:DescribeInstances",
          "ec2:DescribeInstanceTypeOfferings",
          "ec2:DescribeInstanceTypes",
          "ec2:DescribeLaunchTemplates",
          "ec2:DescribeSecurityGroups",
          "ec2:DescribeSpotPriceHistory",
          "ec2:DescribeSubnets",
        ],
        Resource: "*",
        Condition: { StringEquals: { "aws:RequestedRegion": p.region } },
      },
      {
        Sid: "AllowSSMReadActions",
        Effect: "Allow",
        Action: ["ssm:GetParameter"],
        Resource: `arn:${p.partition}:ssm:${p.region}::parameter/aws/service/*`,
      },
      {
        Sid: "AllowPricingReadActions",
        Effect: "Allow",
        Action: ["pricing:GetProducts"],
        Resource: "*",
      },
      {
        Sid: "AllowInterruptionQueueActions",
        Effect: "Allow",
        Action: ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
        Resource: p.interruptionQueueArn,
      },
      {
        Sid: "AllowPassingInstanceRole",
        Effect: "Allow",
        Action: ["iam:PassRole"],
        Resource: p.nodeRoleArn,
        Condition: { StringEquals: { "iam:PassedToService": ["ec2.amazonaws.com"] } },
      },
      {
        Sid: "AllowScopedInstanceProfileCreationActions",
        Effect: "Allow",
        Action: ["iam:CreateInstanceProfile", "iam:TagInstanceProfile"],
        Resource: `arn:${p.partition}:iam::${p.accountId}:instance-profile/*`,
        Condition: {
          StringEquals: {
            [owned]: "owned",
            "aws:RequestTag/eks:eks-cluster-name": p.clusterName,
            "aws:RequestTag/topology.kubernetes.io/region": p.region,
          },
          StringLike: { "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*" },
        },
      },
      {
        Sid: "AllowScopedInstanceProfileActions",
        Effect: "Allow",
        Action: [
          "iam:AddRoleToInstanceProfile",
          "iam:RemoveRoleFromInstanceProfile",
          "iam:DeleteInstanceProfile",
        ],
        Resource: `arn:${p.partition}:iam::${p.accountId}:instance-profile/*`,
        Condition: {
          StringEquals: {
            [ownedRes]: "owned",
            "aws:ResourceTag/topology.kubernetes.io/region": p.region,
          },
          StringLike: { "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*" },
        },
      },
      {
        Sid: "AllowInstanceProfileReadActions",
        Effect: "Allow",
        Action: ["iam:GetInstanceProfile", "iam:ListInstanceProfiles"],
        Resource: "*",
      },
      {
        Sid: "AllowAPIServerEndpointDiscovery",
        Effect: "Allow",
        Action: ["eks:DescribeCluster"],
        Resource: `arn:${p.partition}:eks:${p.region}:${p.accountId}:cluster/${p.clusterName}`,
      },
    ],
  };
}
