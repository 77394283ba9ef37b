import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { describe, expect, it } from "vitest";
import { checkPodSpec, jobRules } from "../../policies/job-rules.ts";

const goodContainer = {
  name: "trainer",
  image: "x",
  command: ["yunshi-launch"],
  resources: { limits: { memory: "1Gi" } },
  securityContext: {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
  },
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
      expect(r.fix.length).toBeGreaterThan(10);
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
    ["read-only-root", (p) => (p.containers[0]!.securityContext!.readOnlyRootFilesystem = false)],
    ["run-as-non-root", (p) => (p.containers[0]!.securityContext!.runAsUser = 0)],
    ["no-host-access", (p) => (p.hostNetwork = true)],
    ["no-host-access", (p) => (p.volumes = [{ name: "h", hostPath: { path: "/" } }])],
  ];
  it.each(cases)("flag %s", (rule, mutate) => {
    const pod = good();
    mutate(pod);
    const violations = checkPodSpec(pod, "Job/x");
    expect(violations.map((v) => v.rule)).toContain(rule);
    expect(violations.find((v) => v.rule === rule)?.message).toContain("Job/x");
    expect(violations.find((v) => v.rule === rule)?.message).toMatch(/\. Fix: /);
  });
});

describe("platform limits", () => {
  const gpuPod = (n: string): IPodSpec => {
    const p = good();
    p.tolerations = [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }];
    p.containers[0]!.resources!.limits!["nvidia.com/gpu"] = n;
    return p;
  };
  it("admit everything when the platform sets no limits", () => {
    expect(checkPodSpec(gpuPod("64"), "pod")).toEqual([]);
  });
  it("flag more GPUs than the largest node, and images from elsewhere", () => {
    const ctx = { maxGpusPerPod: 8, registry: "123.dkr.ecr.us-east-1.amazonaws.com" };
    expect(checkPodSpec(gpuPod("8"), "pod", { maxGpusPerPod: 8 })).toEqual([]);
    expect(checkPodSpec(gpuPod("9"), "pod", ctx).map((v) => v.rule)).toEqual([
      "gpu-limit",
      "platform-registry",
    ]);
    const ok = good();
    ok.containers[0]!.image = "123.dkr.ecr.us-east-1.amazonaws.com/yunshi/trainer:1";
    expect(checkPodSpec(ok, "pod", ctx)).toEqual([]);
  });
});
