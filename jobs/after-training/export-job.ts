/**
 * `yunshi export <experiment> --format onnx --cluster`: the export as a CPU Job in the team
 * namespace, rendered like training (same pod hardening, same checkpoint agent), pure:
 * (experiment, committed checkpoint, platform) → batch/v1 Job.
 *
 * Pod plan, in the order Kubernetes guarantees:
 *   [init] fetch-model    agent `fetch` of the chosen committed checkpoint
 *   [init] fetch-dataset  agent `fetch` of the experiment's dataset (its val pictures are
 *                         what the export is verified on), or fetch-sample-N per --sample
 *   [init] export         trainer image: images/trainer/yunshi_export.py (MMDeploy + the
 *                         PyTorch/ONNX Runtime comparison), argv only
 *   [main] push           agent `push --verified verification.json` to <experiment>/exports/onnx/
 * The export is an init container and the upload the main one because the kubelet starts
 * the main container only after every init container exited 0: an export that fails its
 * verification (exit 1) or its input (exit 2) ends the pod before anything is uploaded.
 * The push checks the verdict again itself (`"verified": true`), so an unverified export is
 * never uploaded even if an exit code lied.
 *
 * The Job does not carry the experiment label (jobs/labels.ts Labels.experiment): `status`,
 * `logs`, `cancel` and the training Service select an experiment's Job and pods by it, and
 * must not mistake the export for the training run.
 */
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IPodFailurePolicyRule } from "kubernetes-models/batch/v1/PodFailurePolicyRule";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { IVolume } from "kubernetes-models/v1/Volume";
import type { IVolumeMount } from "kubernetes-models/v1/VolumeMount";
import { posix } from "node:path";
import { Labels, PART_OF } from "../labels.ts";
import type { PlatformContext } from "../platform.ts";
import { AgentCommand, AgentExit, PodPaths } from "../pod-contract.ts";
import { escapeForKubelet } from "../render/kubernetes-expansion.ts";
import { TTL_SECONDS_AFTER_FINISHED } from "../render/kubernetes.ts";
import {
  agentEnv,
  checkpointUri,
  containerSecurityContext,
  DO_NOT_DISRUPT,
  podSecurityContext,
} from "../render/pod-template.ts";
import { exportsKey } from "./export-formats.ts";

/** Paths inside the export pod. The dataset goes where training had it: the checkpoint's
 * saved config points its validation set at PodPaths.dataDir. */
export const ExportPaths = {
  modelDir: "/yunshi/model",
  dataDir: PodPaths.dataDir,
  samplesDir: "/yunshi/samples",
  outDir: "/yunshi/export",
  home: "/yunshi/home",
} as const;

export const ExportContainers = {
  fetchModel: "fetch-model",
  fetchDataset: "fetch-dataset",
  fetchSample: (i: number): string => `fetch-sample-${i}`,
  export: "export",
  push: "push",
} as const;

/** The export script in the trainer image (images/trainer/Dockerfile copies yunshi_*.py to
 * /opt/yunshi/), run by the image's Python without a shell. */
export const EXPORT_COMMAND = ["python3", "/opt/yunshi/yunshi_export.py"] as const;
/** The verdict yunshi_export.py writes into its output folder; the push requires it. */
export const VERDICT_FILE = "verification.json";

/**
 * The agent's `push` argv (images/checkpoint-agent/src/push.ts). Belongs beside the other
 * commands in jobs/pod-contract.ts AgentCommand; kept here while that file is being reworked.
 */
export const pushArgv = (dir: string, uri: string, verdict: string): string[] => [
  "push",
  "--dir",
  dir,
  "--uri",
  uri,
  "--verified",
  verdict,
];

/** Labels and annotations of export Jobs (a contract for whoever looks them up). */
export const ExportLabels = {
  /** The experiment whose checkpoint is exported. Not Labels.experiment: see the top. */
  exportOf: "yunshi.dev/export-of",
} as const;
export const ExportAnnotations = {
  /** The committed checkpoint exported, and its SHA-256 from the manifest. */
  checkpoint: "yunshi.dev/export-checkpoint",
  sha256: "yunshi.dev/export-checkpoint-sha256",
  /** Where the verified export is uploaded. */
  target: "yunshi.dev/export-uri",
} as const;

/** Pictures to verify on, at most: one init container (and fetch) each. */
export const MAX_SAMPLES = 8;
/** A fetch of the dataset plus minutes of CPU; an export that takes longer is stuck. */
export const EXPORT_DEADLINE_SECONDS = 2 * 3600;
/** Retries for what a retry may fix (network, S3, a lost node); see the failure policy. */
export const EXPORT_BACKOFF_LIMIT = 2;
/** MMDeploy's export and two detectors side by side, on the CPU. */
export const EXPORT_RESOURCES = { cpu: "2", memory: "8Gi" } as const;

/** `<experiment>-export-<format>`: an experiment name has ≤ 50 characters, so ≤ 63. */
export const exportJobName = (experiment: string, format: string): string =>
  `${experiment}-export-${format}`;

export interface CommittedCheckpoint {
  /** Object key relative to the experiment's prefix (the manifest's `key`). */
  readonly key: string;
  readonly sha256: string;
  readonly kind: "best" | "latest";
  readonly epoch?: number | undefined;
  readonly iter?: number | undefined;
}

/** What the export is verified on: the experiment's validation pictures, or named ones. */
export type VerifyOn = { readonly datasetUri: string } | { readonly samples: readonly string[] };

export interface ExportJobInput {
  readonly experiment: string;
  readonly namespace: string;
  readonly format: string;
  readonly platform: PlatformContext;
  /** Kueue LocalQueue (the platform's, unless the caller chose another). */
  readonly queue: string;
  readonly checkpoint: CommittedCheckpoint;
  readonly verifyOn: VerifyOn;
  /** Version of yunshi written into labels. */
  readonly version: string;
}

/** s3://<bucket>/<namespace>/<experiment>/exports/<format>/ */
export const exportUri = (
  i: Pick<ExportJobInput, "platform" | "namespace" | "experiment" | "format">,
): string => `${checkpointUri(i.platform, i.namespace, i.experiment)}${exportsKey(i.format)}`;

export function renderExportJob(input: ExportJobInput): IJob {
  const { platform, namespace, experiment } = input;
  const name = exportJobName(experiment, input.format);
  const prefix = checkpointUri(platform, namespace, experiment);
  const checkpointObject = `${prefix}${input.checkpoint.key}`;
  const target = exportUri(input);
  const s3Env = agentEnv(platform);

  const labels: Record<string, string> = {
    [Labels.name]: "yunshi-export",
    [Labels.instance]: name,
    [Labels.component]: "export",
    [Labels.partOf]: PART_OF,
    [Labels.managedBy]: PART_OF,
    [Labels.version]: input.version,
    [ExportLabels.exportOf]: experiment,
  };
  const annotations: Record<string, string> = {
    [ExportAnnotations.checkpoint]: checkpointObject,
    [ExportAnnotations.sha256]: input.checkpoint.sha256,
    [ExportAnnotations.target]: target,
  };

  const volumes: IVolume[] = [
    { name: "model", emptyDir: {} },
    { name: "export", emptyDir: {} },
    { name: "home", emptyDir: {} },
    { name: "tmp", emptyDir: {} },
  ];
  const tmp: IVolumeMount = { name: "tmp", mountPath: "/tmp" };

  // As the training pod's agent containers (jobs/render/pod-template.ts).
  const agent = (containerName: string, argv: string[], mounts: IVolumeMount[]): IContainer => ({
    name: containerName,
    image: platform.checkpointAgentImage,
    imagePullPolicy: "IfNotPresent",
    command: [AgentCommand.executable],
    // User strings (s3:// keys) are in argv: escape `$` so the kubelet expands nothing.
    args: argv.map(escapeForKubelet),
    env: s3Env,
    terminationMessagePolicy: "FallbackToLogsOnError",
    volumeMounts: [...mounts, tmp],
    resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "1Gi" } },
    securityContext: containerSecurityContext(),
  });

  const modelFile = posix.join(ExportPaths.modelDir, posix.basename(input.checkpoint.key));
  const initContainers: IContainer[] = [
    agent(ExportContainers.fetchModel, AgentCommand.fetch(checkpointObject, ExportPaths.modelDir), [
      { name: "model", mountPath: ExportPaths.modelDir },
    ]),
  ];
  const exportMounts: IVolumeMount[] = [
    { name: "model", mountPath: ExportPaths.modelDir, readOnly: true },
    { name: "export", mountPath: ExportPaths.outDir },
    { name: "home", mountPath: ExportPaths.home },
    tmp,
  ];
  const sampleArgs: string[] = [];
  if ("datasetUri" in input.verifyOn) {
    volumes.push({ name: "data", emptyDir: {} });
    initContainers.push(
      agent(
        ExportContainers.fetchDataset,
        AgentCommand.fetch(input.verifyOn.datasetUri, ExportPaths.dataDir),
        [{ name: "data", mountPath: ExportPaths.dataDir }],
      ),
    );
    exportMounts.push({ name: "data", mountPath: ExportPaths.dataDir, readOnly: true });
  } else {
    volumes.push({ name: "samples", emptyDir: {} });
    input.verifyOn.samples.forEach((uri, i) => {
      // One folder per picture: two pictures may share a base name.
      const dir = posix.join(ExportPaths.samplesDir, String(i));
      initContainers.push(
        agent(ExportContainers.fetchSample(i), AgentCommand.fetch(uri, dir), [
          { name: "samples", mountPath: ExportPaths.samplesDir },
        ]),
      );
      sampleArgs.push("--sample", posix.join(dir, posix.basename(uri)));
    });
    exportMounts.push({ name: "samples", mountPath: ExportPaths.samplesDir, readOnly: true });
  }

  const exportEnv: IEnvVar[] = [
    { name: "HOME", value: ExportPaths.home },
    { name: "TORCH_HOME", value: `${ExportPaths.home}/.cache/torch` },
    { name: "MPLBACKEND", value: "Agg" },
    { name: "PYTHONUNBUFFERED", value: "1" },
    { name: "PYTHONDONTWRITEBYTECODE", value: "1" },
  ];
  initContainers.push({
    name: ExportContainers.export,
    image: platform.trainerImage,
    imagePullPolicy: "IfNotPresent",
    command: [...EXPORT_COMMAND],
    // The image's WORKDIR is on the read-only root filesystem: anything written to the
    // current directory goes to the pod's /tmp.
    workingDir: "/tmp",
    args: [
      "--checkpoint",
      modelFile,
      "--sha256",
      input.checkpoint.sha256,
      "--out-dir",
      ExportPaths.outDir,
      ...sampleArgs,
    ].map(escapeForKubelet),
    env: exportEnv,
    // yunshi_export.py's last lines (the verification's differences) become the reason.
    terminationMessagePolicy: "FallbackToLogsOnError",
    volumeMounts: exportMounts,
    resources: {
      requests: { cpu: EXPORT_RESOURCES.cpu, memory: EXPORT_RESOURCES.memory },
      limits: { memory: EXPORT_RESOURCES.memory },
    },
    securityContext: containerSecurityContext(),
  });

  const push = agent(ExportContainers.push, pushArgv(ExportPaths.outDir, target, VERDICT_FILE), [
    { name: "export", mountPath: ExportPaths.outDir, readOnly: true },
  ]);

  const failurePolicy: IPodFailurePolicyRule[] = [
    // A reclaimed spot node or a drain: start over without using up a retry.
    { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
    // Invalid input (agent: bad URI, nothing at the key; export: a replaced checkpoint, an
    // undecodable picture) fails the same way on every retry.
    {
      action: "FailJob",
      onExitCodes: { operator: "In", values: [AgentExit.invalidInput] },
    },
    // The export is deterministic on the CPU: a verification that failed fails again.
    {
      action: "FailJob",
      onExitCodes: { containerName: ExportContainers.export, operator: "In", values: [1] },
    },
  ];

  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name,
      namespace,
      labels: { ...labels, [Labels.kueueQueue]: input.queue },
      annotations: { ...annotations },
    },
    spec: {
      completions: 1,
      parallelism: 1,
      backoffLimit: EXPORT_BACKOFF_LIMIT,
      podFailurePolicy: { rules: failurePolicy },
      // With a podFailurePolicy only `Failed` is allowed.
      podReplacementPolicy: "Failed",
      activeDeadlineSeconds: EXPORT_DEADLINE_SECONDS,
      ttlSecondsAfterFinished: TTL_SECONDS_AFTER_FINISHED,
      template: {
        metadata: {
          labels: { ...labels },
          annotations: { ...annotations, [DO_NOT_DISRUPT]: "true" },
        },
        spec: {
          restartPolicy: "Never",
          serviceAccountName: platform.serviceAccount,
          // Pods never call the Kubernetes API; S3 credentials come from Pod Identity.
          automountServiceAccountToken: false,
          // Nothing to save on SIGTERM: a stopped export starts over.
          terminationGracePeriodSeconds: 30,
          securityContext: podSecurityContext(),
          // CPU only, as CPU-only training (jobs/render/pod-template.ts nodeRequirements): no
          // GPU toleration, so the GPU nodes' taint keeps it off them; spot or on-demand,
          // whichever Kueue's flavors have quota for (a reclaimed export starts over).
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  {
                    matchExpressions: [
                      {
                        key: "karpenter.sh/capacity-type",
                        operator: "In",
                        values: ["spot", "on-demand"],
                      },
                    ],
                  },
                ],
              },
            },
          },
          initContainers,
          containers: [push],
          volumes,
        },
      },
    },
  };
}
