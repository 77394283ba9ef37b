/** The policies of the yunshi pack (index.ts serves them; tests import them from here,
 * because constructing the PolicyPack starts its gRPC server). */
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
