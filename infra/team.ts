/**
 * One team: its namespace (Pod Security `restricted`), the training ServiceAccount (bound to
 * the training role through Pod Identity), a Kueue ClusterQueue with the team's guaranteed GPUs
 * in the shared cohort, the LocalQueue jobs name, a ResourceQuota/LimitRange, the platform
 * ConfigMap that `submit` reads, and the team's RBAC Role. The objects are pure functions in
 * platform-objects/ (so a real test cluster applies the same ones); this file gives them to
 * Pulumi with the right dependencies.
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  LOCAL_QUEUE_NAME,
  clusterQueue,
  localQueue,
  type CapacityType,
  type TeamQuota,
} from "./platform-objects/kueue-objects.ts";
import type { PlatformLimits } from "./platform-objects/platform-limits.ts";
import {
  TRAINING_SERVICE_ACCOUNT,
  teamGroup,
  teamObjects,
} from "./platform-objects/team-objects.ts";

export {
  CPU_PER_GPU,
  LOCAL_QUEUE_NAME,
  MEMORY_GIB_PER_GPU,
  type TeamQuota,
} from "./platform-objects/kueue-objects.ts";
export { TRAINING_SERVICE_ACCOUNT } from "./platform-objects/team-objects.ts";

export interface TeamArgs {
  team: TeamQuota & { readonly members: readonly string[] };
  flavors: CapacityType[];
  /** Namespace-level GPU ceiling (also bounded by the NodePool limit). */
  maxGpus: number;
  /** The limits the platform ConfigMap carries (platform-objects/platform-limits.ts), so that
   * `submit` refuses a run the platform can never admit. */
  limits: PlatformLimits;
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
    // Everything but the ConfigMap's data is known before the cluster exists: build the
    // objects once with placeholders and take the ConfigMap from the resolved values below.
    const objectsFor = (bucket: string, trainerImage: string, checkpointAgentImage: string) =>
      teamObjects({
        namespace: ns,
        maxGpus: args.maxGpus,
        bucket,
        region: args.region,
        trainerImage,
        checkpointAgentImage,
        limits: args.limits,
      });
    const known = objectsFor("placeholder-bucket", "placeholder/image", "placeholder/image");

    const namespace = new k8s.core.v1.Namespace(`${name}-ns`, known.namespace, k8sOpts);
    const inNs = { ...k8sOpts, dependsOn: [namespace] };

    new k8s.core.v1.ServiceAccount(`${name}-sa`, known.serviceAccount, inNs);
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

    const cq = new k8s.apiextensions.CustomResource(
      `${name}-cq`,
      { ...clusterQueue(args.team, args.flavors) },
      { ...k8sOpts, dependsOn: args.kueue },
    );
    new k8s.apiextensions.CustomResource(
      `${name}-lq`,
      { ...localQueue(ns) },
      { ...k8sOpts, dependsOn: [namespace, cq] },
    );

    new k8s.core.v1.ResourceQuota(`${name}-quota`, known.resourceQuota, inNs);
    new k8s.core.v1.LimitRange(`${name}-limits`, known.limitRange, inNs);
    const role = new k8s.rbac.v1.Role(`${name}-role`, known.role, inNs);
    new k8s.rbac.v1.RoleBinding(`${name}-rolebinding`, known.roleBinding, {
      ...k8sOpts,
      dependsOn: [namespace, role],
    });
    // Members reach the cluster through EKS access entries; their only Kubernetes permissions
    // come from the group the RoleBinding names.
    args.team.members.forEach(
      (principalArn, i) =>
        new aws.eks.AccessEntry(
          `${name}-member-${i}`,
          {
            clusterName: args.clusterName,
            principalArn,
            type: "STANDARD",
            kubernetesGroups: [teamGroup(ns)],
          },
          { parent: this },
        ),
    );

    new k8s.core.v1.ConfigMap(
      `${name}-platform`,
      {
        metadata: known.platformConfigMap.metadata,
        data: pulumi
          .all([args.bucketName, args.trainerImage, args.checkpointAgentImage])
          .apply(
            ([bucket, trainerImage, checkpointAgentImage]) =>
              objectsFor(bucket, trainerImage, checkpointAgentImage).platformConfigMap.data ?? {},
          ),
      },
      inNs,
    );

    this.namespace = ns;
    this.localQueue = LOCAL_QUEUE_NAME;
    this.registerOutputs({ namespace: ns, localQueue: LOCAL_QUEUE_NAME });
  }
}
