/**
 * One IAM role for every team's training pods, reached through EKS Pod Identity. Its S3
 * access is confined to `s3://<bucket>/<namespace>/*` by the `kubernetes-namespace` session
 * tag Pod Identity sets, so a team can read and write only its own prefix.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { podIdentityTrustPolicy } from "./iam-roles.ts";
import { TRAINING_SERVICE_ACCOUNT } from "./platform-objects/team-objects.ts";

/** IAM policy variable for the pod's namespace (a literal `${...}`, not a JS template). */
export const NAMESPACE_TAG = "${aws:PrincipalTag/kubernetes-namespace}";

/** Object actions the checkpoint agent and trainer need (multipart upload, retention deletes). */
export const OBJECT_ACTIONS = [
  "s3:GetObject",
  "s3:PutObject",
  "s3:DeleteObject",
  "s3:AbortMultipartUpload",
  "s3:ListMultipartUploadParts",
] as const;

/** Object versions stay out of reach: deleting one would destroy a checkpoint for good, and
 * versioning (with the lifecycle rules) is what protects a team from its own mistakes. */
export function namespacePrefixPolicy(
  bucketName: string,
  partition: string,
): Record<string, unknown> {
  const bucketArn = `arn:${partition}:s3:::${bucketName}`;
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "OwnNamespacePrefixObjects",
        Effect: "Allow",
        Action: [...OBJECT_ACTIONS],
        Resource: `${bucketArn}/${NAMESPACE_TAG}/*`,
      },
      {
        Sid: "ListOwnNamespacePrefix",
        Effect: "Allow",
        Action: ["s3:ListBucket"],
        Resource: bucketArn,
        Condition: { StringLike: { "s3:prefix": [`${NAMESPACE_TAG}/*`] } },
      },
    ],
  };
}

export interface TrainingRoleArgs {
  bucketName: pulumi.Input<string>;
  accountId: pulumi.Input<string>;
  partition: pulumi.Input<string>;
  /** Only Pod Identity sessions from this cluster may assume the role. */
  clusterName: string;
}

export class TrainingRole extends pulumi.ComponentResource {
  readonly roleArn: pulumi.Output<string>;

  constructor(name: string, args: TrainingRoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:TrainingRole", name, {}, opts);
    const role = new aws.iam.Role(
      `${name}-role`,
      {
        // Any team namespace, but only this cluster and only the training service account.
        assumeRolePolicy: pulumi.output(args.accountId).apply((accountId) =>
          podIdentityTrustPolicy({
            accountId,
            clusterName: args.clusterName,
            serviceAccount: TRAINING_SERVICE_ACCOUNT,
          }),
        ),
        description: "yunshi training pods: S3 access to their own namespace prefix only",
      },
      { parent: this },
    );
    new aws.iam.RolePolicy(
      `${name}-s3`,
      {
        role: role.id,
        policy: pulumi
          .all([args.bucketName, args.partition])
          .apply(([b, partition]) => JSON.stringify(namespacePrefixPolicy(b, partition))),
      },
      { parent: this },
    );
    this.roleArn = role.arn;
    this.registerOutputs({ roleArn: this.roleArn });
  }
}
