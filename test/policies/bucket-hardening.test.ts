import { describe, expect, it } from "vitest";
import { bucketHardening } from "../../policies/bucket-hardening.ts";
import { validateStack, type FakeResource } from "./harness.ts";

const tlsPolicy = JSON.stringify({
  Statement: [
    {
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    },
  ],
});
const onBucket = { bucket: ["b"] };

function hardened(): FakeResource[] {
  return [
    { type: "aws:s3/bucket:Bucket", name: "b", props: { bucket: "ckpt-1" }, protect: true },
    {
      type: "aws:s3/bucketVersioning:BucketVersioning",
      name: "v",
      props: { versioningConfiguration: { status: "Enabled" } },
      dependsOn: onBucket,
    },
    {
      type: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
      name: "e",
      props: { rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] },
      dependsOn: onBucket,
    },
    {
      type: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
      name: "p",
      props: {
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      dependsOn: onBucket,
    },
    {
      type: "aws:s3/bucketPolicy:BucketPolicy",
      name: "tls",
      props: { policy: tlsPolicy },
      dependsOn: onBucket,
    },
  ];
}

describe("s3-bucket-hardened", () => {
  it("accepts a bucket with all its guard rails (linked by property dependency)", async () => {
    expect(await validateStack(bucketHardening, hardened())).toEqual([]);
  });

  it("also links companions by bucket name after apply", async () => {
    const fakes = hardened().map((f) =>
      f.name === "b" ? f : { ...f, dependsOn: {}, props: { ...f.props, bucket: "ckpt-1" } },
    );
    expect(await validateStack(bucketHardening, fakes)).toEqual([]);
  });

  it("reports each missing guard rail on the bucket's URN", async () => {
    const bare: FakeResource[] = [
      { type: "aws:s3/bucket:Bucket", name: "b", props: { bucket: "ckpt-1" } },
    ];
    const v = await validateStack(bucketHardening, bare);
    expect(v.map((x) => x.message)).toEqual([
      expect.stringMatching(/^Bucket b: versioning must be Enabled/),
      expect.stringMatching(/^Bucket b: default server-side encryption/),
      expect.stringMatching(/^Bucket b: public access must be blocked/),
      expect.stringMatching(
        /^Bucket b: a bucket policy must deny requests with "aws:SecureTransport"/,
      ),
      expect.stringMatching(/^Bucket b: the bucket must be protected/),
    ]);
    expect(v.every((x) => x.urn === "urn:pulumi:dev::yunshi::aws:s3/bucket:Bucket::b")).toBe(true);
  });

  it("rejects suspended versioning, a partial public-access block and a policy without the TLS deny", async () => {
    const fakes = hardened().map((f) => {
      if (f.name === "v")
        return { ...f, props: { versioningConfiguration: { status: "Suspended" } } };
      if (f.name === "p") return { ...f, props: { ...f.props, restrictPublicBuckets: false } };
      if (f.name === "tls")
        return {
          ...f,
          props: {
            policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: "s3:GetObject" }] }),
          },
        };
      return f;
    });
    expect(
      (await validateStack(bucketHardening, fakes)).map(
        (x) => x.message.split(":")[1]!.trim().split(" ")[0],
      ),
    ).toEqual(["versioning", "public", "a"]);
  });

  it("does not credit one bucket's guard rails to another bucket", async () => {
    const fakes = [
      ...hardened(),
      { type: "aws:s3/bucket:Bucket", name: "other", props: { bucket: "other-1" }, protect: true },
    ];
    const v = await validateStack(bucketHardening, fakes);
    expect(v).toHaveLength(4);
    expect(v.every((x) => x.message.startsWith("Bucket other:"))).toBe(true);
  });
});
