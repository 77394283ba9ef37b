/**
 * What one pod of a rendered run asks the scheduler for, counted as Kubernetes counts it:
 * the containers plus the native sidecars (init containers with restartPolicy Always), or a
 * regular init container plus the sidecars started before it, whichever is more. Used to tell
 * whether any node of the platform could ever hold the pod (jobs/platform-fit.ts).
 */
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { podTemplatesOf, type KubeObject } from "./render/kubernetes.ts";

export interface PodRequests {
  readonly cpu: number;
  readonly memoryGiB: number;
}

const DECIMAL: Record<string, number> = { m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** A Kubernetes quantity ("500m", "4", "64Gi", "1.5G") as a number of base units. */
export function quantity(q: string | number | undefined): number {
  if (q === undefined) return 0;
  if (typeof q === "number") return q;
  const m = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q);
  if (m === null) throw new Error(`unexpected quantity ${JSON.stringify(q)}`);
  const unit = m[2] ?? "";
  return Number(m[1]) * (BINARY[unit] ?? DECIMAL[unit] ?? 1);
}

function requestOf(c: IContainer): PodRequests {
  const r = (c.resources?.requests ?? {}) as Record<string, string | number | undefined>;
  return { cpu: quantity(r["cpu"]), memoryGiB: quantity(r["memory"]) / 2 ** 30 };
}

const add = (a: PodRequests, b: PodRequests): PodRequests => ({
  cpu: a.cpu + b.cpu,
  memoryGiB: a.memoryGiB + b.memoryGiB,
});
const max = (a: PodRequests, b: PodRequests): PodRequests => ({
  cpu: Math.max(a.cpu, b.cpu),
  memoryGiB: Math.max(a.memoryGiB, b.memoryGiB),
});
const ZERO: PodRequests = { cpu: 0, memoryGiB: 0 };

/** The effective requests of one pod spec. */
export function podSpecRequests(spec: IPodSpec): PodRequests {
  let sidecars = ZERO;
  let initPeak = ZERO;
  for (const c of spec.initContainers ?? []) {
    if (c.restartPolicy === "Always") sidecars = add(sidecars, requestOf(c));
    else initPeak = max(initPeak, add(requestOf(c), sidecars));
  }
  const running = spec.containers.reduce((sum, c) => add(sum, requestOf(c)), sidecars);
  return max(running, initPeak);
}

/** The largest requests of any pod template among the rendered objects (undefined: none). */
export function largestPodRequests(objects: readonly KubeObject[]): PodRequests | undefined {
  const specs = objects.flatMap((o) =>
    podTemplatesOf(o).flatMap(([, t]) => (t.spec === undefined ? [] : [t.spec])),
  );
  if (specs.length === 0) return undefined;
  return specs.map(podSpecRequests).reduce(max);
}
