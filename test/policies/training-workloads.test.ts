import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { expect, it } from "vitest";
import { checkPodSpec } from "../../policies/job-rules.ts";
import { podSpecsOf, trainingWorkloads } from "../../policies/training-workloads.ts";
import { validateResource } from "./harness.ts";

const pod: IPodSpec = { containers: [{ name: "trainer", image: "x" }], restartPolicy: "Never" };

it("finds the pod specs of Jobs and of every replicated job of a JobSet", () => {
  expect(podSpecsOf("kubernetes:batch/v1:Job", { spec: { template: { spec: pod } } })).toEqual([
    ["spec.template.spec", pod],
  ]);
  const jobset = {
    spec: { replicatedJobs: [{ name: "node", template: { spec: { template: { spec: pod } } } }] },
  };
  expect(podSpecsOf("kubernetes:jobset.x-k8s.io/v1alpha2:JobSet", jobset)).toEqual([
    ["spec.replicatedJobs[0] (node).template.spec.template.spec", pod],
  ]);
  expect(podSpecsOf("kubernetes:core/v1:Pod", { spec: pod })).toEqual([]);
});

it("reports exactly the job rules' violations, tagged with the rule name", async () => {
  const expected = checkPodSpec(pod, "r spec.template.spec").map((v) => `[${v.rule}] ${v.message}`);
  const got = await validateResource(trainingWorkloads, "kubernetes:batch/v1:Job", {
    spec: { template: { spec: pod } },
  });
  expect(got).toEqual(expected);
  // The bare pod above breaks at least one rule (e.g. no resource limits), so this is not vacuous.
  expect(got.length).toBeGreaterThan(0);
});
