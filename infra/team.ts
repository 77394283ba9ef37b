/**
 * One team: its namespace, the training ServiceAccount (bound to the training role through
 * Pod Identity), a Kueue ClusterQueue with the team's guaranteed GPUs in the shared cohort,
 * the LocalQueue jobs name, a ResourceQuota/LimitRange, and the platform ConfigMap that
 * `submit` reads (jobs/platform.ts defines its name and keys).
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  PLATFORM_CONFIGMAP_NAME,
  PlatformContextSchema,
  platformConfigMapData,
} from "../jobs/platform.ts";
import { KUEUE_COHORT, flavorName, type CapacityType } from "./kueue.ts";
import { apiVersions } from "./versions.ts";

export const TRAINING_SERVICE_ACCOUNT = "yunshi-training";
/** The LocalQueue in every team namespace; Kueue also uses a queue named "default" for
 * jobs in the namespace that name no queue. */
export const LOCAL_QUEUE_NAME = "default";
/** GPU is the scarce resource; CPU and memory quotas are sized per GPU generously (p5 has
 * 24 vCPU and 256 GiB per GPU) so that GPU quota is what decides admission. */
export const CPU_PER_GPU = 24;
export const MEMORY_GIB_PER_GPU = 256;

export interface TeamQuota {
  readonly name: string;
  readonly spotGpus: number;
  readonly onDemandGpus: number;
  readonly weight: number;
}

export function clusterQueueSpec(
  team: TeamQuota,
  flavors: readonly CapacityType[],
): Record<string, unknown> {
  const gpusFor = (c: CapacityType) => (c === "spot" ? team.spotGpus : team.onDemandGpus);
  return {
    cohortName: KUEUE_COHORT,
    // Only this team's namespace may submit to its ClusterQueue.
    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": team.name } },
    queueingStrategy: "BestEffortFIFO",
    resourceGroups: [
      {
        coveredResources: ["cpu", "memory", "nvidia.com/gpu"],
        flavors: flavors.map((c) => {
          const gpus = gpusFor(c);
          return {
            name: flavorName(c),
            resources: [
              { name: "cpu", nominalQuota: String(gpus * CPU_PER_GPU) },
              { name: "memory", nominalQuota: `${gpus * MEMORY_GIB_PER_GPU}Gi` },
              { name: "nvidia.com/gpu", nominalQuota: String(gpus) },
            ],
          };
        }),
      },
    ],
    // Idle quota is lent to other teams and taken back (by preemption) when the owner needs
    // it; between borrowers, fair sharing (Kueue config) decides by weight.
    preemption: { reclaimWithinCohort: "Any", withinClusterQueue: "LowerPriority" },
    fairSharing: { weight: String(team.weight) },
  };
}

export interface TeamArgs {
  team: TeamQuota;
  flavors: CapacityType[];
  /** Namespace-level GPU ceiling (also bounded by the NodePool limit). */
  maxGpus: number;
  clusterName: pulumi.Input<string>;
  trainingRoleArn: pulumi.Input<string>;
  bucketName: pulumi.Input<string>;
  region: string;
  trainerImage: pulumi.Input<string>;
  checkpointAgentImage: pulumi.Input<string>;
  provider: k8s.Provider;
  /** Kueue release and flavors (webhooks validate the queues). */
  kueue: pulumi.Resource[];
  podIdentityAgent: pulumi.Resource;
}

export class Team extends pulumi.ComponentResource {
  readonly namespace: string;
  readonly localQueue: string;

  constructor(name: string, args: TeamArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:Team", name, {}, opts);
    const ns = args.team.name;
    const k8sOpts = { parent: this, provider: args.provider };

    const namespace = new k8s.core.v1.Namespace(
      `${name}-ns`,
      {
        metadata: {
          name: ns,
          labels: {
            "yunshi.dev/team": ns,
            "pod-security.kubernetes.io/enforce": "baseline",
            "pod-security.kubernetes.io/warn": "restricted",
          },
        },
      },
      k8sOpts,
    );
    const inNs = { ...k8sOpts, dependsOn: [namespace] };

    new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      { metadata: { name: TRAINING_SERVICE_ACCOUNT, namespace: ns } },
      inNs,
    );
    new aws.eks.PodIdentityAssociation(
      `${name}-pod-identity`,
      {
        clusterName: args.clusterName,
        namespace: ns,
        serviceAccount: TRAINING_SERVICE_ACCOUNT,
        roleArn: args.trainingRoleArn,
      },
      { parent: this, dependsOn: [args.podIdentityAgent] },
    );

    const clusterQueue = new k8s.apiextensions.CustomResource(
      `${name}-cq`,
      {
        apiVersion: apiVersions.kueue,
        kind: "ClusterQueue",
        metadata: { name: ns },
        spec: clusterQueueSpec(args.team, args.flavors),
      },
      { ...k8sOpts, dependsOn: args.kueue },
    );
    new k8s.apiextensions.CustomResource(
      `${name}-lq`,
      {
        apiVersion: apiVersions.kueue,
        kind: "LocalQueue",
        metadata: { name: LOCAL_QUEUE_NAME, namespace: ns },
        spec: { clusterQueue: ns },
      },
      { ...k8sOpts, dependsOn: [namespace, clusterQueue] },
    );

    new k8s.core.v1.ResourceQuota(
      `${name}-quota`,
      {
        metadata: { name: "yunshi", namespace: ns },
        spec: { hard: { "requests.nvidia.com/gpu": String(args.maxGpus), pods: "500" } },
      },
      inNs,
    );
    new k8s.core.v1.LimitRange(
      `${name}-limits`,
      {
        metadata: { name: "yunshi", namespace: ns },
        // Every container gets a request so Kueue and the scheduler can count it.
        spec: { limits: [{ type: "Container", defaultRequest: { cpu: "100m", memory: "256Mi" } }] },
      },
      inNs,
    );

    new k8s.core.v1.ConfigMap(
      `${name}-platform`,
      {
        metadata: { name: PLATFORM_CONFIGMAP_NAME, namespace: ns },
        data: pulumi
          .all([args.bucketName, args.trainerImage, args.checkpointAgentImage])
          .apply(([bucket, trainerImage, checkpointAgentImage]) =>
            // Parse with the same schema `submit` uses, so a bad value fails `pulumi up`, not a job.
            platformConfigMapData(
              PlatformContextSchema.parse({
                namespace: ns,
                bucket,
                region: args.region,
                trainerImage,
                checkpointAgentImage,
                queue: LOCAL_QUEUE_NAME,
                serviceAccount: TRAINING_SERVICE_ACCOUNT,
              }),
            ),
          ),
      },
      inNs,
    );

    this.namespace = ns;
    this.localQueue = LOCAL_QUEUE_NAME;
    this.registerOutputs({ namespace: ns, localQueue: LOCAL_QUEUE_NAME });
  }
}
