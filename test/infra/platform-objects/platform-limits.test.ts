/**
 * The limits the platform ConfigMap carries (issue 11) follow the objects the stack applies:
 * the team's ClusterQueue quota, the cohort it may borrow from, the NodePool's GPU limit and
 * instance families. Old ConfigMaps (without the keys) still parse.
 */
import { describe, expect, it } from "vitest";
import { GPU_FAMILIES } from "../../../infra/config.ts";
import {
  LARGEST_GPU_INSTANCE,
  platformLimits,
} from "../../../infra/platform-objects/platform-limits.ts";
import { teamObjects } from "../../../infra/platform-objects/team-objects.ts";
import { platformFromConfigMapData } from "../../../jobs/platform.ts";

const teams = [
  { name: "vision", spotGpus: 8, onDemandGpus: 2, weight: 1 },
  { name: "nlp", spotGpus: 4, onDemandGpus: 6, weight: 1 },
];

describe("platformLimits", () => {
  it("the team's own quota, and the cohort's for one run (Kueue lends idle quota), within gpu.maxGpus", () => {
    expect(
      platformLimits({
        team: "vision",
        teams,
        capacityTypes: ["spot", "on-demand"],
        instanceFamilies: ["g5", "g6e"],
        maxGpus: 16,
      }),
    ).toEqual({
      spotGpuQuota: 8,
      onDemandGpuQuota: 2,
      maxSpotGpus: 12,
      maxOnDemandGpus: 8,
      maxGpusPerNode: 8,
      // g6e.48xlarge: 192 vCPU and 1536 GiB (g5.48xlarge has 768 GiB).
      maxCpuPerNode: 192,
      maxMemoryGiBPerNode: 1536,
      gpuInstanceFamilies: ["g5", "g6e"],
    });
    // The NodePool's limit (also the namespace's ResourceQuota) caps what the cohort could lend.
    const capped = platformLimits({
      team: "nlp",
      teams,
      capacityTypes: ["spot", "on-demand"],
      instanceFamilies: ["g5"],
      maxGpus: 10,
    });
    expect([capped.maxSpotGpus, capped.maxOnDemandGpus]).toEqual([10, 8]);
  });

  it("a capacity type the stack does not offer gives no GPUs of that type", () => {
    const l = platformLimits({
      team: "vision",
      teams: [{ name: "vision", spotGpus: 8, onDemandGpus: 0, weight: 1 }],
      capacityTypes: ["spot"],
      instanceFamilies: ["g5"],
      maxGpus: 16,
    });
    expect([l.onDemandGpuQuota, l.maxOnDemandGpus]).toEqual([0, 0]);
  });

  it("knows the largest instance of every family the stack accepts, and refuses one it does not know", () => {
    expect(Object.keys(LARGEST_GPU_INSTANCE).sort()).toEqual([...GPU_FAMILIES].sort());
    for (const [family, i] of Object.entries(LARGEST_GPU_INSTANCE))
      expect(i.type.startsWith(`${family}.`), i.type).toBe(true);
    expect(() =>
      platformLimits({
        team: "vision",
        teams,
        capacityTypes: ["spot"],
        instanceFamilies: ["g7x"],
        maxGpus: 16,
      }),
    ).toThrow(/no instance size known for GPU family g7x/);
  });

  it("the ConfigMap carries them as strings and submit reads them back; one without them still parses", () => {
    const base = {
      namespace: "vision",
      maxGpus: 16,
      bucket: "acme-training",
      region: "us-east-1",
      trainerImage: "123456789012.dkr.ecr.us-east-1.amazonaws.com/yunshi/trainer:1",
      checkpointAgentImage: "123456789012.dkr.ecr.us-east-1.amazonaws.com/yunshi/agent:1",
    };
    const limits = platformLimits({
      team: "vision",
      teams,
      capacityTypes: ["spot", "on-demand"],
      instanceFamilies: ["g5", "g6"],
      maxGpus: 16,
    });
    const data = teamObjects({ ...base, limits }).platformConfigMap.data ?? {};
    expect(platformFromConfigMapData("vision", data)).toMatchObject({
      maxSpotGpus: "12",
      maxOnDemandGpus: "8",
      gpuInstanceFamilies: "g5,g6",
    });
    const old = teamObjects(base).platformConfigMap.data ?? {};
    expect(Object.keys(old)).not.toContain("maxSpotGpus");
    expect(platformFromConfigMapData("vision", old).maxSpotGpus).toBeUndefined();
  });
});
