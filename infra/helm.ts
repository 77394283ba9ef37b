/** Helm releases are only ever created from a chart pinned in versions.ts. */
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { PinnedChart } from "./versions.ts";

export interface PinnedReleaseArgs {
  namespace: string;
  /** @default false */
  createNamespace?: boolean;
  values?: pulumi.Input<Record<string, unknown>>;
  /** Leave the chart's `crds/` alone (the CRDs are managed elsewhere, so upgrades reach
   * them). @default false */
  skipCrds?: boolean;
}

export function pinnedRelease(
  name: string,
  chart: PinnedChart,
  args: PinnedReleaseArgs,
  opts: pulumi.CustomResourceOptions,
): k8s.helm.v3.Release {
  return new k8s.helm.v3.Release(
    name,
    {
      // A fixed release name keeps `helm list` readable and upgrades in place.
      name,
      chart: chart.chart,
      version: chart.version,
      ...(chart.repo === undefined ? {} : { repositoryOpts: { repo: chart.repo } }),
      namespace: args.namespace,
      createNamespace: args.createNamespace ?? false,
      values: args.values ?? {},
      skipCrds: args.skipCrds ?? false,
      // Roll back a failed install/upgrade instead of leaving a half-applied chart.
      atomic: true,
      cleanupOnFail: true,
      timeout: 600,
      maxHistory: 5,
    },
    opts,
  );
}
