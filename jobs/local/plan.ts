/**
 * The local plan, pure: the very pod the cluster would run (renderPodTemplate), turned into
 * local processes. Each container becomes one process with the same argv and environment;
 * only what cannot exist on a workstation changes: the pod's fixed paths (/yunshi/...) map to
 * folders under `.yunshi/runs/<name>/`, images map to the programs in this repository, the
 * downward-API node rank becomes 0, and torchrun's rendezvous is 127.0.0.1. A local
 * dataset.uri replaces the fetch-dataset init container. Nothing here starts a process.
 */
import { dirname, isAbsolute, resolve } from "node:path";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { Experiment } from "../spec/experiment.ts";
import { defaultPlatformContext, type PlatformContext } from "../platform.ts";
import {
  AgentCommand,
  ContainerNames,
  LauncherCommand,
  LauncherEnv,
  PodPaths,
} from "../pod-contract.ts";
import { renderMmdetConfig } from "../render/mmdet-config.ts";
import { expandLikeKubelet } from "../render/kubernetes-expansion.ts";
import { checkpointUri, renderPodTemplate } from "../render/pod-template.ts";
import type { LocalLayout } from "./layout.ts";

/** Where the object store is and how to sign for it. */
export interface LocalStore {
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  /** Only for the embedded store (its fixed development keys); else the user's own chain. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** The programs that stand in for the images. */
export interface LocalRuntime {
  readonly python: string;
  /** images/trainer/yunshi_launch.py */
  readonly launcher: string;
  readonly node: string;
  /** The tsx loader (file URL) for `node --import`. */
  readonly tsxLoader: string;
  /** images/checkpoint-agent/src/main.ts */
  readonly agentMain: string;
}

export interface LocalPlanInput {
  readonly experiment: Experiment;
  readonly specHash: string;
  readonly layout: LocalLayout;
  readonly store: LocalStore;
  readonly runtime: LocalRuntime;
  /** Resolved dataset.uri: a local directory (absolute) or the s3:// URI to fetch. */
  readonly dataset: DatasetSource;
  /** GPUs this machine shows (CUDA_VISIBLE_DEVICES or /dev/nvidiaN). */
  readonly visibleGpus: number;
  /** A free port for torchrun's rendezvous (29500 may be taken on a workstation). */
  readonly masterPort: number;
}

export type DatasetSource =
  { readonly kind: "local"; readonly dir: string } | { readonly kind: "s3"; readonly uri: string };

export type ProcessRole = "init" | "sidecar" | "main";

export interface LocalProcess {
  /** The container name it stands for (pod-contract ContainerNames). */
  readonly name: string;
  readonly role: ProcessRole;
  readonly argv: readonly string[];
  /** Set on top of the parent's environment (see childEnv). */
  readonly env: Readonly<Record<string, string>>;
}

export interface LocalPlan {
  readonly experiment: string;
  readonly checkpointUri: string;
  readonly configFile: string;
  readonly configText: string;
  readonly dataRoot: string;
  /** Training processes (torchrun's nproc_per_node). */
  readonly processes: number;
  readonly device: "cpu" | "gpu";
  /** Fetch(es) and restore, beside the trainer, as the pod's prepare sidecar; it exits once
   * its verdict is written (the pod's idles). */
  readonly prepare: LocalProcess;
  /** Where the verdict appears (the trainer waits for it). */
  readonly prepareVerdict: string;
  readonly sidecar: LocalProcess;
  readonly main: LocalProcess;
  /** Things the user should know about how the local run differs from the cluster's. */
  readonly notes: readonly string[];
}

/** The namespace part of the checkpoint URI when the spec names none. */
export const LOCAL_NAMESPACE = "local";
export const LOCAL_BUCKET = "yunshi-local";
export const LOCAL_REGION = "us-east-1";

/**
 * dataset.uri for a local run: s3:// stays a URI (fetched like in the pod); anything else
 * is a directory, relative to the spec file's folder (as docker compose and kustomize do).
 */
export function resolveDataset(uri: string, specFile: string): DatasetSource {
  if (uri.startsWith("s3://")) return { kind: "s3", uri };
  const dir = isAbsolute(uri) ? uri : resolve(dirname(resolve(specFile)), uri);
  return { kind: "local", dir };
}

/** The platform context of a local run: the defaults, with the local store. */
export function localPlatform(exp: Experiment, store: LocalStore): PlatformContext {
  return {
    ...defaultPlatformContext,
    namespace: exp.namespace ?? LOCAL_NAMESPACE,
    bucket: store.bucket,
    region: store.region,
    s3Endpoint: store.endpoint,
  };
}

export function buildLocalPlan(input: LocalPlanInput): LocalPlan {
  const { experiment: exp, layout, store, runtime } = input;
  const notes: string[] = [];
  const platform = localPlatform(exp, store);
  const namespace = platform.namespace;
  const template = renderPodTemplate({
    experiment: exp,
    platform,
    namespace,
    masterAddr: "127.0.0.1",
    labels: {},
    annotations: {},
  });
  const spec = template.spec;
  if (spec === undefined) throw new Error("renderPodTemplate returned a pod without a spec");

  const gpuRun = exp.resources.gpusPerNode > 0 && input.visibleGpus > 0;
  const processes = gpuRun ? input.visibleGpus : 1;
  if (exp.resources.gpusPerNode > 0 && input.visibleGpus === 0)
    notes.push(
      `resources.gpusPerNode is ${exp.resources.gpusPerNode} but this machine shows no GPU: training runs as 1 process on CPU`,
    );
  if (gpuRun && input.visibleGpus !== exp.resources.gpusPerNode)
    notes.push(
      `resources.gpusPerNode is ${exp.resources.gpusPerNode}; this machine shows ${input.visibleGpus} GPU(s), so ${processes} training processes run (the effective batch changes)`,
    );
  if (exp.resources.nodes > 1)
    notes.push(
      `resources.nodes is ${exp.resources.nodes}: a local run is one node (${processes} process(es)); the cluster runs ${exp.resources.nodes}`,
    );

  const dataRoot = input.dataset.kind === "local" ? input.dataset.dir : layout.dataDir;
  const pathMap: readonly (readonly [string, string])[] = [
    [PodPaths.configFile, layout.configFile],
    [PodPaths.workDir, layout.workDir],
    [PodPaths.dataDir, dataRoot],
    [PodPaths.pretrainedDir, layout.pretrainedDir],
    [PodPaths.statusDir, layout.statusDir],
  ];
  const mapPath = (value: string): string => {
    for (const [pod, local] of pathMap) {
      if (value === pod) return local;
      if (value.startsWith(`${pod}/`)) return local + value.slice(pod.length);
    }
    return value;
  };

  const credentials: Record<string, string> =
    store.credentials === undefined
      ? {}
      : {
          AWS_ACCESS_KEY_ID: store.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: store.credentials.secretAccessKey,
        };

  /** The container's env, mapped; downward-API values resolved as the pod would see them. */
  const envOf = (c: IContainer): Record<string, string> => {
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
      // HOME and TORCH_HOME point into the pod's emptyDir: locally the user's own apply.
      if (e.name === "HOME" || e.name === "TORCH_HOME") continue;
      // The kubelet expands $(VAR) and un-escapes $$ in env values; so does a local run.
      if (e.value !== undefined) env[e.name] = mapPath(expandLikeKubelet(e.value));
      else if (e.valueFrom?.fieldRef?.fieldPath.includes("job-completion-index") === true)
        env[e.name] = "0";
      else throw new Error(`container ${c.name}: env ${e.name} has no local equivalent`);
    }
    return env;
  };

  const toProcess = (c: IContainer, role: ProcessRole): LocalProcess => {
    const command = c.command ?? [];
    const args = (c.args ?? []).map((a) => mapPath(expandLikeKubelet(a)));
    if (command.length === 1 && command[0] === AgentCommand.executable) {
      return {
        name: c.name,
        role,
        argv: [runtime.node, "--import", runtime.tsxLoader, runtime.agentMain, ...args],
        env: { ...envOf(c), ...credentials },
      };
    }
    if (command.join(" ") === LauncherCommand.join(" ")) {
      const env = envOf(c);
      env[LauncherEnv.nnodes] = "1";
      env[LauncherEnv.nodeRank] = "0";
      env[LauncherEnv.nprocPerNode] = String(processes);
      env[LauncherEnv.masterAddr] = "127.0.0.1";
      env[LauncherEnv.masterPort] = String(input.masterPort);
      // The pod of a CPU experiment gets no GPU; hide any this machine has, likewise.
      if (!gpuRun) env.CUDA_VISIBLE_DEVICES = "";
      return { name: c.name, role, argv: [runtime.python, runtime.launcher, ...args], env };
    }
    throw new Error(`container ${c.name}: command ${JSON.stringify(command)} has no local program`);
  };

  let prepare: LocalProcess | undefined;
  let sidecar: LocalProcess | undefined;
  for (const c of spec.initContainers ?? []) {
    if (c.name === ContainerNames.prepare) {
      const p = toProcess(c, "sidecar");
      let argv = [...p.argv, "--exit-when-done"];
      if (input.dataset.kind === "local") {
        notes.push(`dataset: reading ${input.dataset.dir} in place (no fetch)`);
        argv = withoutFlags(argv, ["--dataset-uri", "--dataset-dir"]);
      }
      prepare = { ...p, argv };
      continue;
    }
    if (c.name === ContainerNames.snapshot) {
      // On a workstation the store is on loopback and checkpoints come every few seconds:
      // poll last_checkpoint often so commits keep up with saves (the pod's 2 s default
      // suits minutes between checkpoints).
      const p = toProcess(c, "sidecar");
      sidecar = { ...p, argv: [...p.argv, "--interval", LOCAL_SNAPSHOT_POLL_SECONDS] };
      continue;
    }
    throw new Error(`container ${c.name}: no local equivalent`);
  }
  const mainContainer = spec.containers.find((c) => c.name === ContainerNames.trainer);
  if (prepare === undefined || sidecar === undefined || mainContainer === undefined)
    throw new Error("the rendered pod has no prepare or snapshot sidecar, or no trainer");

  return {
    experiment: exp.name,
    checkpointUri: checkpointUri(platform, namespace, exp.name),
    configFile: layout.configFile,
    configText: renderMmdetConfig(exp, {
      dataRoot,
      workDir: layout.workDir,
      pretrainedDir: layout.pretrainedDir,
      specHash: input.specHash,
    }),
    dataRoot,
    processes,
    device: gpuRun ? "gpu" : "cpu",
    prepare,
    prepareVerdict: mapPath(PodPaths.prepareVerdict),
    sidecar,
    main: toProcess(mainContainer, "main"),
    notes,
  };
}

/** argv without each of `flags` and the value after it. */
function withoutFlags(argv: readonly string[], flags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (flags.includes(a)) i++;
    else out.push(a);
  }
  return out;
}

/** How often the local snapshot agent polls `last_checkpoint`. */
export const LOCAL_SNAPSHOT_POLL_SECONDS = "0.25";

/**
 * A child's environment: the parent's, plus the plan's. AWS_CA_BUNDLE (set on some machines
 * for the real AWS endpoints) breaks plain-http local servers in the SDKs, so it goes when
 * the endpoint is http://.
 */
export function childEnv(
  parent: Readonly<Record<string, string | undefined>>,
  plan: Readonly<Record<string, string>>,
  endpoint: string,
): Record<string, string> {
  // No prototype: child_process.spawn copies inherited enumerable keys into the child's
  // environment too, so a polluted Object.prototype would reach the agents (issue 10).
  const env = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(parent)) if (v !== undefined) env[k] = v;
  Object.assign(env, plan);
  if (endpoint.startsWith("http://")) delete env.AWS_CA_BUNDLE;
  return env;
}

/** Extra argv for the snapshot agent's last pass (`--once`): when the sidecar stopped before
 * the trainer's final save (e.g. both got the terminal's Ctrl-C), this uploads what is left. */
export function finalSyncArgv(sidecar: LocalProcess): string[] {
  return [...sidecar.argv, "--once"];
}
