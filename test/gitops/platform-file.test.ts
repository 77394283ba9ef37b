/**
 * `render --platform-file`: the namespace's yunshi-platform ConfigMap as the settings under the
 * flags (what a GitOps pipeline renders with). Checked with the cluster's own rules; bad files
 * exit 2 with nothing printed on stdout.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../cluster/harness.ts";

const SPEC = "examples/cn-traffic-faster-rcnn.yaml"; // namespace: vision
const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "yunshi-platform-file-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const configMap = (ns: string, data: Record<string, string>) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "yunshi-platform", namespace: ns },
    data,
  });
const good = {
  bucket: "acme-training",
  region: "us-east-1",
  trainerImage: `${ECR}/yunshi/trainer:0.2.0`,
  checkpointAgentImage: `${ECR}/yunshi/checkpoint-agent:0.2.0`,
  queue: "vision",
  serviceAccount: "yunshi-training",
};

async function file(name: string, text: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

describe("render --platform-file", () => {
  it("takes the ConfigMap's settings, and flags still win", async () => {
    const p = await file("ok.yaml", configMap("vision", good));
    const r = await cli(
      "render",
      SPEC,
      "--platform-file",
      p,
      "--bucket",
      "override-bucket",
      "--format",
      "json",
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`${ECR}/yunshi/trainer:0.2.0`);
    expect(r.out).toContain("s3://override-bucket/vision/cn-traffic-frcnn/");
    expect(r.out).toContain(`${ECR}/yunshi/checkpoint-agent:0.2.0`);
  });

  const bad: Array<[string, string, RegExp]> = [
    [
      "another namespace's file",
      configMap("robotics", good),
      /ConfigMap of namespace "robotics", but the experiment goes to vision/,
    ],
    [
      "an invalid bucket",
      configMap("vision", { ...good, bucket: "Bad_Bucket" }),
      /key bucket "Bad_Bucket"/,
    ],
    ["an unknown key", configMap("vision", { ...good, extra: "x" }), /unknown key\(s\) "extra"/],
    ["not a ConfigMap", "kind: Secret\ndata: {}\n", /expected a ConfigMap manifest/],
    ["not YAML", "data: [\n", /not YAML/],
  ];
  it.each(bad)("refuses %s with exit 2, nothing on stdout", async (label, text, message) => {
    const p = await file(`${label.replace(/\W+/g, "-")}.yaml`, text);
    const r = await cli("render", SPEC, "--platform-file", p);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(message);
  });

  it("names the file and the command that makes it when it is missing", async () => {
    const r = await cli("render", SPEC, "--platform-file", join(dir, "missing.yaml"));
    expect(r.code).toBe(2);
    expect(r.err).toContain("kubectl get configmap yunshi-platform -n vision -o yaml");
  });

  it("is refused by submit without --dry-run: on a cluster its ConfigMap is the truth", async () => {
    const p = await file("ok2.yaml", configMap("vision", good));
    const r = await cli("submit", SPEC, "--platform-file", p);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--platform-file");
    expect(r.err).toContain("only with --dry-run");
  });
});
