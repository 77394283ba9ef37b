/**
 * Labels and annotations on every object the renderer builds. `status`, `logs` and
 * `cancel` find an experiment's objects and pods by these, so they are a contract.
 */
export const Labels = {
  /** The experiment name, on every object and on every pod template. */
  experiment: "yunshi.dev/experiment",
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  component: "app.kubernetes.io/component",
  partOf: "app.kubernetes.io/part-of",
  managedBy: "app.kubernetes.io/managed-by",
  version: "app.kubernetes.io/version",
  kueueQueue: "kueue.x-k8s.io/queue-name",
} as const;

export const Annotations = {
  /** sha256 of the validated experiment (canonical JSON): detects a changed spec. */
  specHash: "yunshi.dev/spec-hash",
  /** The S3 URI of the experiment's checkpoints and logs. */
  checkpointUri: "yunshi.dev/checkpoint-uri",
  /** `retries` from the spec, for status (restarts used / allowed). */
  retries: "yunshi.dev/retries",
} as const;

export const FIELD_MANAGER = "yunshi";
export const PART_OF = "yunshi";

/** Object names derived from the experiment name (≤ 50 chars, so suffixes stay ≤ 63). */
export const objectNames = (experiment: string) =>
  ({
    /** The Job, or the JobSet for several nodes. */
    workload: experiment,
    /** Headless Service giving pods stable DNS names (the pod template's subdomain). */
    service: experiment,
    /** The generated MMDetection config. */
    configMap: `${experiment}-config`,
    /** JobSet replicated job name. */
    replicatedJob: "node",
  }) as const;
