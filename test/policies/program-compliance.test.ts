/** The platform program, run under mocks, passes its own policy pack. */
import type { PolicyResource } from "@pulumi/policy";
import { beforeAll, expect, it } from "vitest";
import { bucketHardening } from "../../policies/bucket-hardening.ts";
import { clusterApiExposure } from "../../policies/cluster-api-exposure.ts";
import { ecrRepositoryHardened } from "../../policies/ecr-repository-hardened.ts";
import { helmChartPinned } from "../../policies/helm-chart-pinned.ts";
import { baseConfig, runProgram, type Recorded } from "../infra/harness.ts";
import { validateResource } from "./harness.ts";

let resources: Recorded[];

beforeAll(async () => {
  ({ resources } = await runProgram(baseConfig));
});

it("passes every resource policy", async () => {
  const violations: string[] = [];
  for (const policy of [clusterApiExposure, helmChartPinned, ecrRepositoryHardened])
    for (const r of resources)
      violations.push(...(await validateResource(policy, r.type, r.inputs)));
  expect(violations).toEqual([]);
  // The policies did look at the resources they guard.
  expect(resources.filter((r) => r.type === "kubernetes:helm.sh/v3:Release")).toHaveLength(5);
  expect(resources.filter((r) => r.type === "aws:ecr/repository:Repository")).toHaveLength(2);
});

it("passes the bucket stack policy, with guard rails linked by property dependencies", async () => {
  const byUrn = new Map<string, PolicyResource>();
  const policyResources = resources.map((r) => {
    const pr: PolicyResource = {
      type: r.type,
      name: r.name,
      urn: r.urn,
      props: r.inputs,
      opts: {
        protect: r.protect,
        ignoreChanges: [],
        aliases: [],
        customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        additionalSecretOutputs: [],
      },
      dependencies: [],
      propertyDependencies: {},
      isType: () => false,
      asType: () => undefined,
    };
    byUrn.set(r.urn, pr);
    return pr;
  });
  resources.forEach((r, i) => {
    for (const [prop, urns] of Object.entries(r.propertyDependencies))
      policyResources[i]!.propertyDependencies[prop] = urns.flatMap((u) => byUrn.get(u) ?? []);
  });
  const violations: string[] = [];
  await bucketHardening.validateStack(
    {
      resources: policyResources,
      stackTags: new Map(),
      getConfig: <T extends object>() => ({}) as T,
      notApplicable: () => {
        throw new Error("n/a");
      },
    },
    (m) => violations.push(m),
  );
  expect(violations).toEqual([]);
  expect(policyResources.filter((r) => r.type === "aws:s3/bucket:Bucket")).toHaveLength(1);
});
