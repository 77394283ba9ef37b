/**
 * Every S3 bucket is versioned, encrypted at rest, blocks all public access, refuses
 * plain-HTTP requests and is protected from `pulumi destroy`. In @pulumi/aws v7 these are
 * separate resources, so this is a stack policy that finds each bucket's companions.
 */
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { asArray, configuresBucket } from "./resource-helpers.ts";

const BUCKET = "aws:s3/bucket:Bucket";
const PUBLIC_ACCESS_FLAGS = [
  "blockPublicAcls",
  "blockPublicPolicy",
  "ignorePublicAcls",
  "restrictPublicBuckets",
] as const;

function companions(
  resources: PolicyResource[],
  bucket: PolicyResource,
  type: string,
): PolicyResource[] {
  return resources.filter((r) => r.type === type && configuresBucket(r, bucket));
}

function deniesInsecureTransport(policyJson: unknown): boolean {
  if (typeof policyJson !== "string") return false;
  let doc: { Statement?: unknown };
  try {
    doc = JSON.parse(policyJson) as { Statement?: unknown };
  } catch {
    return false;
  }
  return asArray(doc.Statement).some((s) => {
    const st = s as { Effect?: string; Condition?: { Bool?: Record<string, unknown> } };
    return st.Effect === "Deny" && String(st.Condition?.Bool?.["aws:SecureTransport"]) === "false";
  });
}

/** The problems of one bucket, given every resource in the stack. */
export function bucketProblems(resources: PolicyResource[], bucket: PolicyResource): string[] {
  const problems: string[] = [];
  const versioning = companions(resources, bucket, "aws:s3/bucketVersioning:BucketVersioning");
  if (
    !versioning.some(
      (v) =>
        (v.props["versioningConfiguration"] as { status?: string } | undefined)?.status ===
        "Enabled",
    )
  )
    problems.push("versioning must be Enabled (aws.s3.BucketVersioning)");
  const sse = companions(
    resources,
    bucket,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  );
  const algorithms = sse.flatMap((s) =>
    asArray(s.props["rules"]).map(
      (r) =>
        (r as { applyServerSideEncryptionByDefault?: { sseAlgorithm?: string } })
          .applyServerSideEncryptionByDefault?.sseAlgorithm,
    ),
  );
  if (!algorithms.some((a) => a === "AES256" || a === "aws:kms" || a === "aws:kms:dsse"))
    problems.push(
      "default server-side encryption must be AES256 or aws:kms (aws.s3.BucketServerSideEncryptionConfiguration)",
    );
  const pab = companions(
    resources,
    bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  );
  if (!pab.some((p) => PUBLIC_ACCESS_FLAGS.every((f) => p.props[f] === true)))
    problems.push(
      `public access must be blocked: ${PUBLIC_ACCESS_FLAGS.join(", ")} all true (aws.s3.BucketPublicAccessBlock)`,
    );
  const policies = companions(resources, bucket, "aws:s3/bucketPolicy:BucketPolicy");
  if (!policies.some((p) => deniesInsecureTransport(p.props["policy"])))
    problems.push('a bucket policy must deny requests with "aws:SecureTransport": "false"');
  if (!bucket.opts.protect)
    problems.push(
      "the bucket must be protected (protect: true) so `pulumi destroy` keeps the checkpoints",
    );
  return problems;
}

export const bucketHardening: StackValidationPolicy = {
  name: "s3-bucket-hardened",
  description: "S3 buckets are versioned, encrypted, never public, TLS-only and protected.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    for (const bucket of args.resources.filter((r) => r.type === BUCKET))
      for (const problem of bucketProblems(args.resources, bucket))
        reportViolation(`Bucket ${bucket.name}: ${problem}.`, bucket.urn);
  },
};
