/**
 * One IAM role for every team's training pods, reached through EKS Pod Identity. Its S3
 * access is confined to `s3://<bucket>/<namespace>/*` by the `kubernetes-namespace` session
 * tag Pod Identity sets, so a team can read and write only its own prefix.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { podIdentityTrustPolicy } from "./iam-roles.ts";

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

export function namespacePrefixPolicy(bucketName: string): Record<string, unknown> {
  const bucketArn = `arn:aws:s3:::${bucketName}`;
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
}

export class TrainingRole extends pulumi.ComponentResource {
  readonly roleArn: pulumi.Output<string>;

  constructor(name: string, args: TrainingRoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:TrainingRole", name, {}, opts);
    const role = new aws.iam.Role(
      `${name}-role`,
      {
        assumeRolePolicy: pulumi.output(args.accountId).apply(podIdentityTrustPolicy),
        description: "yunshi training pods: S3 access to their own namespace prefix only",
      },
      { parent: this },
    );
    new aws.iam.RolePolicy(
      `${name}-s3`,
      {
        role: role.id,
        policy: pulumi
          .output(args.bucketName)
          .apply((b) => JSON.stringify(namespacePrefixPolicy(b))),
      },
      { parent: this },
    );
    this.roleArn = role.arn;
    this.registerOutputs({ roleArn: this.roleArn });
  }
}
