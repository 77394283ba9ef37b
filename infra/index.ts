/**
 * `pulumi up` entry point (Pulumi.yaml → main): composes the platform from the components in
 * this folder. Stack outputs are the exports below. See docs/platform.md.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AdmissionGuard } from "./admission.ts";
import { Cluster } from "./cluster.ts";
import { NvidiaDevicePlugin } from "./device-plugin.ts";
import { JobSet } from "./jobset.ts";
import { Karpenter } from "./karpenter.ts";
import { Kueue } from "./kueue.ts";
import { loadStackConfig } from "./load-config.ts";
import { Network } from "./network.ts";
import { NodePools } from "./nodepools.ts";
import { platformLimits } from "./platform-objects/platform-limits.ts";
import { Registry } from "./registry.ts";
import { Storage } from "./storage.ts";
import { Team } from "./team.ts";
import { TrainingRole } from "./training-role.ts";

const cfg = loadStackConfig();
const partition = aws.getPartitionOutput().partition;
const accountId = aws.getCallerIdentityOutput().accountId;

const network = new Network("network", {
  clusterName: cfg.clusterName,
  region: cfg.region,
  cidr: cfg.vpcCidr,
  azCount: cfg.availabilityZones,
  natGateways: cfg.natGateways,
});

const cluster = new Cluster("cluster", {
  clusterName: cfg.clusterName,
  kubernetesVersion: cfg.kubernetesVersion,
  vpcId: network.vpcId,
  privateSubnetIds: network.privateSubnetIds,
  publicSubnetIds: network.publicSubnetIds,
  apiAccessCidrs: cfg.apiAccessCidrs,
  admins: cfg.admins,
  partition,
  systemInstanceType: cfg.systemNodes.instanceType,
  systemNodeCount: cfg.systemNodes.count,
});

const storage = new Storage("storage", {
  clusterName: cfg.clusterName,
  noncurrentVersionDays: cfg.bucket.noncurrentVersionDays,
  abortMultipartDays: cfg.bucket.abortMultipartDays,
});

const registry = new Registry("registry", {
  clusterName: cfg.clusterName,
  registryCache: cfg.images.registryCache,
  builder: cfg.images.builder,
});

const karpenter = new Karpenter("karpenter", {
  clusterName: cfg.clusterName,
  clusterNameOutput: cluster.clusterName,
  region: cfg.region,
  partition,
  accountId,
  provider: cluster.provider,
  podIdentityAgent: cluster.podIdentityAgent,
  systemNodes: cluster.systemNodes,
  createSpotServiceLinkedRole: cfg.createSpotServiceLinkedRole,
});

new NodePools("pools", {
  clusterName: cfg.clusterName,
  nodeRoleName: karpenter.nodeRoleName,
  clusterSecurityGroupId: cluster.clusterSecurityGroupId,
  amiAlias: cfg.gpu.amiAlias,
  gpu: {
    rootVolumeGiB: cfg.gpu.rootVolumeGiB,
    instanceFamilies: cfg.gpu.instanceFamilies,
    capacityTypes: cfg.gpu.capacityTypes,
    maxGpus: cfg.gpu.maxGpus,
    consolidateAfter: cfg.gpu.consolidateAfter,
  },
  cpu: cfg.cpu,
  expireAfter: cfg.gpu.expireAfter,
  terminationGracePeriod: cfg.gpu.terminationGracePeriod,
  maintenanceWindow: cfg.gpu.maintenanceWindow,
  provider: cluster.provider,
  karpenter: [karpenter.release, karpenter.crds],
});

new NvidiaDevicePlugin("nvidia", { provider: cluster.provider });

const jobset = new JobSet("jobset", {
  provider: cluster.provider,
  systemNodes: cluster.systemNodes,
});

const kueue = new Kueue("kueue", {
  provider: cluster.provider,
  capacityTypes: cfg.gpu.capacityTypes,
  jobset: [jobset.crds, jobset.release],
  systemNodes: cluster.systemNodes,
});

const trainingRole = new TrainingRole("training", {
  bucketName: storage.bucketName,
  accountId,
  partition,
  clusterName: cfg.clusterName,
});

const teams = cfg.teams.map(
  (team) =>
    new Team(`team-${team.name}`, {
      team,
      flavors: kueue.flavors,
      maxGpus: cfg.gpu.maxGpus,
      limits: platformLimits({
        team: team.name,
        teams: cfg.teams,
        capacityTypes: kueue.flavors,
        instanceFamilies: cfg.gpu.instanceFamilies,
        maxGpus: cfg.gpu.maxGpus,
      }),
      clusterName: cluster.clusterName,
      trainingRoleArn: trainingRole.roleArn,
      bucketName: storage.bucketName,
      region: cfg.region,
      trainerImage: registry.refs.trainer,
      checkpointAgentImage: registry.refs["checkpoint-agent"],
      provider: cluster.provider,
      kueue: [kueue.release, ...kueue.flavorResources],
      podIdentityAgent: cluster.podIdentityAgent,
    }),
);

new AdmissionGuard("admission", {
  registry: registry.repositoryUrls.trainer.apply((url) => url.split("/")[0] ?? url),
  provider: cluster.provider,
});

export const clusterName = cluster.clusterName;
export const region = cfg.region;
export const kubeconfig = pulumi.secret(cluster.kubeconfigJson);
export const bucketName = storage.bucketName;
export const trainerImage = registry.refs.trainer;
export const checkpointAgentImage = registry.refs["checkpoint-agent"];
/** namespace → LocalQueue name. */
export const queues = Object.fromEntries(teams.map((t) => [t.namespace, t.localQueue]));
export const nextSteps = [
  `aws eks update-kubeconfig --name ${cfg.clusterName} --region ${cfg.region}`,
  `kubectl get nodepools,clusterqueues,localqueues -A`,
  `npm run submit -- examples/<experiment>.yaml --namespace ${cfg.teams[0]?.name ?? "<team>"}`,
];
