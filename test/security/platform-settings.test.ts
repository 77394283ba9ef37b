/**
 * Issue 10, item 6: platform settings from flags and from the cluster's `yunshi-platform`
 * ConfigMap obey the same rules (DNS-1123, label lengths, bucket naming, regions, image
 * references) and a bad one is invalid input: exit 2, nothing on stdout, nothing applied.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLATFORM_CONFIGMAP_NAME } from "../../jobs/platform.ts";
import {
  cli,
  installPlatform,
  NS,
  startCluster,
  writeSpec,
  type Cluster,
} from "../cluster/harness.ts";

const SPEC = "examples/cn-traffic-faster-rcnn.yaml";
const digest = `sha256:${"ab".repeat(32)}`;

/** [flag, bad value, what the message must say] */
const badFlags: ReadonlyArray<readonly [string, string, RegExp]> = [
  ["--queue", "Team_GPU", /DNS-1123 label/],
  ["--queue", "q".repeat(64), /at most 63 characters/],
  ["--service-account", "-training", /DNS-1123 subdomain/],
  ["--service-account", "a..b", /DNS-1123 subdomain/],
  ["--bucket", "xn--bucket", /reserved prefix/],
  ["--bucket", "my..bucket", /adjacent periods/],
  ["--bucket", "192.168.1.1", /IP address/],
  ["--bucket", "ab", /3 to 63 characters/],
  ["--region", "us-west", /AWS region/],
  ["--region", "us-west-2\nx", /AWS region/],
  ["--trainer-image", "Registry/Trainer:1", /image reference/],
  ["--trainer-image", "trainer:1 --privileged", /image reference/],
  ["--agent-image", "agent@sha256:abc", /image reference/],
  ["--agent-image", `agent@sha256:${"a".repeat(63)}`, /64 hex digits/],
  ["--s3-endpoint", "ftp://minio:9000", /http/],
  ["--s3-endpoint", "http://minio:9000/$(AWS_SECRET_ACCESS_KEY)", /scheme, host and port only/],
];

describe("platform flags", () => {
  it.each(badFlags)("%s %j → exit 2 naming the flag", async (flag, value, message) => {
    for (const command of ["render", "validate"]) {
      const r = await cli(command, SPEC, flag, value);
      expect(r.code, r.err).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toContain(flag);
      expect(r.err).toMatch(message);
    }
  });

  it("--namespace must be a DNS-1123 label (a spec without namespace)", async () => {
    const r = await cli("validate", "examples/quickstart.yaml", "--namespace", "Team A");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--namespace "Team A": .*DNS-1123/);
  });

  it("hides credentials of an endpoint URL", async () => {
    const r = await cli("render", SPEC, "--s3-endpoint", "http://admin:hunter2@minio:9000/x");
    expect(r.code).toBe(2);
    expect(r.err).not.toContain("hunter2");
    expect(r.err).toContain("no credentials");
  });

  it("accepts real references: registry with port, nested path, tag and digest", async () => {
    const r = await cli(
      "render",
      SPEC,
      "--trainer-image",
      `registry.example.com:5000/ml/yunshi/trainer:0.1.0@${digest}`,
      "--agent-image",
      "localhost/agent",
      "--service-account",
      "training.vision",
      "--region",
      "us-gov-west-1",
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`registry.example.com:5000/ml/yunshi/trainer:0.1.0@${digest}`);
  });
});

describe("the cluster's yunshi-platform ConfigMap", () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster();
  });
  afterAll(async () => {
    await c.close();
  });

  const withData = (patch: Record<string, string>): void => {
    const cm = c.fake.get("v1", "ConfigMap", NS, PLATFORM_CONFIGMAP_NAME) as {
      data: Record<string, string>;
    };
    c.fake.upsert({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: PLATFORM_CONFIGMAP_NAME, namespace: NS },
      data: { ...cm.data, ...patch },
    });
  };

  it.each([
    ["bucket", "Acme_Training", /bucket "Acme_Training": .*S3 bucket naming/],
    ["queue", "team gpu", /queue "team gpu": .*DNS-1123 label/],
    ["trainerImage", "trainer:latest; curl evil", /trainerImage .*image reference/],
    ["serviceAccount", "", /serviceAccount "": must not be empty/],
    ["region", "mars-1", /region "mars-1": an AWS region/],
  ])("a bad %s is invalid input: exit 2, nothing applied", async (key, value, message) => {
    withData({ [key]: value });
    try {
      const r = await cli("submit", writeSpec(c.dir));
      expect(r.code, r.err).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toContain(`ConfigMap ${NS}/${PLATFORM_CONFIGMAP_NAME}`);
      expect(r.err).toMatch(message);
      expect(r.err).toMatch(/fix: .*pulumi up/);
      expect(c.fake.list("batch/v1", "Job", NS)).toEqual([]);
    } finally {
      installPlatform(c.fake, NS);
    }
  });

  it("an unknown key is named", async () => {
    withData({ nodeOptions: "--require /tmp/x.js" });
    try {
      const r = await cli("submit", writeSpec(c.dir));
      expect(r.code).toBe(2);
      expect(r.err).toContain('unknown key(s) "nodeOptions"');
      // Version skew is the usual cause: the message says which CLI read it.
      expect(r.err).toMatch(/a platform newer than this CLI \d+\.\d+\.\d+: upgrade yunshi/);
    } finally {
      installPlatform(c.fake, NS);
    }
  });
});
