/**
 * The one S3 bucket for checkpoints, logs and datasets (`s3://<bucket>/<namespace>/...`):
 * versioned, encrypted, never public, TLS-only, with lifecycle rules that keep the cost of
 * versioning and failed multipart uploads bounded. Protected: `pulumi destroy` keeps it.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface StorageArgs {
  clusterName: string;
  noncurrentVersionDays: number;
  abortMultipartDays: number;
}

export interface LifecycleParams {
  readonly noncurrentVersionDays: number;
  readonly abortMultipartDays: number;
}

/**
 * Lifecycle under checkpoint churn: every save overwrites the run's manifest and retention
 * deletes old checkpoints, so without these rules a versioned bucket keeps every byte ever
 * written. Noncurrent versions expire after a short window (the undo window for a mistaken
 * delete); the delete markers left behind once their versions are gone are removed; uploads a
 * preempted pod never completed are aborted. `filter: { prefix: "" }` selects every object
 * explicitly (an empty `filter: {}` draws a provider warning).
 */
export function checkpointLifecycleRules(p: LifecycleParams) {
  const everything = { prefix: "" };
  return [
    {
      id: "abort-incomplete-multipart",
      status: "Enabled",
      filter: everything,
      abortIncompleteMultipartUpload: { daysAfterInitiation: p.abortMultipartDays },
    },
    {
      id: "expire-noncurrent-versions-and-delete-markers",
      status: "Enabled",
      filter: everything,
      noncurrentVersionExpiration: { noncurrentDays: p.noncurrentVersionDays },
      expiration: { expiredObjectDeleteMarker: true },
    },
  ];
}

/** Deny any request that is not over TLS. */
export function tlsOnlyBucketPolicy(bucketArn: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucketArn, `${bucketArn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ],
  });
}

export class Storage extends pulumi.ComponentResource {
  readonly bucketName: pulumi.Output<string>;
  readonly bucketArn: pulumi.Output<string>;

  constructor(name: string, args: StorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:Storage", name, {}, opts);
    // Checkpoints are the product of GPU hours: the bucket and its guard rails outlive the stack.
    const keep = { parent: this, retainOnDelete: true };
    const bucket = new aws.s3.Bucket(
      `${name}-bucket`,
      {
        // Readable physical name; AWS appends a unique suffix (bucket names are global).
        bucketPrefix: `${args.clusterName}-ckpt-`,
        forceDestroy: false,
        tags: { "yunshi/cluster": args.clusterName },
      },
      { ...keep, protect: true },
    );
    new aws.s3.BucketOwnershipControls(
      `${name}-ownership`,
      { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
      keep,
    );
    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      {
        bucket: bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      keep,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket: bucket.id,
        rules: [
          {
            applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" },
            bucketKeyEnabled: true,
          },
        ],
      },
      keep,
    );
    const versioning = new aws.s3.BucketVersioning(
      `${name}-versioning`,
      { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
      keep,
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      {
        bucket: bucket.id,
        rules: checkpointLifecycleRules(args),
      },
      // Lifecycle rules on a versioned bucket must follow the versioning config.
      { ...keep, dependsOn: [versioning] },
    );
    new aws.s3.BucketPolicy(
      `${name}-tls-only`,
      { bucket: bucket.id, policy: bucket.arn.apply(tlsOnlyBucketPolicy) },
      // S3 rejects policies while the public access block is being changed.
      { ...keep, dependsOn: [publicAccess] },
    );
    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;
    this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn });
  }
}
