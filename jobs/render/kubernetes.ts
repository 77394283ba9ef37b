/**
 * (experiment, platform context) → the Kubernetes objects that run it, pure.
 * - ConfigMap `<name>-config` with the generated MMDetection config.
 * - One node: a batch/v1 Indexed Job + a headless Service (stable pod DNS names).
 * - Several nodes: a JobSet (jobset.x-k8s.io/v1alpha2) whose one replicated job is the
 *   same Indexed Job; JobSet restarts the whole group on failure, which is what a
 *   torchrun group needs, and creates the headless Service itself.
 */
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IService } from "kubernetes-models/v1/Service";
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IJobSpec } from "kubernetes-models/batch/v1/JobSpec";
import type { IPodFailurePolicyRule } from "kubernetes-models/batch/v1/PodFailurePolicyRule";
import type { IPodTemplateSpec } from "kubernetes-models/v1/PodTemplateSpec";
import { durationSeconds, type Experiment } from "../spec/experiment.ts";
import type { JobSet } from "./jobset-types.ts";
import { Annotations, Labels, objectNames, PART_OF } from "../labels.ts";
import type { PlatformContext } from "../platform.ts";
import { ContainerNames, doNotRetryExitCodes, masterPort } from "../pod-contract.ts";
import { renderMmdetConfig } from "./mmdet-config.ts";
import { checkpointUri, renderPodTemplate } from "./pod-template.ts";

export type KubeObject = IConfigMap | IService | IJob | JobSet;

export interface RenderInput {
  readonly experiment: Experiment;
  readonly platform: PlatformContext;
  readonly specHash: string;
  /** Version of yunshi written into labels. */
  readonly version: string;
  /**
   * Keep finished runs instead of deleting them after TTL_SECONDS_AFTER_FINISHED. For
   * GitOps: a controller that re-applies what git holds would recreate an expired run and
   * train it again; there, removing the spec from git is what ends a run's life.
   */
  readonly keepFinished?: boolean;
}

/** Names of the JobSet failure-policy rules (status reads them back from the JobSet's status). */
export const JobSetRules = {
  preemption: "preemption",
  deadline: "deadline",
  doNotRetry: "doNotRetry",
} as const;

/**
 * What the Job controller writes as the failure message when a pod's condition matches a
 * FailJob rule (k8s.io/kubernetes pkg/controller/job/pod_failure_policy.go:
 * "Pod <ns>/<pod> has condition DisruptionTarget matching FailJob rule at index <i>").
 */
export const DISRUPTION_FAILURE_MESSAGE = "has condition DisruptionTarget matching FailJob rule";

/** Finished Jobs stay a week so that `status` can still explain them. */
export const TTL_SECONDS_AFTER_FINISHED = 7 * 24 * 3600;

const ttl = (input: RenderInput): { ttlSecondsAfterFinished?: number } =>
  input.keepFinished === true ? {} : { ttlSecondsAfterFinished: TTL_SECONDS_AFTER_FINISHED };

export function renderKubernetesObjects(input: RenderInput): KubeObject[] {
  const { experiment: exp, platform } = input;
  const namespace = exp.namespace ?? platform.namespace;
  const names = objectNames(exp.name);
  const labels = commonLabels(exp, input.version);
  const annotations = {
    [Annotations.specHash]: input.specHash,
    [Annotations.retries]: String(exp.retries),
    // On every object (not only pods), so status and cancel can say where checkpoints are.
    [Annotations.checkpointUri]: checkpointUri(platform, namespace, exp.name),
  };
  const queue = exp.queue ?? platform.queue;
  const meta = (name: string, extraLabels: Record<string, string> = {}) => ({
    name,
    namespace,
    labels: { ...labels, ...extraLabels },
    annotations: { ...annotations },
  });

  const configMap: IConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: meta(names.configMap),
    data: {
      "config.py": renderMmdetConfig(exp, { specHash: input.specHash }),
    },
  };

  const multiNode = exp.resources.nodes > 1;
  const masterAddr = multiNode
    ? // JobSet pod hostnames: <jobset>-<replicatedJob>-<jobIndex>-<podIndex>.<subdomain>
      `${names.workload}-${names.replicatedJob}-0-0.${names.service}`
    : `${names.workload}-0.${names.service}`;
  const template = renderPodTemplate({
    experiment: exp,
    platform,
    namespace,
    masterAddr,
    labels,
    annotations,
    ...(multiNode ? {} : { subdomain: names.service }),
  });

  const jobSpec = (backoffLimit: number, podFailurePolicy: IPodFailurePolicyRule[]): IJobSpec => ({
    completionMode: "Indexed",
    completions: exp.resources.nodes,
    parallelism: exp.resources.nodes,
    backoffLimit,
    podFailurePolicy: { rules: podFailurePolicy },
    // With a podFailurePolicy only `Failed` is allowed; it also makes the replacement
    // wait until the old pod (and its final checkpoint upload) has fully terminated.
    podReplacementPolicy: "Failed",
    activeDeadlineSeconds: durationSeconds(exp.maxRuntime),
    template,
  });
  const doNotRetry: IPodFailurePolicyRule[] = [
    {
      action: "FailJob",
      onExitCodes: {
        containerName: ContainerNames.trainer,
        operator: "In",
        values: [...doNotRetryExitCodes],
      },
    },
    // A failed prepare step (bad dataset URI, corrupt manifest) reaches the pod as the
    // trainer's exit code (pod-contract PrepareFailureExit), covered by the rule above.
  ];

  if (!multiNode) {
    const service: IService = {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta(names.service),
      spec: {
        clusterIP: "None",
        // torchrun's rendezvous needs the name before the pod is Ready.
        publishNotReadyAddresses: true,
        selector: { [Labels.experiment]: exp.name },
        ports: [{ name: "torchrun", port: masterPort, targetPort: masterPort, protocol: "TCP" }],
      },
    };
    const job: IJob = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: meta(names.workload, { [Labels.kueueQueue]: queue }),
      spec: {
        // Preemptions (DisruptionTarget) do not count against retries; errors that a
        // retry cannot fix fail the Job at once.
        // Retries per index (the same limit for a single index) make the Job controller
        // annotate each replacement pod with the failures and ignored failures (preemptions)
        // before it: status counts restarts from there after the old pods are gone.
        backoffLimitPerIndex: exp.retries,
        maxFailedIndexes: 0,
        ...jobSpec(exp.retries, [
          { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
          ...doNotRetry,
        ]),
        ...ttl(input),
      },
    };
    return [configMap, service, job];
  }

  // Any failed pod fails its Job at once (backoffLimit 0) so that JobSet restarts the
  // whole torchrun group. A disrupted pod fails it through its own rule, so that the Job's
  // failure message names DisruptionTarget and JobSet can restart the group for free.
  const childRules: IPodFailurePolicyRule[] = [
    { action: "FailJob", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
    ...doNotRetry,
  ];
  const jobSet: JobSet = {
    apiVersion: "jobset.x-k8s.io/v1alpha2",
    kind: "JobSet",
    metadata: meta(names.workload, { [Labels.kueueQueue]: queue }),
    spec: {
      network: {
        enableDNSHostnames: true,
        subdomain: names.service,
        publishNotReadyAddresses: true,
      },
      failurePolicy: {
        maxRestarts: exp.retries,
        restartStrategy: "Recreate",
        // JobSet applies the first rule that matches the failed child Job.
        rules: [
          {
            // Preemption, spot reclaim, drain: restart the group without using up retries.
            name: JobSetRules.preemption,
            action: "RestartJobSetAndIgnoreMaxRestarts",
            onJobFailureReasons: ["PodFailurePolicy"],
            onJobFailureMessagePatterns: [DISRUPTION_FAILURE_MESSAGE],
          },
          {
            // maxRuntime: without this rule JobSet would restart the group with a fresh deadline.
            name: JobSetRules.deadline,
            action: "FailJobSet",
            onJobFailureReasons: ["DeadlineExceeded"],
          },
          {
            // The remaining PodFailurePolicy failures are the do-not-retry exit codes.
            name: JobSetRules.doNotRetry,
            action: "FailJobSet",
            onJobFailureReasons: ["PodFailurePolicy"],
          },
        ],
      },
      replicatedJobs: [
        {
          name: names.replicatedJob,
          replicas: 1,
          template: {
            metadata: { labels: { ...labels }, annotations: { ...annotations } },
            spec: jobSpec(0, childRules),
          },
        },
      ],
      ...ttl(input),
    },
  };
  return [configMap, jobSet];
}

function commonLabels(exp: Experiment, version: string): Record<string, string> {
  return {
    [Labels.experiment]: exp.name,
    [Labels.name]: "yunshi-experiment",
    [Labels.instance]: exp.name,
    [Labels.component]: "training",
    [Labels.partOf]: PART_OF,
    [Labels.managedBy]: PART_OF,
    [Labels.version]: version,
  };
}

/** "1h30m" → 5400: one definition, beside the schema that bounds it. */
export { durationSeconds };

/** The pod templates inside a rendered object, keyed by where they sit. */
const podTemplateFinders: Readonly<
  Record<string, (o: KubeObject) => Array<[string, IPodTemplateSpec]>>
> = {
  Job: (o) => {
    const job = o as IJob;
    return job.spec === undefined ? [] : [[`Job/${job.metadata?.name ?? ""}`, job.spec.template]];
  },
  JobSet: (o) =>
    (o as JobSet).spec.replicatedJobs.map((rj) => [
      `JobSet/${(o as JobSet).metadata.name ?? ""}/${rj.name}`,
      rj.template.spec.template,
    ]),
};

export function podTemplatesOf(o: KubeObject): Array<[string, IPodTemplateSpec]> {
  return podTemplateFinders[o.kind ?? ""]?.(o) ?? [];
}
