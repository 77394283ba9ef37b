/**
 * The dataset an experiment trained on, read back from its workload on the cluster (the Job
 * or JobSet `submit` applied): the cluster export verifies on that dataset's validation
 * pictures, where the checkpoint's saved config expects them. The URI is an argument of the
 * checkpoint agent in the pod template, in either pod layout:
 * - `prepare --dataset-uri <uri> …` (the prepare sidecar), or
 * - `fetch --uri <uri> …` in the init container `fetch-dataset` (the layout before it).
 * Pure. Arguments are stored escaped for the kubelet (`$$` for `$`): unescaped here.
 */
import type { KubeObject } from "../cluster/types.ts";
import { expandLikeKubelet } from "../render/kubernetes-expansion.ts";

interface ContainerLike {
  readonly name?: string;
  readonly args?: readonly string[];
}
interface PodSpecLike {
  readonly initContainers?: readonly ContainerLike[];
  readonly containers?: readonly ContainerLike[];
}

/** The init container that fetched the dataset before the prepare sidecar. */
const LEGACY_FETCH_CONTAINER = "fetch-dataset";

function podSpecsOf(w: KubeObject): PodSpecLike[] {
  const spec = w.spec as
    | {
        template?: { spec?: PodSpecLike };
        replicatedJobs?: { template?: { spec?: { template?: { spec?: PodSpecLike } } } }[];
      }
    | undefined;
  if (w.kind === "Job") return spec?.template?.spec === undefined ? [] : [spec.template.spec];
  if (w.kind === "JobSet")
    return (spec?.replicatedJobs ?? []).flatMap((rj) =>
      rj.template?.spec?.template?.spec === undefined ? [] : [rj.template.spec.template.spec],
    );
  return [];
}

const valueAfter = (args: readonly string[], flag: string): string | undefined => {
  const i = args.indexOf(flag);
  const v = i < 0 ? undefined : args[i + 1];
  return v === undefined ? undefined : expandLikeKubelet(v);
};

/** The dataset's s3:// URI, or undefined when the workload names none. */
export function datasetUriOf(workload: KubeObject): string | undefined {
  for (const pod of podSpecsOf(workload)) {
    const containers = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
    for (const c of containers) {
      const uri = valueAfter(c.args ?? [], "--dataset-uri");
      if (uri !== undefined) return uri;
    }
    const legacy = containers.find((c) => c.name === LEGACY_FETCH_CONTAINER);
    const uri = legacy === undefined ? undefined : valueAfter(legacy.args ?? [], "--uri");
    if (uri !== undefined) return uri;
  }
  return undefined;
}
