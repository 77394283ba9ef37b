import { describe, expect, it } from "vitest";
import {
  bucketNameProblem,
  dnsLabelProblem,
  dnsSubdomainProblem,
  imageReferenceProblem,
  regionProblem,
} from "../../jobs/spec/identifiers.ts";
import { parseS3Uri } from "../../jobs/spec/s3-uri.ts";
import { httpsUrlProblem } from "../../jobs/spec/https-url.ts";

const digest = `sha256:${"0123456789abcdef".repeat(4)}`;

describe("names shared by the spec, the flags and the platform ConfigMap", () => {
  it("DNS-1123 labels and subdomains", () => {
    expect(dnsLabelProblem("team-a")).toBeUndefined();
    expect(dnsLabelProblem("a".repeat(64))).toMatch(/at most 63/);
    for (const bad of ["", "A", "-a", "a-", "a_b", "a.b"])
      expect(dnsLabelProblem(bad)).toBeDefined();
    expect(dnsSubdomainProblem("training.vision")).toBeUndefined();
    for (const bad of ["", ".a", "a..b", "A.b", "a/b"])
      expect(dnsSubdomainProblem(bad)).toBeDefined();
  });

  it("S3 bucket naming rules", () => {
    for (const ok of ["yunshi-checkpoints", "abc", "a.b-c.d", "a".repeat(63)])
      expect(bucketNameProblem(ok), ok).toBeUndefined();
    for (const bad of [
      "ab",
      "a".repeat(64),
      "Abc",
      "a_b",
      "-ab",
      "ab-",
      "a..b",
      "10.0.0.1",
      "xn--ab",
      "sthree-ab",
      "amzn-s3-demo-x",
      "ab-s3alias",
      "ab--ol-s3",
      "ab.mrap",
      "ab--x-s3",
      "ab--table-s3",
    ])
      expect(bucketNameProblem(bad), bad).toBeDefined();
  });

  it("AWS regions", () => {
    for (const ok of ["us-west-2", "eu-central-1", "ap-southeast-4", "us-gov-west-1", "cn-north-1"])
      expect(regionProblem(ok), ok).toBeUndefined();
    for (const bad of ["us-west", "mars", "US-WEST-2", "us-west-2 ", "us-west-123"])
      expect(regionProblem(bad), bad).toBeDefined();
  });

  it("image references as the distribution grammar has them", () => {
    for (const ok of [
      "yunshi/trainer:0.1.0",
      "trainer",
      "localhost:5000/a/b:c",
      "123456789012.dkr.ecr.us-west-2.amazonaws.com/yunshi/trainer:0.1.0",
      `ghcr.io/org/agent@${digest}`,
      `registry.example.com:5000/ml/trainer:1.2_rc-3@${digest}`,
    ])
      expect(imageReferenceProblem(ok), ok).toBeUndefined();
    for (const bad of [
      "",
      "Trainer:1",
      "trainer:1 --privileged",
      "trainer:",
      "trainer@sha256:abc",
      `trainer@sha256:${"a".repeat(65)}`,
      "a//b",
      "trainer:-tag",
      "$(IMAGE)",
      `${"a".repeat(256)}:1`,
    ])
      expect(imageReferenceProblem(bad), bad).toBeDefined();
  });
});

describe("s3:// URIs", () => {
  it("parse bucket and key, prefix or object", () => {
    expect(parseS3Uri("s3://bucket/a/b/")).toEqual({
      ok: true,
      location: { bucket: "bucket", key: "a/b/" },
    });
    expect(parseS3Uri("s3://bucket")).toEqual({
      ok: true,
      location: { bucket: "bucket", key: "" },
    });
    expect(parseS3Uri("s3://bucket/w/x.pth")).toMatchObject({ ok: true });
    expect(parseS3Uri("s3://bucket/数据/行人/")).toMatchObject({ ok: true });
  });

  it("refuse what would name another place or could not be an S3 key", () => {
    for (const bad of [
      "S3://bucket/x",
      "s3://bucket/../x",
      "s3://bucket/a/./b",
      "s3://bucket/a/..",
      "s3://bucket//a",
      "s3://bucket/a b",
      "s3://bucket/a\tb",
      "s3://bucket/a\u2028b",
      "s3://bucket/a\u200bb",
      "s3://bucket/a\\..\\b",
      `s3://bucket/${"k".repeat(1025)}`,
      "s3://b/x",
    ])
      expect(parseS3Uri(bad).ok, JSON.stringify(bad)).toBe(false);
  });
});

describe("https:// URLs", () => {
  it("must be canonical, https and without credentials", () => {
    expect(
      httpsUrlProblem("https://download.openmmlab.com/mmdetection/v2.0/x.pth"),
    ).toBeUndefined();
    expect(httpsUrlProblem("https://host/a\n.pth")?.fix).toContain("https://host/a.pth");
    expect(httpsUrlProblem("https://host/a/../b.pth")?.problem).toMatch(/canonical/);
    expect(httpsUrlProblem("https://u:p@host/x.pth")).toMatchObject({ secret: true });
    expect(httpsUrlProblem("file:///etc/passwd")?.problem).toMatch(/not https/);
    expect(httpsUrlProblem("https://")?.problem).toMatch(/not a URL/);
  });
});
