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

/** Who may assume a Pod Identity role: the cluster, and optionally one namespace and one
 * service account. */
export interface PodIdentityTrust {
  readonly accountId: string;
  readonly clusterName: string;
  /** @default any namespace of the cluster */
  readonly namespace?: string;
  readonly serviceAccount: string;
}

/**
 * Trust policy for EKS Pod Identity. The service assumes the role and tags the session with
 * `eks-cluster-name`, `kubernetes-namespace` and `kubernetes-service-account`; conditions on
 * those request tags pin the role to this cluster and service account (and namespace), so no
 * other cluster in the account, and no other service account, can be associated with it.
 */
export function podIdentityTrustPolicy(t: PodIdentityTrust): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "pods.eks.amazonaws.com" },
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: {
          StringEquals: {
            // Confused-deputy guard: only Pod Identity acting for this account.
            "aws:SourceAccount": t.accountId,
            "aws:RequestTag/eks-cluster-name": t.clusterName,
            ...(t.namespace === undefined
              ? {}
              : { "aws:RequestTag/kubernetes-namespace": t.namespace }),
            "aws:RequestTag/kubernetes-service-account": t.serviceAccount,
          },
        },
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

export interface NodeRole {
  readonly role: aws.iam.Role;
  /** Nodes cannot join or pull images without these: anything that launches or drains
   * nodes must depend on them, so they exist until the last node is gone. */
  readonly attachments: aws.iam.RolePolicyAttachment[];
}

/** A worker-node role with the managed policies attached, parented to `parent`. */
export function nodeRole(
  name: string,
  partition: pulumi.Input<string>,
  parent: pulumi.Resource,
): NodeRole {
  const role = new aws.iam.Role(name, { assumeRolePolicy: ec2TrustPolicy() }, { parent });
  const attachments = NODE_MANAGED_POLICIES.map(
    (policy) =>
      new aws.iam.RolePolicyAttachment(
        `${name}-${policy}`,
        {
          role: role.name,
          policyArn: pulumi.interpolate`arn:${partition}:iam::aws:policy/${policy}`,
        },
        { parent },
      ),
  );
  return { role, attachments };
}
