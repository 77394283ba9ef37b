/** JobSet controller: multi-node training runs as a JobSet that restarts as one group. */
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { pinnedRelease } from "./helm.ts";
import { charts } from "./versions.ts";

export const JOBSET_NAMESPACE = "jobset-system";

export interface JobSetArgs {
  provider: k8s.Provider;
  /** Controllers run on the system nodes. */
  systemNodes: pulumi.Resource;
}

export class JobSet extends pulumi.ComponentResource {
  readonly release: k8s.helm.v3.Release;

  constructor(name: string, args: JobSetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:JobSet", name, {}, opts);
    this.release = pinnedRelease(
      "jobset",
      charts.jobset,
      { namespace: JOBSET_NAMESPACE, createNamespace: true, values: {} },
      { parent: this, provider: args.provider, dependsOn: [args.systemNodes] },
    );
    this.registerOutputs({});
  }
}
