/**
 * The whole Pulumi program under mocks, with the default configuration plus two teams:
 * assertions on the properties that make the platform safe, cheap when idle and usable by
 * `submit`.
 */
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { PLATFORM_CONFIGMAP_NAME, platformFromConfigMapData } from "../../jobs/platform.ts";
import { charts } from "../../infra/versions.ts";
import { baseConfig, one, ofType, runProgram, unwrap, type Recorded } from "./harness.ts";

let resources: Recorded[];
let outputs: Record<string, unknown>;
let exports: Record<string, unknown>;

beforeAll(async () => {
  ({ resources, outputs, exports } = await runProgram(baseConfig));
});

interface PolicyStatement {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
const statements = (json: unknown): PolicyStatement[] =>
  (JSON.parse(String(json)) as { Statement: PolicyStatement[] }).Statement;
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
const spec = (r: Recorded) => r.inputs["spec"] as Record<string, unknown>;

describe("storage bucket", () => {
  const bucketName = () => String(outputs["bucketName"]);

  it("is encrypted, versioned and blocks all public access", () => {
    const sse = one(
      resources,
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
      "storage-encryption",
    );
    expect(sse.inputs["bucket"]).toBe(`bucket-storage-bucket`);
    expect(sse.inputs["rules"]).toEqual([
      { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true },
    ]);
    const versioning = one(
      resources,
      "aws:s3/bucketVersioning:BucketVersioning",
      "storage-versioning",
    );
    expect(versioning.inputs["versioningConfiguration"]).toEqual({ status: "Enabled" });
    const pab = one(
      resources,
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
      "storage-public-access",
    );
    for (const flag of [
      "blockPublicAcls",
      "blockPublicPolicy",
      "ignorePublicAcls",
      "restrictPublicBuckets",
    ])
      expect(pab.inputs[flag], flag).toBe(true);
  });

  it("denies every non-TLS request", () => {
    const policy = one(resources, "aws:s3/bucketPolicy:BucketPolicy", "storage-tls-only");
    const [deny] = statements(policy.inputs["policy"]);
    expect(deny).toMatchObject({
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
    expect(deny!.Resource).toEqual([
      `arn:aws:s3:::${bucketName()}`,
      `arn:aws:s3:::${bucketName()}/*`,
    ]);
  });

  it("under checkpoint churn: expires noncurrent versions soon, removes expired delete markers, aborts stale uploads", () => {
    const lc = one(
      resources,
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
      "storage-lifecycle",
    );
    const rules = lc.inputs["rules"] as {
      status: string;
      filter?: Record<string, unknown>;
      abortIncompleteMultipartUpload?: { daysAfterInitiation: number };
      noncurrentVersionExpiration?: { noncurrentDays: number };
      expiration?: { expiredObjectDeleteMarker?: boolean };
    }[];
    const enabled = rules.filter((r) => r.status === "Enabled");
    // Every rule names its scope explicitly: an empty `filter: {}` draws a provider warning.
    for (const r of enabled) expect(r.filter).toEqual({ prefix: "" });
    const days = (pick: (r: (typeof rules)[number]) => number | undefined) =>
      enabled.map(pick).find((d) => d !== undefined);
    expect(days((r) => r.noncurrentVersionExpiration?.noncurrentDays)).toBe(3);
    expect(days((r) => r.abortIncompleteMultipartUpload?.daysAfterInitiation)).toBe(1);
    expect(enabled.some((r) => r.expiration?.expiredObjectDeleteMarker === true)).toBe(true);
  });

  it("has a readable name derived from the cluster", () => {
    expect(bucketName()).toMatch(/^yunshi-dev-ckpt-/);
  });

  it("is protected and retained on delete, and so are its guard rails", () => {
    const bucket = one(resources, "aws:s3/bucket:Bucket", "storage-bucket");
    expect(bucket.protect).toBe(true);
    expect(bucket.retainOnDelete).toBe(true);
    expect(bucket.inputs["forceDestroy"]).toBe(false);
    for (const r of resources.filter(
      (x) => x.type.startsWith("aws:s3/") && x.type !== "aws:s3/bucket:Bucket",
    ))
      expect(r.retainOnDelete, r.name).toBe(true);
  });
});

describe("training role", () => {
  it("is assumable only through Pod Identity with session tags", () => {
    const role = one(resources, "aws:iam/role:Role", "training-role");
    const [trust] = statements(role.inputs["assumeRolePolicy"]);
    expect(trust).toMatchObject({
      Effect: "Allow",
      Principal: { Service: "pods.eks.amazonaws.com" },
    });
    expect(list(trust!.Action).sort()).toEqual(["sts:AssumeRole", "sts:TagSession"]);
  });

  it("reaches only <bucket>/<own namespace>/* and grants nothing broader", () => {
    const bucket = String(outputs["bucketName"]);
    const policy = one(resources, "aws:iam/rolePolicy:RolePolicy", "training-s3");
    const stmts = statements(policy.inputs["policy"]);
    const ns = "${aws:PrincipalTag/kubernetes-namespace}";
    for (const s of stmts) {
      expect(s.Effect).toBe("Allow");
      for (const a of list(s.Action)) {
        expect(a).toMatch(/^s3:[A-Za-z]+$/); // no wildcards, no other services
        if (a === "s3:ListBucket") {
          expect(s.Resource).toBe(`arn:aws:s3:::${bucket}`);
          expect(s.Condition).toEqual({ StringLike: { "s3:prefix": [`${ns}/*`] } });
        } else {
          expect(list(s.Resource)).toEqual([`arn:aws:s3:::${bucket}/${ns}/*`]);
        }
      }
    }
    const actions = stmts.flatMap((s) => list(s.Action));
    expect(actions).toEqual(
      expect.arrayContaining([
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "s3:AbortMultipartUpload",
      ]),
    );
  });

  it("is associated with each team's training ServiceAccount", () => {
    const associations = ofType(
      resources,
      "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    ).filter((r) => r.name.startsWith("team-"));
    expect(associations.map((a) => a.inputs["namespace"]).sort()).toEqual(["nlp", "vision"]);
    for (const a of associations) {
      expect(a.inputs["serviceAccount"]).toBe("yunshi-training");
      expect(a.inputs["roleArn"]).toMatch(/:role\/training-role-/);
      expect(a.inputs["clusterName"]).toBe("yunshi-dev");
    }
    const sa = ofType(resources, "kubernetes:core/v1:ServiceAccount").map(
      (r) => r.inputs["metadata"],
    );
    expect(sa).toContainEqual({ name: "yunshi-training", namespace: "vision" });
  });
});

describe("GPU capacity", () => {
  it("NodePool carries the GPU taint and label, both capacity types, a GPU limit and empty-node consolidation", () => {
    const pool = one(resources, "kubernetes:karpenter.sh/v1:NodePool", "pools-gpu-nodepool");
    const s = spec(pool) as {
      template: {
        metadata: { labels: Record<string, string> };
        spec: { taints: unknown[]; requirements: { key: string; values: string[] }[] };
      };
      limits: Record<string, string>;
      disruption: Record<string, unknown>;
    };
    expect(s.template.spec.taints).toEqual([
      { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" },
    ]);
    expect(s.template.metadata.labels["nvidia.com/gpu.present"]).toBe("true");
    const req = (k: string) => s.template.spec.requirements.find((r) => r.key === k)?.values;
    expect(req("karpenter.sh/capacity-type")?.sort()).toEqual(["on-demand", "spot"]);
    expect(req("karpenter.k8s.aws/instance-family")).toEqual(["g5", "g6", "g6e"]);
    expect(s.limits).toEqual({ "nvidia.com/gpu": "16" });
    expect(s.disruption).toMatchObject({
      consolidationPolicy: "WhenEmpty",
      consolidateAfter: "5m",
    });
  });

  it("EC2NodeClass uses Karpenter's node role, the cluster security group and tagged private subnets", () => {
    const nc = one(
      resources,
      "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
      "pools-gpu-nodeclass",
    );
    const s = spec(nc);
    expect(s["role"]).toMatch(/^karpenter-node-/);
    expect(s["securityGroupSelectorTerms"]).toEqual([{ id: "sg-0c1a2b3c4d5e6f701" }]);
    expect(s["subnetSelectorTerms"]).toEqual([
      { tags: { "karpenter.sh/discovery": "yunshi-dev" } },
    ]);
    expect(s["metadataOptions"]).toMatchObject({
      httpTokens: "required",
      httpPutResponseHopLimit: 1,
    });
    const privateSubnet = one(resources, "aws:ec2/subnet:Subnet", "network-private-0");
    expect((privateSubnet.inputs["tags"] as Record<string, string>)["karpenter.sh/discovery"]).toBe(
      "yunshi-dev",
    );
    const access = one(resources, "aws:eks/accessEntry:AccessEntry", "karpenter-node");
    expect(access.inputs["type"]).toBe("EC2_LINUX");
  });

  it("wires the interruption queue: five EventBridge rules → SQS → Karpenter settings and IAM", () => {
    const queue = one(resources, "aws:sqs/queue:Queue", "karpenter-interruption-queue");
    const queueArn = `arn:aws:sqs:us-east-1:123456789012:${String(queue.inputs["name"])}`;
    const targets = ofType(resources, "aws:cloudwatch/eventTarget:EventTarget");
    expect(targets).toHaveLength(5);
    for (const t of targets) expect(t.inputs["arn"]).toBe(queueArn);
    const patterns = ofType(resources, "aws:cloudwatch/eventRule:EventRule").map(
      (r) =>
        (JSON.parse(String(r.inputs["eventPattern"])) as { "detail-type": string[] })[
          "detail-type"
        ][0],
    );
    expect(patterns.sort()).toEqual([
      "AWS Health Event",
      "EC2 Capacity Reservation Instance Interruption Warning",
      "EC2 Instance Rebalance Recommendation",
      "EC2 Instance State-change Notification",
      "EC2 Spot Instance Interruption Warning",
    ]);
    const release = one(resources, "kubernetes:helm.sh/v3:Release", "karpenter");
    const values = release.inputs["values"] as { settings: Record<string, string> };
    expect(values.settings).toEqual({
      clusterName: "yunshi-dev",
      interruptionQueue: queue.inputs["name"],
    });
    const controller = statements(
      one(resources, "aws:iam/policy:Policy", "karpenter-InterruptionPolicy").inputs["policy"],
    );
    expect(controller.find((s) => list(s.Action).includes("sqs:ReceiveMessage"))?.Resource).toBe(
      queueArn,
    );
  });

  it("installs the device plugin tolerating the GPU taint", () => {
    const release = one(resources, "kubernetes:helm.sh/v3:Release", "nvidia-device-plugin");
    const values = release.inputs["values"] as { tolerations: Record<string, string>[] };
    expect(values.tolerations).toContainEqual({
      key: "nvidia.com/gpu",
      operator: "Exists",
      effect: "NoSchedule",
    });
  });
});

describe("Kueue", () => {
  it("manages batch/v1 Jobs and JobSets with fair sharing", () => {
    const release = one(resources, "kubernetes:helm.sh/v3:Release", "kueue");
    const yaml = (
      release.inputs["values"] as { managerConfig: { controllerManagerConfigYaml: string } }
    ).managerConfig.controllerManagerConfigYaml;
    const config = parseYaml(yaml) as Record<string, unknown>;
    expect(config["apiVersion"]).toBe("config.kueue.x-k8s.io/v1beta2");
    expect(config["integrations"]).toEqual({ frameworks: ["batch/job", "jobset.x-k8s.io/jobset"] });
    expect(config["fairSharing"]).toBeDefined();
  });

  // A flavor's tolerations are injected into every pod Kueue admits, CPU-only ones included:
  // the GPU toleration belongs on GPU pods only (the renderer adds it), never on a flavor.
  it("has spot and on-demand flavors that pin the capacity type and tolerate nothing", () => {
    for (const capacity of ["spot", "on-demand"]) {
      const flavor = one(
        resources,
        "kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor",
        `kueue-flavor-${capacity}`,
      );
      expect(flavor.inputs["metadata"]).toEqual({ name: capacity });
      expect(spec(flavor)).toEqual({ nodeLabels: { "karpenter.sh/capacity-type": capacity } });
    }
  });

  it("gives each team a ClusterQueue with its GPU quota in one cohort, and a LocalQueue", () => {
    const cq = one(resources, "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue", "team-vision-cq");
    const s = spec(cq) as {
      cohortName: string;
      fairSharing: { weight: string };
      resourceGroups: {
        coveredResources: string[];
        flavors: { name: string; resources: { name: string; nominalQuota: string }[] }[];
      }[];
    };
    expect(s.cohortName).toBe("yunshi");
    expect(spec(cq)["namespaceSelector"]).toEqual({
      matchLabels: { "kubernetes.io/metadata.name": "vision" },
    });
    expect(spec(cq)["preemption"]).toEqual({
      reclaimWithinCohort: "Any",
      withinClusterQueue: "LowerPriority",
    });
    expect(s.fairSharing).toEqual({ weight: "2" });
    const gpu = (flavor: string) =>
      s.resourceGroups[0]!.flavors.find((f) => f.name === flavor)!.resources.find(
        (r) => r.name === "nvidia.com/gpu",
      )!.nominalQuota;
    expect(gpu("spot")).toBe("8");
    expect(gpu("on-demand")).toBe("2");
    expect(s.resourceGroups[0]!.coveredResources).toEqual(["cpu", "memory", "nvidia.com/gpu"]);
    const lq = one(resources, "kubernetes:kueue.x-k8s.io/v1beta2:LocalQueue", "team-vision-lq");
    expect(lq.inputs["metadata"]).toEqual({ name: "default", namespace: "vision" });
    expect(spec(lq)).toEqual({ clusterQueue: "vision" });
  });
});

describe("platform ConfigMap", () => {
  it("tells submit the bucket, region, image refs, queue, service account and limits in every team namespace", () => {
    // Each team's own quota; one run may borrow the cohort's (vision 8+2, nlp 4+0), up to gpu.maxGpus.
    const quota = {
      vision: { spotGpuQuota: "8", onDemandGpuQuota: "2" },
      nlp: { spotGpuQuota: "4", onDemandGpuQuota: "0" },
    };
    for (const ns of ["vision", "nlp"] as const) {
      const cm = one(resources, "kubernetes:core/v1:ConfigMap", `team-${ns}-platform`);
      expect(cm.inputs["metadata"]).toEqual({ name: PLATFORM_CONFIGMAP_NAME, namespace: ns });
      const ctx = platformFromConfigMapData(ns, cm.inputs["data"] as Record<string, string>);
      expect(ctx).toEqual({
        namespace: ns,
        bucket: outputs["bucketName"],
        region: "us-east-1",
        trainerImage: outputs["trainerImage"],
        checkpointAgentImage: outputs["checkpointAgentImage"],
        queue: "default",
        serviceAccount: "yunshi-training",
        ...quota[ns],
        maxSpotGpus: "12",
        maxOnDemandGpus: "2",
        maxGpusPerNode: "8",
        maxCpuPerNode: "192",
        maxMemoryGiBPerNode: "1536",
        gpuInstanceFamilies: "g5,g6,g6e",
      });
    }
    expect(outputs["trainerImage"]).toMatch(
      /^123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com\/yunshi-dev\/trainer:[0-9a-f]{12}@sha256:[0-9a-f]{64}$/,
    );
  });
});

describe("registry and images", () => {
  it("scans on push and keeps tags immutable except the build cache", () => {
    for (const r of ofType(resources, "aws:ecr/repository:Repository")) {
      expect(r.inputs["imageScanningConfiguration"]).toEqual({ scanOnPush: true });
      expect(r.inputs["imageTagMutability"]).toBe("IMMUTABLE_WITH_EXCLUSION");
      expect(r.inputs["imageTagMutabilityExclusionFilters"]).toEqual([
        { filter: "buildcache", filterType: "WILDCARD" },
      ]);
    }
  });

  it("builds and pushes both new images from images/<name>, exporting no cache by default", () => {
    for (const name of ["trainer", "checkpoint-agent"]) {
      const img = one(resources, "docker-build:index:Image", `registry-${name}`);
      expect(img.inputs["context"]).toEqual({ location: `./images/${name}` });
      expect(img.inputs["dockerfile"]).toEqual({ location: `./images/${name}/Dockerfile` });
      expect(img.inputs["push"]).toBe(true);
      // The default `docker` build driver refuses cache export: opt-in only.
      expect(img.inputs["cacheTo"]).toBeUndefined();
      expect(img.inputs["cacheFrom"]).toEqual([
        {
          registry: {
            ref: `123456789012.dkr.ecr.us-east-1.amazonaws.com/yunshi-dev/${name}:buildcache`,
          },
        },
      ]);
    }
  });
});

describe("cluster and network", () => {
  it("pins every Helm chart to the version in infra/versions.ts", () => {
    const releases = ofType(resources, "kubernetes:helm.sh/v3:Release");
    expect(releases.map((r) => r.name).sort()).toEqual([
      "jobset",
      "karpenter",
      "karpenter-crd",
      "kueue",
      "nvidia-device-plugin",
    ]);
    const pinned = Object.values(charts).map((c) => `${c.chart}@${c.version}`);
    for (const r of releases) {
      expect(String(r.inputs["version"]), r.name).toMatch(/^\d+\.\d+\.\d+$/);
      expect(pinned).toContain(`${String(r.inputs["chart"])}@${String(r.inputs["version"])}`);
    }
  });

  it("opens the API endpoint only to the configured CIDRs", () => {
    const eks = one(resources, "eks:index:Cluster", "cluster-eks");
    expect(eks.inputs["publicAccessCidrs"]).toEqual(["81.2.69.0/24"]);
    expect(eks.inputs["authenticationMode"]).toBe("API");
    expect(eks.inputs["skipDefaultNodeGroup"]).toBe(true);
  });

  it("keeps team pods off the system nodes and away from their instance metadata", () => {
    const ng = one(resources, "eks:index:ManagedNodeGroup", "cluster-system");
    expect(ng.inputs["taints"]).toEqual([
      { key: "CriticalAddonsOnly", value: "true", effect: "NO_SCHEDULE" },
    ]);
    const lt = one(resources, "aws:ec2/launchTemplate:LaunchTemplate", "cluster-system");
    expect((ng.inputs["launchTemplate"] as { id: string }).id).toBe(
      "launchtemplate-cluster-system",
    );
    expect(lt.inputs["metadataOptions"]).toMatchObject({
      httpTokens: "required",
      httpPutResponseHopLimit: 1,
    });
    // Every controller that must run there tolerates the taint and selects the system pool.
    const values = (n: string) =>
      one(resources, "kubernetes:helm.sh/v3:Release", n).inputs["values"] as Record<
        string,
        Record<string, unknown>
      >;
    const placement = {
      nodeSelector: { "yunshi.dev/pool": "system" },
      tolerations: [{ key: "CriticalAddonsOnly", operator: "Exists", effect: "NoSchedule" }],
    };
    expect(values("kueue")["controllerManager"]).toEqual(placement);
    expect(values("jobset")["controller"]).toEqual(placement);
    const coredns = one(resources, "aws:eks/addon:Addon", "cluster-coredns");
    expect(JSON.parse(String(coredns.inputs["configurationValues"]))).toEqual(placement);
  });

  it("manages CoreDNS as an EKS add-on and the CRDs of Karpenter and JobSet so upgrades reach them", () => {
    const eks = one(resources, "eks:index:Cluster", "cluster-eks");
    expect(eks.inputs["corednsAddonOptions"]).toMatchObject({ enabled: false });
    expect(one(resources, "aws:eks/addon:Addon", "cluster-coredns").inputs).toMatchObject({
      addonName: "coredns",
      resolveConflictsOnCreate: "OVERWRITE",
    });
    const release = (n: string) => one(resources, "kubernetes:helm.sh/v3:Release", n).inputs;
    expect(release("karpenter")["skipCrds"]).toBe(true);
    expect(release("karpenter-crd")["version"]).toBe(release("karpenter")["version"]);
    expect(release("jobset")["skipCrds"]).toBe(true);
    const crds = one(resources, "kubernetes:yaml/v2:ConfigFile", "jobset-crds");
    expect(String(crds.inputs["file"])).toContain(`/jobset/v${charts.jobset.version}/`);
  });

  it("does not create account-wide roles unless asked", () => {
    expect(ofType(resources, "aws:iam/serviceLinkedRole:ServiceLinkedRole")).toEqual([]);
  });

  it("runs the Pod Identity agent and a small on-demand system node group", () => {
    expect(
      one(resources, "aws:eks/addon:Addon", "cluster-pod-identity-agent").inputs["addonName"],
    ).toBe("eks-pod-identity-agent");
    const ng = one(resources, "eks:index:ManagedNodeGroup", "cluster-system");
    expect(ng.inputs["capacityType"]).toBe("ON_DEMAND");
    expect(ng.inputs["instanceTypes"]).toEqual(["t3.medium"]);
    expect(ng.inputs["scalingConfig"]).toEqual({ minSize: 2, desiredSize: 2, maxSize: 3 });
  });

  it("spans two AZs and routes S3 through a gateway endpoint on every private route table", () => {
    expect(
      ofType(resources, "aws:ec2/subnet:Subnet")
        .map((s) => s.inputs["availabilityZone"])
        .sort(),
    ).toEqual(["us-east-1a", "us-east-1a", "us-east-1b", "us-east-1b"]);
    const endpoint = one(resources, "aws:ec2/vpcEndpoint:VpcEndpoint", "network-s3");
    expect(endpoint.inputs).toMatchObject({
      vpcEndpointType: "Gateway",
      serviceName: "com.amazonaws.us-east-1.s3",
    });
    expect(endpoint.inputs["routeTableIds"]).toEqual([
      "routetable-network-private-rt-0",
      "routetable-network-private-rt-1",
    ]);
    expect(ofType(resources, "aws:ec2/natGateway:NatGateway")).toHaveLength(1);
  });
});

describe("stack outputs", () => {
  it("exports the cluster, a secret kubeconfig, bucket, image refs, queues and next steps", async () => {
    expect(outputs["clusterName"]).toBe("yunshi-dev");
    expect(pulumi.Output.isInstance(exports["kubeconfig"])).toBe(true);
    expect(await pulumi.isSecret(exports["kubeconfig"] as pulumi.Output<string>)).toBe(true);
    expect(JSON.parse(await unwrap(exports["kubeconfig"] as pulumi.Output<string>))).toMatchObject({
      kind: "Config",
    });
    expect(outputs["queues"]).toEqual({ vision: "default", nlp: "default" });
    expect((outputs["nextSteps"] as string[])[0]).toBe(
      "aws eks update-kubeconfig --name yunshi-dev --region us-east-1",
    );
  });
});

describe("resource graph", () => {
  const byUrn = () => new Map(resources.map((r) => [r.urn, r]));

  it("parents every resource under a yunshi component (readable preview tree)", () => {
    const index = byUrn();
    const orphans = resources
      .filter((r) => !r.type.startsWith("yunshi:infra:"))
      .filter((r) => {
        let p = index.get(r.parent);
        while (p !== undefined && !p.type.startsWith("yunshi:infra:")) p = index.get(p.parent);
        return p === undefined;
      });
    expect(orphans.map((r) => `${r.type} ${r.name}`)).toEqual([]);
    // Components sit at the stack root or inside another yunshi component.
    for (const c of resources.filter((r) => r.type.startsWith("yunshi:infra:")))
      expect(c.parent === "" || index.get(c.parent)?.type.startsWith("yunshi:infra:"), c.name).toBe(
        true,
      );
  });

  it("has no dependency cycles", () => {
    const index = byUrn();
    const edges = new Map(
      resources.map((r) => [r.urn, [...r.dependencies, ...(r.parent ? [r.parent] : [])]]),
    );
    const state = new Map<string, "visiting" | "done">();
    const cycle: string[] = [];
    const visit = (urn: string, path: string[]): boolean => {
      if (state.get(urn) === "done") return false;
      if (state.get(urn) === "visiting") {
        cycle.push(...path, urn);
        return true;
      }
      state.set(urn, "visiting");
      for (const next of edges.get(urn) ?? [])
        if (index.has(next) && visit(next, [...path, urn])) return true;
      state.set(urn, "done");
      return false;
    };
    for (const r of resources) visit(r.urn, []);
    expect(cycle).toEqual([]);
    // The graph is not trivially flat: in-cluster objects wait for their controllers.
    const flavor = one(
      resources,
      "kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor",
      "kueue-flavor-spot",
    );
    expect(flavor.dependencies).toContain(
      one(resources, "kubernetes:helm.sh/v3:Release", "kueue").urn,
    );
  });

  it("gives every resource a unique name within its type", () => {
    const keys = resources.map((r) => `${r.type}::${r.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe("admission guard", () => {
  it("installs the job rules as a ValidatingAdmissionPolicy bound to the team namespaces", () => {
    const policy = one(
      resources,
      "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
      "admission-policy",
    );
    const text = JSON.stringify(policy.inputs["spec"]);
    // Images only from this stack's ECR registry; at most 8 GPUs per container.
    expect(text).toContain("123456789012.dkr.ecr.us-east-1.amazonaws.com/");
    expect(text).toContain("8");
    const binding = one(
      resources,
      "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
      "admission-binding",
    );
    const selector = (
      binding.inputs["spec"] as {
        matchResources: { namespaceSelector: { matchExpressions: { key: string }[] } };
      }
    ).matchResources.namespaceSelector.matchExpressions[0]!.key;
    // The label must be one the team namespaces actually carry.
    for (const ns of ["vision", "nlp"]) {
      const labels = (
        one(resources, "kubernetes:core/v1:Namespace", `team-${ns}-ns`).inputs["metadata"] as {
          labels: Record<string, string>;
        }
      ).labels;
      expect(Object.keys(labels)).toContain(selector);
    }
    expect(binding.dependencies).toContain(policy.urn);
  });
});
