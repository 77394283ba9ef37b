/**
 * The platform objects as pure data: what a real test cluster applies and what `pulumi up`
 * creates. Behaviour checks: they load without Pulumi, the ConfigMap parses the way `submit`
 * reads it, PSA is enforced, and no flavor injects the GPU toleration into CPU-only pods.
 */
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { platformFromConfigMapData } from "../../../jobs/platform.ts";
import { kueueObjects } from "../../../infra/platform-objects/kueue-objects.ts";
import {
  teamGroup,
  teamObjectList,
  teamObjects,
} from "../../../infra/platform-objects/team-objects.ts";

const args = {
  namespace: "vision",
  maxGpus: 16,
  bucket: "yunshi-dev-checkpoints",
  region: "us-east-1",
  trainerImage: "123456789012.dkr.ecr.us-east-1.amazonaws.com/yunshi-dev/trainer:abc",
  checkpointAgentImage: "123456789012.dkr.ecr.us-east-1.amazonaws.com/yunshi-dev/agent:abc",
};

describe("platform objects module graph", () => {
  it("loads without any @pulumi package (a test cluster imports it without the Pulumi runtime)", async () => {
    const result = await build({
      entryPoints: [
        "infra/platform-objects/kueue-objects.ts",
        "infra/platform-objects/team-objects.ts",
        "infra/platform-objects/node-labels.ts",
      ],
      bundle: true,
      write: false,
      metafile: true,
      platform: "node",
      format: "esm",
      outdir: "out",
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.includes("platform-objects/team-objects.ts"))).toBe(true);
    expect(inputs.filter((p) => p.includes("@pulumi"))).toEqual([]);
  });
});

describe("kueueObjects", () => {
  const objs = kueueObjects({
    capacityTypes: ["on-demand", "spot"],
    teams: [{ name: "vision", spotGpus: 8, onDemandGpus: 2, weight: 2 }],
  });

  it("orders flavors spot first, then the team's ClusterQueue and LocalQueue", () => {
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "ResourceFlavor/spot",
      "ResourceFlavor/on-demand",
      "ClusterQueue/vision",
      "LocalQueue/default",
    ]);
  });

  it("never gives a flavor tolerations (Kueue would inject them into CPU-only pods)", () => {
    for (const f of objs.filter((o) => o.kind === "ResourceFlavor"))
      expect(f.spec["tolerations"]).toBeUndefined();
  });
});

describe("teamObjects", () => {
  it("writes a platform ConfigMap that submit parses back to the same context", () => {
    const cm = teamObjects(args).platformConfigMap;
    expect(platformFromConfigMapData("vision", cm.data ?? {})).toEqual({
      namespace: "vision",
      bucket: args.bucket,
      region: args.region,
      trainerImage: args.trainerImage,
      checkpointAgentImage: args.checkpointAgentImage,
      queue: "default",
      serviceAccount: "yunshi-training",
    });
  });

  it("refuses a value submit could not read (fails at pulumi up, not at a job)", () => {
    expect(() => teamObjects({ ...args, bucket: "Not_A_Bucket" })).toThrow(/bucket/);
  });

  it("enforces Pod Security Admission restricted on the namespace", () => {
    expect(teamObjects(args).namespace.metadata?.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
    });
  });

  it("binds the team Role to the team's group, and every object lives in the team namespace", () => {
    const o = teamObjects(args);
    expect(o.roleBinding.roleRef.name).toBe(o.role.metadata?.name);
    expect(o.roleBinding.subjects).toEqual([
      { apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: teamGroup("vision") },
    ]);
    for (const obj of teamObjectList(args).slice(1)) expect(obj.metadata?.namespace).toBe("vision");
  });
});
