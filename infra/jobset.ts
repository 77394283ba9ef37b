/**
 * JobSet controller: multi-node training runs as a JobSet that restarts as one group.
 * Its CRD is a managed resource (pinned to the chart's tag) rather than the chart's `crds/`,
 * which Helm installs once and never upgrades: bumping `charts.jobset` upgrades the CRD too.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { pinnedRelease } from "./helm.ts";
import { SYSTEM_PLACEMENT } from "./platform-objects/node-labels.ts";
import { charts } from "./versions.ts";

/** The JobSet CRD manifest of the pinned release (the same file the chart's `crds/` holds). */
export function jobsetCrdUrl(version: string): string {
  return `https://raw.githubusercontent.com/kubernetes-sigs/jobset/v${version}/config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml`;
}

export const JOBSET_NAMESPACE = "jobset-system";

export interface JobSetArgs {
  provider: k8s.Provider;
  /** Controllers run on the system nodes. */
  systemNodes: pulumi.Resource;
}

export class JobSet extends pulumi.ComponentResource {
  readonly release: k8s.helm.v3.Release;
  readonly crds: k8s.yaml.v2.ConfigFile;

  constructor(name: string, args: JobSetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:JobSet", name, {}, opts);
    this.crds = new k8s.yaml.v2.ConfigFile(
      `${name}-crds`,
      { file: jobsetCrdUrl(charts.jobset.version) },
      { parent: this, provider: args.provider },
    );
    this.release = pinnedRelease(
      "jobset",
      charts.jobset,
      {
        namespace: JOBSET_NAMESPACE,
        createNamespace: true,
        skipCrds: true,
        values: { controller: { ...SYSTEM_PLACEMENT } },
      },
      { parent: this, provider: args.provider, dependsOn: [this.crds, args.systemNodes] },
    );
    this.registerOutputs({});
  }
}
