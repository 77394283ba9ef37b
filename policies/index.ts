/**
 * The yunshi CrossGuard policy pack: `pulumi preview --policy-pack policies`.
 * Each policy lives in its own file and is unit-tested through its validate function
 * (test/policies/); constructing the pack starts the policy gRPC server, so only the
 * Pulumi CLI runs this file.
 */
import { PolicyPack } from "@pulumi/policy";
import { bucketHardening } from "./bucket-hardening.ts";
import { clusterApiExposure } from "./cluster-api-exposure.ts";
import { ecrRepositoryHardened } from "./ecr-repository-hardened.ts";
import { helmChartPinned } from "./helm-chart-pinned.ts";
import { trainingWorkloads } from "./training-workloads.ts";

export const policies = [
  bucketHardening,
  clusterApiExposure,
  helmChartPinned,
  ecrRepositoryHardened,
  trainingWorkloads,
];

new PolicyPack("yunshi-guardrails", { enforcementLevel: "mandatory", policies });
