/**
 * Per-namespace confinement of training pods, evaluated (not string-compared) with an IAM
 * policy simulator on the policies the program registers: the training role's S3 policy, the
 * bucket policy, and the Pod Identity trust policies.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { decide } from "./iam-simulator.ts";
import { baseConfig, one, runProgram, type Recorded } from "./harness.ts";

let resources: Recorded[];
let bucket: string;
beforeAll(async () => {
  let outputs: Record<string, unknown>;
  ({ resources, outputs } = await runProgram(baseConfig));
  bucket = String(outputs["bucketName"]);
});

const policyOf = (type: string, name: string, key = "policy") =>
  JSON.parse(String(one(resources, type, name).inputs[key])) as unknown;

describe("a Pod Identity session tagged kubernetes-namespace=vision", () => {
  const identity = () => [policyOf("aws:iam/rolePolicy:RolePolicy", "training-s3")];
  const bucketPolicy = () => policyOf("aws:s3/bucketPolicy:BucketPolicy", "storage-tls-only");
  const session = { "aws:PrincipalTag/kubernetes-namespace": "vision" };
  const s3 = (action: string, key: string | undefined, extra: Record<string, string> = {}) =>
    decide(
      identity(),
      {
        action,
        resource: key === undefined ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}`,
        context: { ...session, ...extra },
      },
      bucketPolicy(),
    );

  it("reads and writes its own prefix", async () => {
    for (const action of ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"])
      expect(await s3(action, "vision/runs/a/ckpt/epoch_1.pth"), action).toBe("Allowed");
    expect(await s3("s3:ListBucket", undefined, { "s3:prefix": "vision/runs/" })).toBe("Allowed");
  });

  it("cannot touch another team's prefix, nor list it or the bucket root", async () => {
    for (const action of ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
      expect(await s3(action, "other/runs/a/ckpt/epoch_1.pth"), action).toBe("ImplicitlyDenied");
    expect(await s3("s3:ListBucket", undefined, { "s3:prefix": "other/" })).toBe(
      "ImplicitlyDenied",
    );
    expect(await s3("s3:ListBucket", undefined, { "s3:prefix": "" })).toBe("ImplicitlyDenied");
    // A namespace called "vision-2" must not read "vision/..." by prefix matching.
    expect(
      await decide(identity(), {
        action: "s3:GetObject",
        resource: `arn:aws:s3:::${bucket}/vision/x`,
        context: { "aws:PrincipalTag/kubernetes-namespace": "vision-2" },
      }),
    ).toBe("ImplicitlyDenied");
  });

  it("cannot delete object versions (checkpoints stay recoverable)", async () => {
    for (const action of ["s3:DeleteObjectVersion", "s3:PutLifecycleConfiguration"])
      expect(await s3(action, action.includes("Lifecycle") ? undefined : "vision/x"), action).toBe(
        "ImplicitlyDenied",
      );
  });

  it("is refused without TLS, even on its own prefix", async () => {
    expect(await s3("s3:GetObject", "vision/x", { "aws:SecureTransport": "false" })).toBe(
      "ExplicitlyDenied",
    );
  });
});

describe("Pod Identity trust policies pin cluster, namespace and service account", () => {
  const assume = (roleName: string, tags: Record<string, string>, account = "123456789012") =>
    decide(
      [],
      {
        action: "sts:AssumeRole",
        principal: "pods.eks.amazonaws.com",
        resource: `arn:aws:iam::123456789012:role/${roleName}`,
        context: {
          "aws:SourceAccount": account,
          ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])),
        },
      },
      policyOf("aws:iam/role:Role", roleName, "assumeRolePolicy"),
    );
  const tags = (cluster: string, namespace: string, sa: string) => ({
    "eks-cluster-name": cluster,
    "kubernetes-namespace": namespace,
    "kubernetes-service-account": sa,
  });

  it("training role: this cluster's yunshi-training service account, in any team namespace", async () => {
    expect(await assume("training-role", tags("yunshi-dev", "vision", "yunshi-training"))).toBe(
      "Allowed",
    );
    expect(await assume("training-role", tags("yunshi-dev", "nlp", "yunshi-training"))).toBe(
      "Allowed",
    );
    expect(await assume("training-role", tags("other-cluster", "vision", "yunshi-training"))).toBe(
      "ImplicitlyDenied",
    );
    expect(await assume("training-role", tags("yunshi-dev", "vision", "default"))).toBe(
      "ImplicitlyDenied",
    );
    expect(
      await assume(
        "training-role",
        tags("yunshi-dev", "vision", "yunshi-training"),
        "999999999999",
      ),
    ).toBe("ImplicitlyDenied");
  });

  it("Karpenter role: only kube-system/karpenter of this cluster", async () => {
    expect(
      await assume("karpenter-controller", tags("yunshi-dev", "kube-system", "karpenter")),
    ).toBe("Allowed");
    expect(await assume("karpenter-controller", tags("yunshi-dev", "vision", "karpenter"))).toBe(
      "ImplicitlyDenied",
    );
    expect(
      await assume("karpenter-controller", tags("other-cluster", "kube-system", "karpenter")),
    ).toBe("ImplicitlyDenied");
  });
});
