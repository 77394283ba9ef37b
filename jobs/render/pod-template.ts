/**
 * The training pod: one builder serves the single-node Job and every node of a JobSet.
 * Pure: (experiment, platform, where the master lives) → PodTemplateSpec.
 *
 * Pod plan (../shared/design.md): [init] fetch-dataset → [init] fetch-pretrained (s3://
 * weights only) → [init] restore → [native sidecar] snapshot → [main] trainer. Containers
 * get argv arrays and environment variables only; nothing a user wrote reaches a shell.
 */
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { INodeSelectorRequirement } from "kubernetes-models/v1/NodeSelectorRequirement";
import type { IPodTemplateSpec } from "kubernetes-models/v1/PodTemplateSpec";
import type { IVolume } from "kubernetes-models/v1/Volume";
import type { IVolumeMount } from "kubernetes-models/v1/VolumeMount";
import type { Experiment } from "../spec/experiment.ts";
import { Annotations } from "../labels.ts";
import type { PlatformContext } from "../platform.ts";
import { gpuMemoryRequirement } from "./gpu-memory.ts";
import {
  AgentCommand,
  ContainerNames,
  LauncherCommand,
  LauncherEnv,
  masterPort,
  PodPaths,
} from "../pod-contract.ts";
import { escapeForKubelet } from "./kubernetes-expansion.ts";

/** Spot gives a 2-minute notice: the pod gets most of it, the launcher a share to save. */
export const SPOT_GRACE_SECONDS = 110;
export const ON_DEMAND_GRACE_SECONDS = 300;
/** Time the launcher may spend saving after SIGTERM; the rest is for the final upload. */
export const launcherGraceSeconds = (podGrace: number): number => Math.floor(podGrace * 0.5);

export const NON_ROOT_UID = 1000;

/** Karpenter's pod annotation that blocks voluntary disruption of the pod's node. */
export const DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt";

export interface PodTemplateArgs {
  readonly experiment: Experiment;
  readonly platform: PlatformContext;
  readonly namespace: string;
  /** DNS name of the index-0 pod (torchrun's master). */
  readonly masterAddr: string;
  /** Labels every pod carries (experiment, app.kubernetes.io/*). */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Set for a plain Job: the headless Service giving pods stable names. JobSet sets its own. */
  readonly subdomain?: string;
}

/** `s3://<bucket>/<namespace>/<experiment>/`: the experiment's checkpoints and logs. */
export const checkpointUri = (platform: PlatformContext, namespace: string, name: string): string =>
  `s3://${platform.bucket}/${namespace}/${name}/`;

const quantity = {
  gib: (n: number): string => `${Math.round(n * 1024)}Mi`,
  /** Whole cores as such; fractions in millicores, never `0.30000000000000004`. */
  cpu: (n: number): string => (Number.isInteger(n) ? String(n) : `${Math.round(n * 1000)}m`),
};

export interface NodeResources {
  readonly gpus: number;
  readonly cpu: number;
  readonly memoryGiB: number;
  readonly shmGiB: number;
}

/** Requests per node: CPU for the dataloader workers, memory per GPU, shared memory. */
export function nodeResources(exp: Experiment): NodeResources {
  const { resources: r, train } = exp;
  const units = Math.max(1, r.gpusPerNode);
  const cpu = units * (r.cpuPerGpu ?? train.workersPerGpu + 1);
  const memoryGiB = units * (r.memoryPerGpuGiB ?? (r.gpusPerNode === 0 ? 8 : 12));
  // Dataloader workers pass batches through /dev/shm; it counts against the memory limit.
  const shmGiB = Math.min(memoryGiB / 2, units * Math.max(1, train.workersPerGpu) * 0.5);
  return { gpus: r.gpusPerNode, cpu, memoryGiB, shmGiB };
}

export function renderPodTemplate(args: PodTemplateArgs): IPodTemplateSpec {
  const { experiment: exp, platform, namespace } = args;
  const uri = checkpointUri(platform, namespace, exp.name);
  const res = nodeResources(exp);
  const podGrace = exp.resources.spot ? SPOT_GRACE_SECONDS : ON_DEMAND_GRACE_SECONDS;
  const s3Env = agentEnv(platform);

  const volumes: IVolume[] = [
    { name: "work", emptyDir: {} },
    { name: "config", configMap: { name: `${exp.name}-config` } },
    { name: "data", emptyDir: {} },
    { name: "shm", emptyDir: { medium: "Memory", sizeLimit: quantity.gib(res.shmGiB) } },
    { name: "home", emptyDir: {} },
    { name: "tmp", emptyDir: {} },
    { name: "status", emptyDir: { sizeLimit: "1Mi" } },
  ];
  const pretrainedFromS3 = exp.model.pretrained.startsWith("s3://");
  if (pretrainedFromS3) volumes.push({ name: "pretrained", emptyDir: {} });

  const agent = (name: string, argv: string[], mounts: IVolumeMount[]): IContainer => ({
    name,
    image: platform.checkpointAgentImage,
    imagePullPolicy: "IfNotPresent",
    command: [AgentCommand.executable],
    // User strings (s3:// keys) are in argv: escape `$` so the kubelet expands nothing.
    args: argv.map(escapeForKubelet),
    env: s3Env,
    // The agent writes why it failed (e.g. a corrupt manifest) to /dev/termination-log;
    // should it die before that, the last log lines become the status message instead.
    terminationMessagePolicy: "FallbackToLogsOnError",
    volumeMounts: [...mounts, { name: "tmp", mountPath: "/tmp" }],
    resources: {
      requests: { cpu: "250m", memory: "256Mi" },
      limits: { memory: "1Gi" },
    },
    securityContext: containerSecurityContext(),
  });

  // Native sidecars, both: prepare fetches and restores while the trainer imports Python
  // and builds the model (it waits for the verdict before training), and the pod counts
  // as Ready for Kueue's waitForPodsReady while a large dataset still downloads.
  const prepareMounts: IVolumeMount[] = [
    { name: "data", mountPath: PodPaths.dataDir },
    { name: "work", mountPath: PodPaths.workDir },
    { name: "status", mountPath: PodPaths.statusDir },
  ];
  if (pretrainedFromS3)
    prepareMounts.push({ name: "pretrained", mountPath: PodPaths.pretrainedDir });
  const prepare = agent(
    ContainerNames.prepare,
    AgentCommand.prepare({
      dataset: { uri: exp.dataset.uri, dest: PodPaths.dataDir },
      ...(pretrainedFromS3
        ? { pretrained: { uri: exp.model.pretrained, dest: PodPaths.pretrainedDir } }
        : {}),
      restore: { uri, workDir: PodPaths.workDir },
      verdict: PodPaths.prepareVerdict,
    }),
    prepareMounts,
  );
  const snapshot = agent(
    ContainerNames.snapshot,
    [
      ...AgentCommand.snapshot(PodPaths.workDir, uri, exp.checkpoint.keep, exp.checkpoint.best),
      // Watching the work dir before restore is over would upload what it downloads.
      "--after",
      PodPaths.prepareVerdict,
    ],
    [
      { name: "work", mountPath: PodPaths.workDir },
      { name: "status", mountPath: PodPaths.statusDir, readOnly: true },
    ],
  );
  // Native sidecars start before the trainer and stop after it, so the last upload
  // finishes inside the grace period (Kubernetes ≥ 1.33 stable).
  const initContainers: IContainer[] = [
    { ...prepare, restartPolicy: "Always" },
    {
      ...snapshot,
      restartPolicy: "Always",
      // The agent idles on nodes other than 0: only rank 0 writes checkpoints.
      env: [...s3Env, nodeRankEnv(LauncherEnv.nodeRank)],
    },
  ];

  const trainerEnv: IEnvVar[] = [
    { name: LauncherEnv.experiment, value: exp.name },
    { name: LauncherEnv.config, value: PodPaths.configFile },
    { name: LauncherEnv.workDir, value: PodPaths.workDir },
    { name: LauncherEnv.nnodes, value: String(exp.resources.nodes) },
    { name: LauncherEnv.nprocPerNode, value: String(Math.max(1, exp.resources.gpusPerNode)) },
    nodeRankEnv(LauncherEnv.nodeRank),
    { name: LauncherEnv.masterAddr, value: args.masterAddr },
    { name: LauncherEnv.masterPort, value: String(masterPort) },
    { name: LauncherEnv.graceSeconds, value: String(launcherGraceSeconds(podGrace)) },
    { name: LauncherEnv.prepareVerdict, value: PodPaths.prepareVerdict },
    { name: "HOME", value: "/yunshi/home" },
    { name: "TORCH_HOME", value: "/yunshi/home/.cache/torch" },
    { name: "PYTHONUNBUFFERED", value: "1" },
  ];

  const trainerMounts: IVolumeMount[] = [
    { name: "work", mountPath: PodPaths.workDir },
    { name: "config", mountPath: PodPaths.configDir, readOnly: true },
    { name: "data", mountPath: PodPaths.dataDir, readOnly: true },
    { name: "shm", mountPath: PodPaths.shm },
    { name: "home", mountPath: "/yunshi/home" },
    { name: "tmp", mountPath: "/tmp" },
    { name: "status", mountPath: PodPaths.statusDir, readOnly: true },
  ];
  if (pretrainedFromS3) {
    trainerMounts.push({ name: "pretrained", mountPath: PodPaths.pretrainedDir, readOnly: true });
  }

  const limits: Record<string, string> = { memory: quantity.gib(res.memoryGiB) };
  if (res.gpus > 0) limits["nvidia.com/gpu"] = String(res.gpus);
  const trainer: IContainer = {
    name: ContainerNames.trainer,
    image: platform.trainerImage,
    imagePullPolicy: "IfNotPresent",
    command: [...LauncherCommand],
    env: trainerEnv.map(escapeEnvValue),
    ports: [{ name: "torchrun", containerPort: masterPort, protocol: "TCP" }],
    volumeMounts: trainerMounts,
    resources: {
      requests: { cpu: quantity.cpu(res.cpu), memory: quantity.gib(res.memoryGiB) },
      limits,
    },
    securityContext: containerSecurityContext(),
  };

  const gpu = res.gpus > 0;
  return {
    metadata: {
      labels: { ...args.labels },
      annotations: {
        ...args.annotations,
        [Annotations.checkpointUri]: uri,
        // Karpenter must not drain a node for drift or consolidation while training runs;
        // on expiry it waits up to the NodePool's terminationGracePeriod (infra/).
        [DO_NOT_DISRUPT]: "true",
      },
    },
    spec: {
      restartPolicy: "Never",
      ...(args.subdomain === undefined ? {} : { subdomain: args.subdomain }),
      serviceAccountName: platform.serviceAccount,
      // Pods never call the Kubernetes API; S3 credentials come from Pod Identity.
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: podGrace,
      securityContext: podSecurityContext(),
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: nodeRequirements(exp) }],
          },
        },
      },
      ...(gpu
        ? {
            tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
          }
        : {}),
      initContainers,
      containers: [trainer],
      volumes,
    },
  };
}

/** Node selection Karpenter and Kueue's ResourceFlavors understand (infra/ labels nodes so). */
export function nodeRequirements(exp: Experiment): INodeSelectorRequirement[] {
  const r = exp.resources;
  const reqs: INodeSelectorRequirement[] = [
    {
      key: "karpenter.sh/capacity-type",
      operator: "In",
      values: [r.spot ? "spot" : "on-demand"],
    },
  ];
  if (r.gpusPerNode > 0) {
    if (r.gpu.instanceTypes !== undefined) {
      reqs.push({
        key: "node.kubernetes.io/instance-type",
        operator: "In",
        values: [...r.gpu.instanceTypes],
      });
    } else if (r.gpu.minMemoryGiB !== undefined) {
      // The label holds the MiB EC2 reports (22888 for a "24 GiB" A10G), not GiB × 1024;
      // Gt is strict, so subtract one to include the minimum.
      reqs.push({
        key: "karpenter.k8s.aws/instance-gpu-memory",
        operator: "Gt",
        values: [String(gpuMemoryRequirement(r.gpu.minMemoryGiB).minLabelMiB - 1)],
      });
    }
  }
  return reqs;
}

/** Every yunshi pod (training, export): non-root uid 1000, which owns the emptyDirs. */
export function podSecurityContext(): NonNullable<
  NonNullable<IPodTemplateSpec["spec"]>["securityContext"]
> {
  return {
    runAsNonRoot: true,
    runAsUser: NON_ROOT_UID,
    runAsGroup: NON_ROOT_UID,
    fsGroup: NON_ROOT_UID,
    seccompProfile: { type: "RuntimeDefault" },
  };
}

export function containerSecurityContext(): NonNullable<IContainer["securityContext"]> {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** The node rank is the Indexed Job's completion index, read through the downward API. */
function nodeRankEnv(name: string): IEnvVar {
  return {
    name,
    valueFrom: {
      fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" },
    },
  };
}

export function agentEnv(platform: PlatformContext): IEnvVar[] {
  const env: IEnvVar[] = [{ name: "AWS_REGION", value: platform.region }];
  if (platform.s3Endpoint !== undefined) {
    env.push({ name: "AWS_ENDPOINT_URL_S3", value: platform.s3Endpoint });
    env.push({ name: "YUNSHI_S3_FORCE_PATH_STYLE", value: "true" });
  }
  return env.map(escapeEnvValue);
}

/** The kubelet expands `$(VAR)` in env values as in args (see kubernetes-expansion.ts). */
function escapeEnvValue(e: IEnvVar): IEnvVar {
  return e.value === undefined ? e : { ...e, value: escapeForKubelet(e.value) };
}
