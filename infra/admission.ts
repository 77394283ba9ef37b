/**
 * The job rules as a ValidatingAdmissionPolicy and its binding (policies/admission-policy.ts
 * generates both): the guard inside the cluster for Jobs and JobSets that do not come
 * through `yunshi submit`. Images must come from the platform's ECR registry, and one
 * container may ask for at most 8 GPUs (the largest GPU node). The binding selects team
 * namespaces by the label team-objects.ts puts on them.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { admissionPolicyObjects } from "../policies/admission-policy.ts";

/** GPUs on the largest instance of every allowed family (g5/g6/g6e.48xlarge, p4d, p5). */
export const MAX_GPUS_PER_POD = 8;

export interface AdmissionArgs {
  /** Registry host every training image must come from (`<account>.dkr.ecr.<region>…`). */
  registry: pulumi.Input<string>;
  provider: k8s.Provider;
}

type PolicySpec = k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicySpec;
type BindingSpec = k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpec;

export class AdmissionGuard extends pulumi.ComponentResource {
  constructor(name: string, args: AdmissionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:AdmissionGuard", name, {}, opts);
    const objects = pulumi
      .output(args.registry)
      .apply((registry) => admissionPolicyObjects({ registry, maxGpusPerPod: MAX_GPUS_PER_POD }));
    const childOpts = { parent: this, provider: args.provider };
    // Generated literals (typed loosely there); policies/admission-policy's tests check them.
    const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
      `${name}-policy`,
      {
        metadata: objects.apply((o) => o[0]!.metadata),
        spec: objects.apply((o) => o[0]!.spec as unknown as PolicySpec),
      },
      childOpts,
    );
    new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
      `${name}-binding`,
      {
        metadata: objects.apply((o) => o[1]!.metadata),
        spec: objects.apply((o) => o[1]!.spec as unknown as BindingSpec),
      },
      { ...childOpts, dependsOn: [policy] },
    );
    this.registerOutputs({});
  }
}
