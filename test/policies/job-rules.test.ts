import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { describe, expect, it } from "vitest";
import { checkPodSpec, jobRules } from "../policies/job-rules.ts";

const goodContainer = {
  name: "trainer",
  image: "x",
  command: ["yunshi-launch"],
  resources: { limits: { memory: "1Gi" } },
  securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
};
const good = (): IPodSpec => ({
  restartPolicy: "Never",
  securityContext: {
    runAsNonRoot: true,
    runAsUser: 1000,
    seccompProfile: { type: "RuntimeDefault" },
  },
  containers: [structuredClone(goodContainer)],
});

describe("job rules", () => {
  it("have kebab-case names and descriptions", () => {
    for (const r of jobRules) {
      expect(r.name).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(r.description.length).toBeGreaterThan(10);
    }
  });

  it("accept a compliant pod", () => {
    expect(checkPodSpec(good(), "pod")).toEqual([]);
  });

  const cases: Array<[string, (p: IPodSpec) => void]> = [
    ["run-as-non-root", (p) => (p.securityContext = { runAsUser: 0 })],
    ["no-privilege", (p) => (p.containers[0]!.securityContext = { privileged: true })],
    [
      "no-privilege",
      (p) =>
        (p.containers[0]!.securityContext!.capabilities = { drop: ["ALL"], add: ["SYS_ADMIN"] }),
    ],
    ["no-shell-command", (p) => (p.containers[0]!.command = ["sh", "-c", "train $NAME"])],
    ["no-shell-command", (p) => (p.containers[0]!.command = ["/bin/bash"])],
    ["restart-never", (p) => (p.restartPolicy = "OnFailure")],
    [
      "gpu-toleration",
      (p) => (p.containers[0]!.resources = { limits: { memory: "1Gi", "nvidia.com/gpu": "1" } }),
    ],
    ["memory-limits", (p) => (p.containers[0]!.resources = {})],
  ];
  it.each(cases)("flag %s", (rule, mutate) => {
    const pod = good();
    mutate(pod);
    const violations = checkPodSpec(pod, "Job/x");
    expect(violations.map((v) => v.rule)).toContain(rule);
    expect(violations.find((v) => v.rule === rule)?.message).toContain("Job/x");
  });
});
