/**
 * Runs the Pulumi program under `pulumi.runtime.setMocks` and records every registration
 * (type, name, inputs, parent, dependencies, protect/retainOnDelete), so tests can assert
 * on the resource graph the engine would see. The mocks return outputs shaped like the real
 * providers' (ARNs, URLs, kubeconfig JSON, image refs); unknown invokes fail loudly.
 */
import * as pulumi from "@pulumi/pulumi";

export const ACCOUNT = "123456789012";
export const REGION = "us-east-1";
export const PROGRAM = "../../infra/index.ts";

/** The AWS partition the mocks report (getPartition and every ARN they make up). */
let partition = "aws";
/** Images already in ECR, by repository name (what getImages reports). */
let ecrImages: Readonly<Record<string, readonly { imageTag: string; imageDigest: string }[]>> = {};

export interface Recorded {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  remote: boolean;
  parent: string;
  inputs: Record<string, unknown>;
  dependencies: string[];
  /** input property → URNs it depends on */
  propertyDependencies: Record<string, string[]>;
  protect: boolean;
  retainOnDelete: boolean;
}

/** The minimum valid config: apiAccessCidrs has no default (secure by default). */
export const baseConfig: Record<string, string> = {
  "aws:region": REGION,
  "yunshi:apiAccessCidrs": JSON.stringify(["81.2.69.0/24"]),
  "yunshi:teams": JSON.stringify([
    { name: "vision", spotGpus: 8, onDemandGpus: 2, weight: 2 },
    { name: "nlp", spotGpus: 4 },
  ]),
};

function kubeconfig(clusterName: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: clusterName,
        cluster: {
          server: "https://ABCDEF0123456789.gr7.us-east-1.eks.amazonaws.com",
          "certificate-authority-data": "LS0tLS1CRUdJTi0=",
        },
      },
    ],
    contexts: [{ name: "aws", context: { cluster: clusterName, user: "aws" } }],
    "current-context": "aws",
    users: [
      {
        name: "aws",
        user: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1beta1",
            command: "aws",
            args: ["eks", "get-token", "--cluster-name", clusterName, "--output", "json"],
          },
        },
      },
    ],
  });
}

function outputsFor(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  const arn = (service: string, res: string) =>
    `arn:${partition}:${service}:${REGION}:${ACCOUNT}:${res}`;
  switch (type) {
    case "eks:index:Cluster": {
      const clusterName = String(inputs["name"]);
      return {
        kubeconfigJson: kubeconfig(clusterName),
        kubeconfig: JSON.parse(kubeconfig(clusterName)) as unknown,
        clusterSecurityGroupId: "sg-0c1a2b3c4d5e6f701",
        nodeSecurityGroupId: "sg-0c1a2b3c4d5e6f701",
      };
    }
    case "eks:index:ManagedNodeGroup":
      return { placementGroupName: "" };
    case "aws:s3/bucket:Bucket": {
      const prefix =
        typeof inputs["bucketPrefix"] === "string" ? inputs["bucketPrefix"] : `${name}-`;
      const bucket =
        typeof inputs["bucket"] === "string" ? inputs["bucket"] : `${prefix}20261127000000000001`;
      return { ...inputs, bucket, arn: `arn:${partition}:s3:::${bucket}`, region: REGION };
    }
    case "aws:iam/role:Role":
      return {
        ...inputs,
        name: `${name}-7d1e2f3`,
        arn: `arn:${partition}:iam::${ACCOUNT}:role/${name}-7d1e2f3`,
      };
    case "aws:sqs/queue:Queue": {
      const q = typeof inputs["name"] === "string" ? inputs["name"] : name;
      return {
        ...inputs,
        name: q,
        arn: arn("sqs", q),
        url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${q}`,
      };
    }
    case "aws:ecr/repository:Repository": {
      const repo = String(inputs["name"]);
      return {
        ...inputs,
        registryId: ACCOUNT,
        arn: arn("ecr", `repository/${repo}`),
        repositoryUrl: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${repo}`,
      };
    }
    case "docker-build:index:Image": {
      const tags = inputs["tags"] as string[];
      const digest = "sha256:" + "ab".repeat(32);
      return { ...inputs, digest, ref: `${tags[0]}@${digest}`, contextHash: "cafe" };
    }
    case "aws:eks/cluster:Cluster":
      throw new Error("the program must use eks.Cluster (component), not aws.eks.Cluster");
    default:
      return { ...inputs, arn: arn("mock", `${type}/${name}`) };
  }
}

function callResult(token: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (token) {
    case "aws:index/getAvailabilityZones:getAvailabilityZones":
      return {
        names: ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"],
        zoneIds: ["use1-az1", "use1-az2", "use1-az4", "use1-az6"],
        id: REGION,
      };
    case "aws:index/getPartition:getPartition":
      return { partition, dnsSuffix: "amazonaws.com", id: partition };
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return {
        accountId: ACCOUNT,
        arn: `arn:${partition}:iam::${ACCOUNT}:user/ci`,
        userId: "AIDAEXAMPLE",
        id: ACCOUNT,
      };
    case "aws:ecr/getImages:getImages": {
      const repositoryName = String(inputs["repositoryName"]);
      return { repositoryName, imageIds: ecrImages[repositoryName] ?? [], id: repositoryName };
    }
    case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
      return {
        registryId: inputs["registryId"],
        proxyEndpoint: `https://${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`,
        userName: "AWS",
        password: "mock-ecr-password",
        authorizationToken: "QVdTOm1vY2s=",
        expiresAt: "2026-11-28T12:00:00Z",
        id: REGION,
      };
    default:
      throw new Error(`unmocked invoke ${token}: add a realistic result to test/infra/harness.ts`);
  }
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getRemote(): boolean;
  getProtect(): boolean | undefined;
  getRetainondelete(): boolean | undefined;
  getDependenciesList(): string[];
  getPropertydependenciesMap(): {
    forEach(cb: (deps: { getUrnsList(): string[] }, key: string) => void): void;
  };
}
interface RecordingMonitor {
  registerResource(
    req: RegisterRequest,
    cb: (err: unknown, res?: { getUrn(): string }) => void,
  ): Promise<void>;
}

/**
 * Set config and mocks, import the program, wait for every registration.
 * Call once per test file (vitest isolates files; the program module is cached per file).
 */
export async function runProgram(
  config: Record<string, string>,
  options: {
    readonly partition?: string;
    readonly ecrImages?: Record<string, { imageTag: string; imageDigest: string }[]>;
  } = {},
): Promise<{
  resources: Recorded[];
  outputs: Record<string, unknown>;
  /** The program's exports as they are (Outputs), e.g. to check secrecy. */
  exports: Record<string, unknown>;
}> {
  const resources: Recorded[] = [];
  partition = options.partition ?? "aws";
  ecrImages = options.ecrImages ?? {};
  pulumi.runtime.setAllConfig(config);
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const state = outputsFor(args.type, args.name, args.inputs as Record<string, unknown>);
        const base = args.type.split(":").pop() ?? args.type;
        return { id: `${base.toLowerCase()}-${args.name}`, state };
      },
      call: (args) => callResult(args.token, args.inputs as Record<string, unknown>),
    },
    "yunshi",
    "dev",
    false,
  );
  const monitor = pulumi.runtime.getMonitor() as unknown as RecordingMonitor;
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) =>
    original(req, (err, res) => {
      if (!err && res) {
        const rec: Recorded = {
          urn: res.getUrn(),
          type: req.getType(),
          name: req.getName(),
          custom: req.getCustom(),
          remote: req.getRemote(),
          parent: req.getParent(),
          inputs: {},
          dependencies: req.getDependenciesList(),
          propertyDependencies: {},
          protect: req.getProtect() === true,
          retainOnDelete: req.getRetainondelete() === true,
        };
        req.getPropertydependenciesMap().forEach((deps, key) => {
          rec.propertyDependencies[key] = deps.getUrnsList();
        });
        resources.push(rec);
      }
      cb(err, res);
    });
  // Inputs as the mock saw them (deserialised), keyed by type+name.
  const seenInputs = new Map<string, Record<string, unknown>>();
  const mockMonitor = monitor as unknown as { mocks: pulumi.runtime.Mocks };
  const newResource = mockMonitor.mocks.newResource.bind(mockMonitor.mocks);
  mockMonitor.mocks.newResource = (args) => {
    seenInputs.set(`${args.type}::${args.name}`, args.inputs as Record<string, unknown>);
    return newResource(args);
  };

  const program = (await import(PROGRAM)) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(program)) {
    outputs[key] = pulumi.Output.isInstance(value) ? await unwrap(value) : value;
  }
  // Registrations chain on each other's outputs; wait until no new ones appear.
  let seen = -1;
  while (seen !== resources.length) {
    seen = resources.length;
    await pulumi.runtime.awaitStackRegistrations();
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const r of resources) r.inputs = seenInputs.get(`${r.type}::${r.name}`) ?? {};
  return { resources, outputs, exports: program };
}

export function unwrap<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

export function ofType(resources: readonly Recorded[], type: string): Recorded[] {
  return resources.filter((r) => r.type === type);
}

export function one(resources: readonly Recorded[], type: string, name: string): Recorded {
  const r = resources.find((x) => x.type === type && x.name === name);
  if (r === undefined)
    throw new Error(
      `no ${type} named ${name}; have: ${ofType(resources, type)
        .map((x) => x.name)
        .join(", ")}`,
    );
  return r;
}
