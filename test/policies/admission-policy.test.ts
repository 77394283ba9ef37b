/**
 * The job rules in their two forms, TypeScript (what `submit`/`render` run) and CEL (what
 * the ValidatingAdmissionPolicy runs in the cluster), give the same verdict on the same
 * objects: the rendered examples, each rule's violation, and random mixtures of violations.
 * CEL is evaluated here by @marcbachmann/cel-js; the same policy is proven on a real
 * kube-apiserver by the control-plane suite where it runs.
 */
import { evaluate } from "@marcbachmann/cel-js";
import fc from "fast-check";
import { ValidatingAdmissionPolicy } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy";
import { ValidatingAdmissionPolicyBinding } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultPlatformContext } from "../../jobs/platform.ts";
import { renderKubernetesObjects } from "../../jobs/render/kubernetes.ts";
import { loadExperimentFile } from "../../jobs/spec/load-experiment.ts";
import {
  admissionMessage,
  admissionPolicyObjects,
  celForRule,
  CEL_POD_SPECS,
} from "../../policies/admission-policy.ts";
import { checkWorkload, jobRules, type RuleContext } from "../../policies/job-rules.ts";

import { MUTATIONS, type Obj } from "./rule-mutations.ts";

const EXAMPLES = [
  "quickstart.yaml",
  "cn-traffic-faster-rcnn.yaml",
  "swin-t-retinanet.yaml",
  "multinode-2x8-faster-rcnn.yaml",
];
// The default images are yunshi/trainer and yunshi/checkpoint-agent: registry "yunshi".
const CTX: RuleContext = { registry: "yunshi", maxGpusPerPod: 8 };

let workloads: Obj[] = [];
beforeAll(async () => {
  for (const file of EXAMPLES) {
    const loaded = await loadExperimentFile(`examples/${file}`);
    const objects = renderKubernetesObjects({
      experiment: loaded.experiment,
      platform: defaultPlatformContext,
      specHash: loaded.specHash,
      version: "test",
    });
    for (const o of objects)
      if (o.kind === "Job" || o.kind === "JobSet")
        workloads.push(JSON.parse(JSON.stringify(o)) as Obj);
  }
  workloads = workloads.filter((w) => w.kind === "Job" || w.kind === "JobSet");
});

/** Rules broken, by the CEL form: evaluate the policy's variable, then each validation. */
function celViolations(obj: Obj, ctx: RuleContext): string[] {
  const podSpecs: unknown = evaluate(CEL_POD_SPECS, { object: obj });
  return jobRules
    .filter((r) => {
      const verdict: unknown = evaluate(celForRule(r, ctx), {
        object: obj,
        variables: { podSpecs },
      });
      return verdict !== true;
    })
    .map((r) => r.name);
}
const tsViolations = (obj: Obj, ctx: RuleContext): string[] => [
  ...new Set(checkWorkload(obj, ctx).map((v) => v.rule)),
];

describe("admission policy ↔ job rules", () => {
  it("renders objects that pass every rule in both forms", () => {
    expect(workloads.map((w) => w.kind).sort()).toEqual(["Job", "Job", "Job", "JobSet"]);
    for (const w of workloads) {
      expect(tsViolations(w, CTX)).toEqual([]);
      expect(celViolations(w, CTX)).toEqual([]);
    }
  });

  it.each(MUTATIONS.map(([rule, m], i) => [`${rule} #${i}`, rule, m] as const))(
    "%s: both forms flag exactly this rule, on Jobs and JobSets",
    (_label, rule, mutate) => {
      for (const w of workloads) {
        const o = structuredClone(w);
        mutate(o);
        expect(tsViolations(o, CTX)).toEqual([rule]);
        expect(celViolations(o, CTX)).toEqual([rule]);
      }
    },
  );

  it("agree on random mixtures of violations, with and without platform limits", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.subarray(MUTATIONS.map((_, i) => i)),
        fc.boolean(),
        (which, picked, withLimits) => {
          const o = structuredClone(workloads[which]!);
          for (const i of picked) MUTATIONS[i]![1](o);
          const ctx = withLimits ? CTX : {};
          expect(celViolations(o, ctx).sort()).toEqual(tsViolations(o, ctx).sort());
        },
      ),
      { numRuns: 200 },
    );
  });

  it("exempts a JobSet's child Jobs from the queue label, in both forms", () => {
    const job = structuredClone(workloads.find((w) => w.kind === "Job")!);
    delete job.metadata.labels["kueue.x-k8s.io/queue-name"];
    job.metadata.ownerReferences = [{ kind: "JobSet", name: "x" }];
    expect(tsViolations(job, CTX)).toEqual([]);
    expect(celViolations(job, CTX)).toEqual([]);
  });

  it("is a valid ValidatingAdmissionPolicy and binding for team namespaces", () => {
    const [policy, binding] = admissionPolicyObjects(CTX);
    new ValidatingAdmissionPolicy(policy).validate();
    new ValidatingAdmissionPolicyBinding(binding).validate();
    const validations = (policy!.spec["validations"] ?? []) as { message: string }[];
    expect(validations.map((v) => v.message)).toEqual(jobRules.map(admissionMessage));
    for (const v of validations) expect(v.message).toMatch(/^yunshi rule [a-z-]+: .+\. Fix: .+/);
    expect(policy!.spec["failurePolicy"]).toBe("Fail");
    expect(binding!.spec).toMatchObject({
      policyName: policy!.metadata.name,
      validationActions: ["Deny"],
      matchResources: {
        namespaceSelector: { matchExpressions: [{ key: "yunshi.dev/team", operator: "Exists" }] },
      },
    });
  });
});
