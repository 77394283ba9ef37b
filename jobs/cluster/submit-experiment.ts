/**
 * Submitting an experiment: read the namespace's platform ConfigMap, render, decide what
 * to do given what already runs under that name, and apply with server-side apply.
 *
 * - nothing there          → apply (dry run first, so a 403/quota/CRD error leaves nothing half-applied)
 * - active, same spec      → "unchanged", nothing sent
 * - active, changed spec   → refused (cancel it, or use a new name)
 * - finished (Succeeded/Failed) → the old workload is deleted (foreground) and the new
 *   one applied; its restore init container resumes from the checkpoints in S3.
 * - `fresh`                → never deletes checkpoints: refused when a previous run
 *   exists, with the commands that would make a fresh start possible (docs/cluster.md).
 */
import { ZodError } from "zod";
import { checkPodSpec } from "../../policies/job-rules.ts";
import { UsageError } from "../errors.ts";
import { objectNames } from "../labels.ts";
import type { LoadedExperiment } from "../spec/load-experiment.ts";
import { isFinished } from "./phase.ts";
import type { PhaseResult } from "./phase.ts";
import { fitMessage, platformFit, type PlatformFit } from "../platform-fit.ts";
import { largestPodRequests } from "../pod-requests.ts";
import { PLATFORM_CONFIGMAP_NAME, platformFromConfigMapData } from "../platform.ts";
import type { PlatformContext } from "../platform.ts";
import { podTemplatesOf, renderKubernetesObjects } from "../render/kubernetes.ts";
import type { KubeObject as RenderedObject } from "../render/kubernetes.ts";
import { VERSION } from "../version.ts";
import type { ClusterClient } from "./client.ts";
import { pickNamespaceHint } from "./connect.ts";
import { ClusterError } from "./errors.ts";
import { experimentStates } from "./experiments.ts";
import type { ExperimentState } from "./experiments.ts";
import type { KubeObject } from "./types.ts";

export async function readPlatform(
  client: ClusterClient,
  namespace: string,
): Promise<PlatformContext> {
  const cm = await client.get({
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace,
    name: PLATFORM_CONFIGMAP_NAME,
  });
  if (!cm) {
    await assertNamespaceExists(client, namespace);
    throw new ClusterError(
      "platform-missing",
      `namespace ${namespace} is not a team namespace: there is no ConfigMap ${PLATFORM_CONFIGMAP_NAME}, which \`pulumi up\` writes into each team's namespace. ` +
        `${pickNamespaceHint()} (For a new team: add it to the platform stack's teams and run \`pulumi up\`, or ask your platform engineer.)`,
    );
  }
  try {
    return platformFromConfigMapData(namespace, (cm.data ?? {}) as Record<string, string>);
  } catch (e) {
    // A value that breaks the platform rules is invalid input (exit 2), named by key.
    if (e instanceof UsageError) throw e;
    const detail =
      e instanceof ZodError
        ? e.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")
        : String(e);
    throw new ClusterError(
      "platform-missing",
      `the platform ConfigMap ${namespace}/${PLATFORM_CONFIGMAP_NAME} is invalid (${detail}): run \`pulumi up\` again or ask your platform engineer.`,
    );
  }
}

/** Reading an object in a missing namespace is a plain 404: ask for the namespace itself. */
async function assertNamespaceExists(client: ClusterClient, namespace: string): Promise<void> {
  try {
    if (await client.get({ apiVersion: "v1", kind: "Namespace", name: namespace })) return;
  } catch (e) {
    // Many users may not read namespaces (cluster-scoped): then the platform message stands.
    if (e instanceof ClusterError && e.kind === "forbidden") return;
    throw e;
  }
  throw new ClusterError(
    "namespace-missing",
    `Namespace ${namespace} does not exist in this cluster. Pass --namespace with your team's namespace, ` +
      `or create it with \`pulumi up\` (team namespaces are part of the platform stack).`,
    404,
  );
}

const LOCAL_QUEUE = { apiVersion: "kueue.x-k8s.io/v1beta2", kind: "LocalQueue" } as const;

/** Kueue must be installed and the LocalQueue must exist, or the run would never be admitted. */
async function assertQueueExists(
  client: ClusterClient,
  namespace: string,
  queue: string,
): Promise<void> {
  if (await client.get({ ...LOCAL_QUEUE, namespace, name: queue })) return;
  const { items } = await client.list(LOCAL_QUEUE.apiVersion, LOCAL_QUEUE.kind, namespace);
  const names = items.map((q) => q.metadata.name);
  throw new ClusterError(
    "not-found",
    `Kueue LocalQueue ${queue} does not exist in namespace ${namespace}, so the run would never be admitted. ` +
      `Set \`queue:\` in the spec to one of: ${names.join(", ") || "(none: run `pulumi up` to create the team's queues)"}.`,
  );
}

export type SubmitOutcome =
  | { action: "created"; objects: KubeObject[] }
  | { action: "unchanged"; state: ExperimentState }
  | { action: "resubmitted"; objects: KubeObject[]; previous: PhaseResult };

export interface SubmitRequest {
  loaded: LoadedExperiment;
  namespace: string;
  fresh: boolean;
  /** The spec file, for messages. */
  file?: string;
}

export interface Submission {
  platform: PlatformContext;
  objects: RenderedObject[];
  outcome: SubmitOutcome;
  checkpointUri: string;
  /** How the run compares with the namespace's limits (notes, or why it was not checked). */
  fit: PlatformFit;
}

export async function submitExperiment(
  client: ClusterClient,
  req: SubmitRequest,
): Promise<Submission> {
  const { experiment } = req.loaded;
  const platform = await readPlatform(client, req.namespace);
  const objects = renderKubernetesObjects({
    experiment,
    platform,
    specHash: req.loaded.specHash,
    version: VERSION,
  });
  const violations = objects.flatMap((o) =>
    podTemplatesOf(o).flatMap(([where, t]) =>
      t.spec === undefined ? [] : checkPodSpec(t.spec, where),
    ),
  );
  if (violations.length > 0)
    throw new Error(
      `rendered objects break the job rules (a bug in yunshi): ${violations.map((v) => v.message).join("; ")}`,
    );
  // A run the platform can never admit would sit Queued forever: refuse it (exit 2) before
  // anything is sent.
  const configMap = `ConfigMap ${req.namespace}/${PLATFORM_CONFIGMAP_NAME}`;
  const fit = platformFit(experiment, platform, configMap, largestPodRequests(objects));
  if (fit.problems.length > 0)
    throw new UsageError(fitMessage(req.file ?? experiment.name, req.namespace, fit.problems));
  const skipped =
    fit.skipped === undefined
      ? {}
      : {
          skipped: `${fit.skipped} (it predates them: \`pulumi up\` for the platform stack adds them)`,
        };
  const checkedFit: PlatformFit = { ...fit, ...skipped };

  await assertQueueExists(client, req.namespace, experiment.queue ?? platform.queue);
  const name = experiment.name;
  const checkpointUri = `s3://${platform.bucket}/${req.namespace}/${name}/`;
  const [existing] = await experimentStates(client, req.namespace, name);
  const kube = objects as unknown as KubeObject[];

  if (req.fresh && existing)
    throw new ClusterError(
      "refused",
      `--fresh: experiment ${name} has a previous run (${existing.status.phase}) whose checkpoints are in ${checkpointUri}checkpoints/, ` +
        `and a new run under the same name restores them. yunshi never deletes checkpoints. To start from scratch, either:\n` +
        `  - give the spec a new name (keeps the old checkpoints), or\n` +
        `  - cancel it (\`yunshi cancel ${name} -n ${req.namespace}\`), delete the checkpoints yourself ` +
        `(\`aws s3 rm --recursive ${checkpointUri}checkpoints/\`), then submit again.`,
    );

  if (existing && !isFinished(existing.status.phase)) {
    if (existing.specHash === req.loaded.specHash)
      return {
        platform,
        objects,
        checkpointUri,
        fit: checkedFit,
        outcome: { action: "unchanged", state: existing },
      };
    throw new ClusterError(
      "refused",
      `experiment ${name} is ${existing.status.phase} in namespace ${req.namespace} with a different spec ` +
        `(running ${short(existing.specHash)}, this file ${short(req.loaded.specHash)}). A running experiment cannot change: ` +
        `its pods would mix two configurations. Either:\n` +
        `  - cancel it (\`yunshi cancel ${name} -n ${req.namespace}\`; checkpoints are kept) and submit again: the new spec resumes from its checkpoints, or\n` +
        `  - give the changed spec a new name to run both.`,
    );
  }

  await dryRunAll(client, kube, existing);
  if (existing) {
    // A finished Job cannot run again (its template is immutable and its pods are done):
    // delete it with its pods, then create the new one, which restores the checkpoints.
    await deleteRun(client, existing.workload);
    // One node ↔ several: a JobSet makes its own Service, which the old one would block.
    if (!kube.some((o) => o.kind === existing.workload.kind))
      for (const ref of companionRefs(req.namespace, name).filter((r) => r.kind === "Service"))
        await client.delete(ref, "Background");
    const applied = await applyAll(client, kube);
    return {
      platform,
      objects,
      checkpointUri,
      fit: checkedFit,
      outcome: { action: "resubmitted", objects: applied, previous: existing.status },
    };
  }
  return {
    platform,
    objects,
    checkpointUri,
    fit: checkedFit,
    outcome: { action: "created", objects: await applyAll(client, kube) },
  };
}

const short = (h: string | undefined) => (h === undefined ? "unknown" : h.slice(0, 12));

/** Server-side dry run of every object: permissions, quota, CRDs and schema, before anything changes. */
async function dryRunAll(
  client: ClusterClient,
  objects: readonly KubeObject[],
  existing: ExperimentState | undefined,
): Promise<void> {
  for (const o of objects) {
    // The finished workload is replaced, not patched: its immutable template would fail a dry-run patch.
    if (
      existing &&
      o.kind === existing.workload.kind &&
      o.metadata.name === existing.workload.metadata.name
    )
      continue;
    await client.apply(o, { dryRun: true });
  }
}

async function applyAll(
  client: ClusterClient,
  objects: readonly KubeObject[],
): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (const o of objects) out.push(await client.apply(o));
  return out;
}

/** Delete the workload with foreground propagation (pods first) and wait until it is gone. */
export async function deleteRun(
  client: ClusterClient,
  workload: KubeObject,
  wait = true,
): Promise<void> {
  const ref = {
    apiVersion: workload.apiVersion,
    kind: workload.kind,
    namespace: workload.metadata.namespace,
    name: workload.metadata.name,
  };
  await client.delete(ref, "Foreground");
  if (wait) await client.waitGone(ref);
}

/** The objects besides the workload that a run owns (deleted by cancel). */
export function companionRefs(namespace: string, name: string) {
  const names = objectNames(name);
  return [
    { apiVersion: "v1", kind: "Service", namespace, name: names.service },
    { apiVersion: "v1", kind: "ConfigMap", namespace, name: names.configMap },
  ];
}
