/**
 * Karpenter capacity that scales from zero: a GPU pool (tainted, capped by a GPU limit,
 * emptied within minutes) and a small CPU pool for CPU-only team work, each with its own
 * EC2NodeClass. The objects are pure functions in platform-objects/karpenter-objects.ts.
 *
 * Both pools depend on the Karpenter release, which depends on every permission the
 * controller needs: on `pulumi destroy` they are deleted first, and Pulumi waits for their
 * finalizers (Karpenter drains and terminates their nodes) while the controller still can.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  CPU_NODEPOOL_NAME,
  GPU_NODEPOOL_NAME,
  cpuNodePool,
  gpuNodePool,
  nodeClass,
  type KarpenterObject,
  type MaintenanceWindow,
} from "./platform-objects/karpenter-objects.ts";
import { apiVersions } from "./versions.ts";

export interface NodePoolsArgs {
  clusterName: string;
  nodeRoleName: pulumi.Input<string>;
  clusterSecurityGroupId: pulumi.Input<string>;
  amiAlias: string;
  gpu: {
    rootVolumeGiB: number;
    instanceFamilies: string[];
    capacityTypes: string[];
    maxGpus: number;
    consolidateAfter: string;
  };
  cpu: {
    instanceFamilies: string[];
    capacityTypes: string[];
    maxVcpus: number;
  };
  expireAfter: string;
  terminationGracePeriod: string;
  maintenanceWindow: MaintenanceWindow | undefined;
  provider: k8s.Provider;
  /** The Karpenter controller release (and through it, its CRDs and permissions). */
  karpenter: pulumi.Resource[];
}

export class NodePools extends pulumi.ComponentResource {
  constructor(name: string, args: NodePoolsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:NodePools", name, {}, opts);
    const childOpts = { parent: this, provider: args.provider, dependsOn: args.karpenter };
    const custom = (resourceName: string, obj: KarpenterObject, dependsOn: pulumi.Resource[]) =>
      new k8s.apiextensions.CustomResource(resourceName, { ...obj }, { ...childOpts, dependsOn });

    const classFor = (pool: string, rootVolumeGiB: number) =>
      new k8s.apiextensions.CustomResource(
        `${name}-${pool}-nodeclass`,
        {
          apiVersion: apiVersions.karpenterNodeClass,
          kind: "EC2NodeClass",
          metadata: { name: pool },
          spec: pulumi.all([args.nodeRoleName, args.clusterSecurityGroupId]).apply(
            ([nodeRoleName, clusterSecurityGroupId]) =>
              nodeClass({
                name: pool,
                clusterName: args.clusterName,
                nodeRoleName,
                clusterSecurityGroupId,
                amiAlias: args.amiAlias,
                rootVolumeGiB,
              }).spec,
          ),
        },
        childOpts,
      );

    const gpuClass = classFor(GPU_NODEPOOL_NAME, args.gpu.rootVolumeGiB);
    custom(
      `${name}-gpu-nodepool`,
      gpuNodePool({
        ...args.gpu,
        expireAfter: args.expireAfter,
        terminationGracePeriod: args.terminationGracePeriod,
        maintenanceWindow: args.maintenanceWindow,
      }),
      [...args.karpenter, gpuClass],
    );
    const cpuClass = classFor(CPU_NODEPOOL_NAME, 100);
    custom(
      `${name}-cpu-nodepool`,
      cpuNodePool({
        ...args.cpu,
        consolidateAfter: args.gpu.consolidateAfter,
        expireAfter: args.expireAfter,
        terminationGracePeriod: args.terminationGracePeriod,
        maintenanceWindow: args.maintenanceWindow,
      }),
      [...args.karpenter, cpuClass],
    );
    this.registerOutputs({});
  }
}
