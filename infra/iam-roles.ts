/**
 * IAM role shapes shared by several components: EC2 node roles and roles assumed through
 * EKS Pod Identity. Pure policy documents plus small constructors (children of the caller).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** Managed policies a worker node needs: join the cluster, VPC CNI, pull from ECR, SSM. */
export const NODE_MANAGED_POLICIES = [
  "AmazonEKSWorkerNodePolicy",
  "AmazonEKS_CNI_Policy",
  "AmazonEC2ContainerRegistryPullOnly",
  "AmazonSSMManagedInstanceCore",
] as const;

/** Trust policy for EKS Pod Identity: the agent assumes the role and tags the session with
 * kubernetes-namespace / kubernetes-service-account (used by the S3 prefix policy). */
export function podIdentityTrustPolicy(accountId: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "pods.eks.amazonaws.com" },
        Action: ["sts:AssumeRole", "sts:TagSession"],
        // Confused-deputy guard: only Pod Identity acting for this account.
        Condition: { StringEquals: { "aws:SourceAccount": accountId } },
      },
    ],
  });
}

export function ec2TrustPolicy(): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
    ],
  });
}

/** A worker-node role with the managed policies attached, parented to `parent`. */
export function nodeRole(
  name: string,
  partition: pulumi.Input<string>,
  parent: pulumi.Resource,
): aws.iam.Role {
  const role = new aws.iam.Role(name, { assumeRolePolicy: ec2TrustPolicy() }, { parent });
  for (const policy of NODE_MANAGED_POLICIES) {
    new aws.iam.RolePolicyAttachment(
      `${name}-${policy}`,
      {
        role: role.name,
        policyArn: pulumi.interpolate`arn:${partition}:iam::aws:policy/${policy}`,
      },
      { parent },
    );
  }
  return role;
}
