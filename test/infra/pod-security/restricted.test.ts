/**
 * Team namespaces enforce Pod Security `restricted` (infra/platform-objects/team-objects.ts),
 * so every pod the renderer produces must satisfy it, or the Job controller's pod creation
 * is refused and the run never starts. Checked for every example, single- and multi-node.
 */
import { readdirSync } from "node:fs";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { describe, expect, it } from "vitest";
import { POD_SECURITY_LABELS } from "../../../infra/platform-objects/team-objects.ts";
import { defaultPlatformContext } from "../../../jobs/platform.ts";
import { renderKubernetesObjects } from "../../../jobs/render/kubernetes.ts";
import { loadExperimentFile } from "../../../jobs/spec/load-experiment.ts";
import { restrictedViolations } from "./restricted-profile.ts";

const examples = readdirSync("examples").filter((f) => f.endsWith(".yaml"));

async function podsOf(file: string): Promise<IPodSpec[]> {
  const loaded = await loadExperimentFile(`examples/${file}`);
  return renderKubernetesObjects({
    experiment: loaded.experiment,
    platform: { ...defaultPlatformContext, namespace: "vision" },
    specHash: loaded.specHash,
    version: "0.1.0",
  }).flatMap((o) => {
    if (o.kind === "Job") return [o.spec!.template.spec!];
    if (o.kind === "JobSet")
      return o.spec.replicatedJobs.map((r) => r.template.spec.template.spec!);
    return [];
  });
}

describe("Pod Security `restricted` on team namespaces", () => {
  it("is enforced (not only warned)", () => {
    expect(POD_SECURITY_LABELS["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });

  for (const file of examples)
    it(`admits the pods rendered from ${file}`, async () => {
      const pods = await podsOf(file);
      expect(pods.length).toBeGreaterThan(0);
      for (const pod of pods) expect(restrictedViolations(pod)).toEqual([]);
    });

  it("the checker catches what restricted refuses", () => {
    const bad: IPodSpec = {
      volumes: [{ name: "h", hostPath: { path: "/" } }],
      containers: [
        {
          name: "c",
          securityContext: { allowPrivilegeEscalation: true, capabilities: { add: ["SYS_ADMIN"] } },
        },
      ],
    };
    expect(restrictedViolations(bad)).toEqual([
      "volume h: hostPath",
      "container c: allowPrivilegeEscalation must be false",
      "container c: runAsNonRoot",
      "container c: seccompProfile",
      "container c: must drop ALL",
      "container c: adds SYS_ADMIN",
    ]);
  });
});
