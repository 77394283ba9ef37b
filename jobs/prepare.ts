/**
 * From command-line input to validated values: experiment files and the platform
 * context (flags over defaults). Everything here throws SpecError/UsageError (exit 2)
 * before anything is written or sent.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { UsageError, type SpecIssue } from "./errors.ts";
import type { Experiment } from "./spec/experiment.ts";
import { loadExperimentFile, type LoadedExperiment } from "./spec/load-experiment.ts";
import {
  defaultPlatformContext,
  PLATFORM_CONFIGMAP_NAME,
  platformFromConfigMapData,
  PlatformContextSchema,
  shownPlatformValue,
  type PlatformContext,
} from "./platform.ts";
import { checkPodSpec } from "../policies/job-rules.ts";
import { fitMessage, platformFit, type PlatformFit } from "./platform-fit.ts";
import { largestPodRequests } from "./pod-requests.ts";
import {
  podTemplatesOf,
  renderKubernetesObjects,
  type KubeObject,
  type RenderInput,
} from "./render/kubernetes.ts";
import { VERSION } from "./version.ts";

/** Platform flags shared by render and submit --dry-run. */
export interface PlatformFlags {
  namespace?: string;
  bucket?: string;
  region?: string;
  trainerImage?: string;
  agentImage?: string;
  queue?: string;
  serviceAccount?: string;
  s3Endpoint?: string;
  /** A yunshi-platform ConfigMap manifest whose data are the settings under the flags. */
  platformFile?: string;
}

/** The flag that sets each platform key, for error messages. */
const flagNames: Record<keyof PlatformContext, string> = {
  namespace: "--namespace",
  bucket: "--bucket",
  region: "--region",
  trainerImage: "--trainer-image",
  checkpointAgentImage: "--agent-image",
  queue: "--queue",
  serviceAccount: "--service-account",
  s3Endpoint: "--s3-endpoint",
  spotGpuQuota: "--platform-file data.spotGpuQuota",
  onDemandGpuQuota: "--platform-file data.onDemandGpuQuota",
  maxSpotGpus: "--platform-file data.maxSpotGpus",
  maxOnDemandGpus: "--platform-file data.maxOnDemandGpus",
  maxGpusPerNode: "--platform-file data.maxGpusPerNode",
  maxCpuPerNode: "--platform-file data.maxCpuPerNode",
  maxMemoryGiBPerNode: "--platform-file data.maxMemoryGiBPerNode",
  gpuInstanceFamilies: "--platform-file data.gpuInstanceFamilies",
};

/** The platform context for an experiment without a cluster: flags, else defaults. */
export function platformFromFlags(flags: PlatformFlags, experiment?: Experiment): PlatformContext {
  if (
    flags.namespace !== undefined &&
    experiment?.namespace !== undefined &&
    flags.namespace !== experiment.namespace
  ) {
    throw new UsageError(
      `--namespace ${flags.namespace} contradicts namespace: ${experiment.namespace} in the spec of ${experiment.name}; drop one of them`,
    );
  }
  const namespace = flags.namespace ?? experiment?.namespace ?? defaultPlatformContext.namespace;
  const base =
    flags.platformFile === undefined
      ? defaultPlatformContext
      : readPlatformFile(flags.platformFile, namespace);
  const candidate = {
    ...base,
    namespace,
    ...(flags.bucket === undefined ? {} : { bucket: flags.bucket }),
    ...(flags.region === undefined ? {} : { region: flags.region }),
    ...(flags.trainerImage === undefined ? {} : { trainerImage: flags.trainerImage }),
    ...(flags.agentImage === undefined ? {} : { checkpointAgentImage: flags.agentImage }),
    ...(flags.queue === undefined ? {} : { queue: flags.queue }),
    ...(flags.serviceAccount === undefined ? {} : { serviceAccount: flags.serviceAccount }),
    ...(flags.s3Endpoint === undefined ? {} : { s3Endpoint: flags.s3Endpoint }),
  };
  // jitless: zod's compiled fast path costs more at every CLI start than it saves on one parse.
  const parsed = PlatformContextSchema.safeParse(candidate, { jitless: true });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = String(i.path[0]) as keyof PlatformContext;
      const value = candidate[key];
      return `${flagNames[key] ?? key} ${shownPlatformValue(value)}: ${i.message}`;
    });
    throw new UsageError(`invalid platform settings:\n  ${lines.join("\n  ")}`);
  }
  return parsed.data;
}

/**
 * The settings in a yunshi-platform ConfigMap manifest, checked with the cluster's own rules
 * (platformFromConfigMapData). Its namespace, when it names one, must be the experiment's.
 */
function readPlatformFile(file: string, namespace: string): PlatformContext {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(
      `--platform-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)}); export it with: kubectl get configmap ${PLATFORM_CONFIGMAP_NAME} -n ${namespace} -o yaml > ${file}`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 0, uniqueKeys: true });
  } catch (err) {
    throw new UsageError(`--platform-file ${file}: not YAML (${(err as Error).message})`);
  }
  const cm = doc as { kind?: unknown; metadata?: { namespace?: unknown }; data?: unknown };
  const data = cm?.data;
  if (
    typeof cm !== "object" ||
    cm === null ||
    cm.kind !== "ConfigMap" ||
    typeof data !== "object" ||
    data === null ||
    Object.values(data).some((v) => typeof v !== "string")
  )
    throw new UsageError(
      `--platform-file ${file}: expected a ConfigMap manifest with string data (kubectl get configmap ${PLATFORM_CONFIGMAP_NAME} -n ${namespace} -o yaml)`,
    );
  const fileNs = cm.metadata?.namespace;
  if (fileNs !== undefined && fileNs !== namespace)
    throw new UsageError(
      `--platform-file ${file} is the ConfigMap of namespace ${JSON.stringify(fileNs)}, but the experiment goes to ${namespace}; use that namespace's file`,
    );
  return platformFromConfigMapData(namespace, data as Record<string, string>);
}

/** Experiments bound for a cluster must read their data from S3. */
export function assertClusterReady(loaded: LoadedExperiment, file: string): void {
  const uri = loaded.experiment.dataset.uri;
  if (!uri.startsWith("s3://")) {
    throw new UsageError(
      `${file}: dataset.uri ${JSON.stringify(uri)} is a local path, which only a local run can read; upload the dataset (e.g. aws s3 sync ${uri} s3://<bucket>/<namespace>/datasets/<name>/) and use that URI`,
    );
  }
}

export interface RenderedExperiment {
  readonly file: string;
  readonly loaded: LoadedExperiment;
  readonly platform: PlatformContext;
  readonly objects: KubeObject[];
  /** How the run compares with the platform's limits (skipped without --platform-file). */
  readonly fit: PlatformFit;
}

/**
 * Refuse (exit 2, nothing sent) a run the platform can never admit; otherwise return the
 * notes and whether the check was skipped. `source` names where the limits came from.
 */
export function assertFitsPlatform(
  loaded: LoadedExperiment,
  platform: PlatformContext,
  source: string,
  file: string,
  objects: readonly KubeObject[],
): PlatformFit {
  const fit = platformFit(loaded.experiment, platform, source, largestPodRequests(objects));
  if (fit.problems.length > 0)
    throw new UsageError(fitMessage(file, platform.namespace, fit.problems));
  return fit;
}

/** Where render, validate and --dry-run take the platform's limits from. */
export function limitsSource(flags: PlatformFlags): string {
  return flags.platformFile === undefined
    ? "the built-in platform defaults (pass --platform-file with the namespace's yunshi-platform ConfigMap to check them)"
    : `--platform-file ${flags.platformFile}`;
}

/**
 * Everything rendering checks, in one place: the MMDetection config and the Kubernetes
 * objects are built (the config inside its ConfigMap) and the job rules run on them.
 * `validate` calls this too, so validate and render can never disagree about a spec.
 */
export function renderChecked(
  loaded: LoadedExperiment,
  platform: PlatformContext,
  options: RenderOptions = {},
): KubeObject[] {
  const objects = renderKubernetesObjects({
    experiment: loaded.experiment,
    platform,
    specHash: loaded.specHash,
    version: VERSION,
    ...options,
  });
  // The job rules hold for everything we render; a violation is a bug in yunshi.
  const violations = objects.flatMap((o) =>
    podTemplatesOf(o).flatMap(([where, t]) =>
      t.spec === undefined ? [] : checkPodSpec(t.spec, where),
    ),
  );
  if (violations.length > 0) {
    throw new Error(
      `rendered objects break the job rules: ${violations.map((v) => `[${v.rule}] ${v.message}`).join("; ")}`,
    );
  }
  return objects;
}

/** Rendering choices that are not platform settings (see RenderInput). */
export type RenderOptions = Pick<RenderInput, "keepFinished">;

/** Load, validate and render each file; nothing is returned unless every file is valid. */
export async function renderFiles(
  files: readonly string[],
  flags: PlatformFlags,
  onWarning: (file: string, w: SpecIssue) => void,
  options: RenderOptions = {},
): Promise<RenderedExperiment[]> {
  const out: RenderedExperiment[] = [];
  for (const file of files) {
    const loaded = await loadExperimentFile(file);
    loaded.warnings.forEach((w) => onWarning(file, w));
    assertClusterReady(loaded, file);
    const platform = platformFromFlags(flags, loaded.experiment);
    const objects = renderChecked(loaded, platform, options);
    const fit = assertFitsPlatform(loaded, platform, limitsSource(flags), file, objects);
    out.push({ file, loaded, platform, objects, fit });
  }
  const names = out.map((r) => `${r.platform.namespace}/${r.loaded.experiment.name}`);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new UsageError(`two specs define the same experiment ${dup}`);
  return out;
}
