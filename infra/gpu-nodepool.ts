/**
 * GPU capacity that scales from zero: one EC2NodeClass and one NodePool allowing both spot
 * and on-demand, tainted so only GPU pods land there, labelled for the device plugin, capped
 * by a GPU limit (the cost guard) and consolidated as soon as nodes are empty.
 * The job renderer selects capacity with `karpenter.sh/capacity-type` and GPU memory with
 * `karpenter.k8s.aws/instance-gpu-memory`; Kueue's flavors pin the capacity type.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { apiVersions } from "./versions.ts";

import {
  CAPACITY_TYPE_LABEL,
  GPU_PRESENT_LABEL,
  GPU_TAINT,
} from "./platform-objects/node-labels.ts";

export { CAPACITY_TYPE_LABEL, GPU_PRESENT_LABEL, GPU_TAINT };
export const GPU_NODEPOOL_NAME = "gpu";

export interface GpuNodeClassParams {
  readonly clusterName: string;
  readonly nodeRoleName: string;
  readonly clusterSecurityGroupId: string;
  readonly amiAlias: string;
  readonly rootVolumeGiB: number;
}

export function gpuNodeClassSpec(p: GpuNodeClassParams): Record<string, unknown> {
  return {
    role: p.nodeRoleName,
    amiSelectorTerms: [{ alias: p.amiAlias }],
    subnetSelectorTerms: [{ tags: { "karpenter.sh/discovery": p.clusterName } }],
    securityGroupSelectorTerms: [{ id: p.clusterSecurityGroupId }],
    // Local NVMe (g5/g6/p4d/p5) as ephemeral storage: image layers and datasets.
    instanceStorePolicy: "RAID0",
    blockDeviceMappings: [
      {
        deviceName: "/dev/xvda",
        ebs: {
          volumeSize: `${p.rootVolumeGiB}Gi`,
          volumeType: "gp3",
          encrypted: true,
          deleteOnTermination: true,
        },
      },
    ],
    // IMDSv2 only, hop limit 1: pods cannot borrow the node role; they use Pod Identity.
    metadataOptions: {
      httpEndpoint: "enabled",
      httpProtocolIPv6: "disabled",
      httpPutResponseHopLimit: 1,
      httpTokens: "required",
    },
    tags: { "yunshi/cluster": p.clusterName, "yunshi/pool": GPU_NODEPOOL_NAME },
  };
}

export interface GpuNodePoolParams {
  readonly instanceFamilies: readonly string[];
  readonly capacityTypes: readonly string[];
  readonly maxGpus: number;
  readonly consolidateAfter: string;
  readonly expireAfter: string;
  readonly nodeClassName: string;
}

export function gpuNodePoolSpec(p: GpuNodePoolParams): Record<string, unknown> {
  return {
    template: {
      metadata: { labels: { [GPU_PRESENT_LABEL.key]: GPU_PRESENT_LABEL.value } },
      spec: {
        nodeClassRef: { group: "karpenter.k8s.aws", kind: "EC2NodeClass", name: p.nodeClassName },
        taints: [{ ...GPU_TAINT }],
        requirements: [
          {
            key: "karpenter.k8s.aws/instance-family",
            operator: "In",
            values: [...p.instanceFamilies],
          },
          { key: CAPACITY_TYPE_LABEL, operator: "In", values: [...p.capacityTypes] },
          { key: "kubernetes.io/arch", operator: "In", values: ["amd64"] },
          { key: "kubernetes.io/os", operator: "In", values: ["linux"] },
        ],
        expireAfter: p.expireAfter,
      },
    },
    // Cost guard: Karpenter stops launching once the pool holds this many GPUs.
    limits: { "nvidia.com/gpu": String(p.maxGpus) },
    // Only empty nodes are removed: consolidating busy nodes would kill training pods.
    disruption: { consolidationPolicy: "WhenEmpty", consolidateAfter: p.consolidateAfter },
  };
}

export interface GpuNodePoolArgs {
  clusterName: string;
  nodeRoleName: pulumi.Input<string>;
  clusterSecurityGroupId: pulumi.Input<string>;
  amiAlias: string;
  rootVolumeGiB: number;
  instanceFamilies: string[];
  capacityTypes: string[];
  maxGpus: number;
  consolidateAfter: string;
  expireAfter: string;
  provider: k8s.Provider;
  /** The Karpenter release (its CRDs must exist first). */
  karpenter: pulumi.Resource;
}

export class GpuNodePool extends pulumi.ComponentResource {
  constructor(name: string, args: GpuNodePoolArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:GpuNodePool", name, {}, opts);
    const childOpts = { parent: this, provider: args.provider, dependsOn: [args.karpenter] };
    const nodeClass = new k8s.apiextensions.CustomResource(
      `${name}-nodeclass`,
      {
        apiVersion: apiVersions.karpenterNodeClass,
        kind: "EC2NodeClass",
        metadata: { name: GPU_NODEPOOL_NAME },
        spec: pulumi
          .all([args.nodeRoleName, args.clusterSecurityGroupId])
          .apply(([nodeRoleName, clusterSecurityGroupId]) =>
            gpuNodeClassSpec({
              clusterName: args.clusterName,
              nodeRoleName,
              clusterSecurityGroupId,
              amiAlias: args.amiAlias,
              rootVolumeGiB: args.rootVolumeGiB,
            }),
          ),
      },
      childOpts,
    );
    new k8s.apiextensions.CustomResource(
      `${name}-nodepool`,
      {
        apiVersion: apiVersions.karpenterNodePool,
        kind: "NodePool",
        metadata: { name: GPU_NODEPOOL_NAME },
        spec: gpuNodePoolSpec({
          instanceFamilies: args.instanceFamilies,
          capacityTypes: args.capacityTypes,
          maxGpus: args.maxGpus,
          consolidateAfter: args.consolidateAfter,
          expireAfter: args.expireAfter,
          nodeClassName: GPU_NODEPOOL_NAME,
        }),
      },
      { ...childOpts, dependsOn: [args.karpenter, nodeClass] },
    );
    this.registerOutputs({});
  }
}
