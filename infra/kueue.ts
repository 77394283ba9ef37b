/**
 * Kueue: the chart (configured to manage batch/v1 Jobs and JobSets, with fair sharing
 * between team ClusterQueues) and one ResourceFlavor per capacity type. Each flavor pins
 * `karpenter.sh/capacity-type` on admitted pods, so the job's capacity choice, Kueue's quota
 * and Karpenter's launch decision agree. The objects themselves are pure functions in
 * platform-objects/kueue-objects.ts; team ClusterQueues and LocalQueues are in team.ts.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { pinnedRelease } from "./helm.ts";
import { SYSTEM_PLACEMENT } from "./platform-objects/node-labels.ts";
import {
  orderedFlavors,
  resourceFlavor,
  type CapacityType,
} from "./platform-objects/kueue-objects.ts";
import { apiVersions, charts } from "./versions.ts";

export { KUEUE_COHORT, flavorName, type CapacityType } from "./platform-objects/kueue-objects.ts";
export const KUEUE_NAMESPACE = "kueue-system";

/**
 * Gang admission's safety net. Without it two multi-node jobs can each hold half the GPUs
 * and deadlock: a workload whose pods are not all Ready in time is evicted and requeued.
 *
 * - The timeout covers a GPU node's cold start (Karpenter launch + a large image pull). It
 *   need not cover fetching the dataset or restoring the checkpoint: those run in the
 *   prepare sidecar beside the trainer, so a pod is Ready once its containers run
 *   (jobs/render/pod-template.ts); a run still downloading is never evicted for it.
 * - `backoffLimitCount`: a run whose pods never become Ready (no capacity of its kind for
 *   hours, an image that never pulls) is deactivated after this many requeues instead of
 *   being requeued for ever; `yunshi status` reports it as Failed with Kueue's reason.
 *   Backoffs of 60 s, 120 s, 240 s between the attempts: about 65 minutes in all.
 */
export function kueueWaitForPodsReady(): Record<string, unknown> {
  return {
    timeout: "20m",
    blockAdmission: false,
    requeuingStrategy: {
      timestamp: "Eviction",
      backoffBaseSeconds: 60,
      backoffMaxSeconds: 1800,
      backoffLimitCount: 3,
    },
  };
}

/** The controller manager's Configuration (replaces the chart's default file). */
export function kueueManagerConfig(): Record<string, unknown> {
  return {
    apiVersion: apiVersions.kueueConfig,
    kind: "Configuration",
    health: { healthProbeBindAddress: ":8081" },
    metrics: { bindAddress: ":8443" },
    webhook: { port: 9443 },
    leaderElection: { leaderElect: true, resourceName: "c1f6bfd2.kueue.x-k8s.io" },
    controller: {
      groupKindConcurrency: {
        "Job.batch": 5,
        Pod: 5,
        "Workload.kueue.x-k8s.io": 5,
        "LocalQueue.kueue.x-k8s.io": 1,
        "ClusterQueue.kueue.x-k8s.io": 1,
        "ResourceFlavor.kueue.x-k8s.io": 1,
      },
    },
    clientConnection: { qps: 50, burst: 100 },
    // Only jobs that name a queue are managed; the platform's namespaces always do.
    manageJobsWithoutQueueName: false,
    integrations: { frameworks: ["batch/job", "jobset.x-k8s.io/jobset"] },
    waitForPodsReady: kueueWaitForPodsReady(),
    // Presence enables fair sharing between ClusterQueues of the cohort (weights per team).
    fairSharing: { preemptionStrategies: ["LessThanOrEqualToFinalShare", "LessThanInitialShare"] },
  };
}

export interface KueueArgs {
  provider: k8s.Provider;
  capacityTypes: CapacityType[];
  /** JobSet CRDs must exist when Kueue starts its jobset integration. */
  jobset: pulumi.Resource[];
  systemNodes: pulumi.Resource;
}

export class Kueue extends pulumi.ComponentResource {
  readonly release: k8s.helm.v3.Release;
  /** Flavors in preference order (spot first: cheapest). */
  readonly flavors: CapacityType[];
  readonly flavorResources: k8s.apiextensions.CustomResource[];

  constructor(name: string, args: KueueArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:Kueue", name, {}, opts);
    this.release = pinnedRelease(
      "kueue",
      charts.kueue,
      {
        namespace: KUEUE_NAMESPACE,
        createNamespace: true,
        values: {
          managerConfig: { controllerManagerConfigYaml: stringify(kueueManagerConfig()) },
          controllerManager: { ...SYSTEM_PLACEMENT },
        },
      },
      { parent: this, provider: args.provider, dependsOn: [...args.jobset, args.systemNodes] },
    );
    this.flavors = orderedFlavors(args.capacityTypes);
    this.flavorResources = this.flavors.map(
      (capacity) =>
        new k8s.apiextensions.CustomResource(
          `${name}-flavor-${capacity}`,
          { ...resourceFlavor(capacity) },
          // The chart's webhooks validate these: wait for the release to be ready.
          { parent: this, provider: args.provider, dependsOn: [this.release] },
        ),
    );
    this.registerOutputs({ flavors: this.flavors });
  }
}
