/**
 * `logs`: a container's log for one rank or all, newest pod per rank; with follow, it
 * keeps going across pod replacements (preemption, retries) until the run finishes.
 */
import { Labels } from "../labels.ts";
import { isFinished } from "./phase.ts";
import type { ClusterClient } from "./client.ts";
import { ClusterError } from "./errors.ts";
import { findWorkload, stateOf } from "./experiments.ts";
import type { KubeObject } from "./types.ts";

export interface LogsRequest {
  namespace: string;
  name: string;
  /** A node rank, or every rank. */
  ranks: number | "all";
  container: string;
  follow: boolean;
  sinceSeconds?: number | undefined;
  /** How often to look for replacement pods while following. */
  pollMs: number;
  signal?: AbortSignal | undefined;
}

export interface LogsSink {
  out(text: string): void;
  /** Notes about pods coming and going (stderr). */
  note(text: string): void;
}

export const rankOf = (p: KubeObject): number =>
  Number(
    p.metadata.annotations?.["batch.kubernetes.io/job-completion-index"] ??
      p.metadata.labels?.["batch.kubernetes.io/job-completion-index"] ??
      "0",
  );

function containerStarted(p: KubeObject, container: string): boolean {
  const status = (p.status ?? {}) as Record<string, unknown>;
  const all = [
    ...((status.initContainerStatuses as unknown[] | undefined) ?? []),
    ...((status.containerStatuses as unknown[] | undefined) ?? []),
  ] as { name?: string; state?: Record<string, unknown>; restartCount?: number }[];
  const s = all.find((c) => c.name === container);
  return Boolean(
    s &&
    (s.state?.running !== undefined ||
      s.state?.terminated !== undefined ||
      (s.restartCount ?? 0) > 0),
  );
}

const terminal = (p: KubeObject) => {
  const phase = (p.status as { phase?: string } | undefined)?.phase;
  return phase === "Succeeded" || phase === "Failed" || p.metadata.deletionTimestamp !== undefined;
};

/**
 * The pod to read next: a live one if there is one, else the newest. Creation times have
 * one-second resolution, so a replacement made in the same second as the pod it replaces
 * is told apart by being live.
 */
function pickPod(candidates: KubeObject[]): KubeObject | undefined {
  const byAge = [...candidates].sort((a, b) =>
    (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""),
  );
  return byAge.filter((p) => !terminal(p)).pop() ?? byAge.pop();
}

/** Waits `ms`, or less when `signal` aborts; leaves no listener behind (the watch polls often). */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });

export async function streamLogs(
  client: ClusterClient,
  req: LogsRequest,
  sink: LogsSink,
): Promise<void> {
  const workload = await findWorkload(client, req.namespace, req.name);
  if (!workload)
    throw new ClusterError(
      "not-found",
      `no experiment ${req.name} in namespace ${req.namespace} (\`yunshi status -n ${req.namespace}\` lists them).`,
    );
  const ranks =
    req.ranks === "all" ? [...Array(stateOf(workload, [], []).nodes).keys()] : [req.ranks];
  const nodes = stateOf(workload, [], []).nodes;
  for (const r of ranks)
    if (r < 0 || r >= nodes)
      throw new ClusterError(
        "not-found",
        `rank ${r} does not exist: ${req.name} has ${nodes} node${nodes > 1 ? "s" : ""} (ranks 0-${nodes - 1}).`,
      );
  const prefix = ranks.length > 1;
  await Promise.all(
    ranks.map((rank) => followRank(client, req, rank, prefix ? `[rank ${rank}] ` : "", sink)),
  );
}

/** Splits chunks into lines so that prefixes land at line starts. */
function lineWriter(prefix: string, out: (t: string) => void) {
  let partial = "";
  return {
    write(chunk: string) {
      if (!prefix) return out(chunk);
      const text = partial + chunk;
      const lines = text.split("\n");
      partial = lines.pop() ?? "";
      if (lines.length > 0) out(lines.map((l) => prefix + l + "\n").join(""));
    },
    flush() {
      if (partial) out(prefix + partial + "\n");
      partial = "";
    },
  };
}

async function followRank(
  client: ClusterClient,
  req: LogsRequest,
  rank: number,
  prefix: string,
  sink: LogsSink,
): Promise<void> {
  const seen = new Set<string>();
  const selector = `${Labels.experiment}=${req.name}`;
  let waitingNoted = "";
  let lastCreated = "";
  while (!req.signal?.aborted) {
    const { items } = await client.list("v1", "Pod", req.namespace, selector);
    // After the first pod, only its replacements: pods not older than the last one read.
    const next = pickPod(
      items.filter(
        (p) =>
          rankOf(p) === rank &&
          !seen.has(p.metadata.name) &&
          (p.metadata.creationTimestamp ?? "") >= lastCreated,
      ),
    );
    if (!next || !containerStarted(next, req.container)) {
      const workload = await findWorkload(client, req.namespace, req.name);
      const state = workload ? stateOf(workload, items, []) : undefined;
      if (!state || isFinished(state.status.phase)) return;
      if (!req.follow) {
        const why = `${state.status.phase}${state.status.reason ? `: ${state.status.reason}` : ""}`;
        throw new ClusterError(
          "not-found",
          `no ${req.container} log for rank ${rank} of ${req.name} yet (${why}). Use --follow to wait for it.`,
        );
      }
      const note = next
        ? `${prefix}waiting for ${req.container} in ${next.metadata.name} to start (${state.status.phase})\n`
        : `${prefix}waiting for a pod (${state.status.phase})\n`;
      if (note !== waitingNoted) sink.note(note);
      waitingNoted = note;
      await sleep(req.pollMs, req.signal);
      continue;
    }
    if (seen.size > 0)
      sink.note(`${prefix}── following replacement pod ${next.metadata.name} ──\n`);
    const first = seen.size === 0;
    seen.add(next.metadata.name);
    lastCreated = next.metadata.creationTimestamp ?? lastCreated;
    const w = lineWriter(prefix, (t) => sink.out(t));
    // While following, the stream of a pod that is gone or replaced may stay open (the
    // kubelet, or kwok, keeps it): watch the pods and end it ourselves (issue 16).
    const stream = new AbortController();
    let ended: string | undefined;
    const stopStream = () => stream.abort();
    req.signal?.addEventListener("abort", stopStream);
    const watching = req.follow
      ? watchForEnd(client, req, rank, next, stream.signal).then((why) => {
          if (why !== undefined && !stream.signal.aborted) {
            ended = why;
            stream.abort();
          }
        })
      : Promise.resolve();
    try {
      await client.podLogs(
        req.namespace,
        next.metadata.name,
        req.container,
        {
          follow: req.follow,
          ...(first && req.sinceSeconds !== undefined ? { sinceSeconds: req.sinceSeconds } : {}),
        },
        (t) => w.write(t),
        stream.signal,
      );
    } finally {
      stream.abort(); // stops the watcher when the stream ended by itself
      req.signal?.removeEventListener("abort", stopStream);
      await watching;
    }
    w.flush();
    if (!req.follow) return;
    sink.note(`${prefix}── ${next.metadata.name} ${ended ?? "ended"} ──\n`);
  }
}

/**
 * Polls until the followed pod's stream should end: the pod is gone, it finished, or a newer
 * pod of its rank has started the container. Then waits one more poll so the stream can
 * deliver the pod's last lines (the checkpoint flush on SIGTERM) before it is cut. Returns
 * why, or undefined when `signal` stopped the watch first.
 */
async function watchForEnd(
  client: ClusterClient,
  req: LogsRequest,
  rank: number,
  pod: KubeObject,
  signal: AbortSignal,
): Promise<string | undefined> {
  const selector = `${Labels.experiment}=${req.name}`;
  const name = pod.metadata.name;
  const created = pod.metadata.creationTimestamp ?? "";
  while (!signal.aborted) {
    await sleep(req.pollMs, signal);
    if (signal.aborted) return undefined;
    let items: KubeObject[];
    try {
      ({ items } = await client.list("v1", "Pod", req.namespace, selector));
    } catch {
      continue; // a blip in listing must not end a healthy stream
    }
    const self = items.find((p) => p.metadata.name === name);
    const replacement = items.find(
      (p) =>
        p.metadata.name !== name &&
        rankOf(p) === rank &&
        (p.metadata.creationTimestamp ?? "") >= created &&
        !terminal(p) &&
        containerStarted(p, req.container),
    );
    const phase = (self?.status as { phase?: string } | undefined)?.phase;
    const why =
      self === undefined
        ? "is gone"
        : replacement !== undefined
          ? `was replaced by ${replacement.metadata.name}`
          : phase === "Succeeded" || phase === "Failed"
            ? `ended (${phase})`
            : undefined;
    if (why !== undefined) {
      await sleep(req.pollMs, signal);
      return signal.aborted ? undefined : why;
    }
  }
  return undefined;
}
