/**
 * kwok's configuration for the test cluster: node stages from kwok's own kustomize (copied by
 * build.sh), and pod stages written here so that a test decides how each pod ends. A pod on a
 * kwok node is created, starts its containers as the kubelet does, and then stays Running
 * (training) until the test says otherwise with annotations:
 *   - native sidecars (init containers with restartPolicy Always: prepare, snapshot) start
 *     and keep running, and do not hold the main containers back: a pod with sidecars only
 *     is Initialized, Running and Ready at once;
 *   - regular init containers (an export Job's fetch and export steps) run until
 *     `test.yunshi.dev/init-done: "true"`, and Kueue sees a pod that is not Ready for as
 *     long as the test wants;
 *   - `test.yunshi.dev/exit-code: "N"` ends its containers with exit code N (0: Succeeded,
 *     else Failed), as a trainer exiting with the pod contract's codes would.
 * Deleting a pod (eviction, preemption, the taint manager, cancel) terminates it the way a
 * kubelet does: containers exit 143 (SIGTERM), the pod becomes Failed, and it is removed once
 * the Job controller has released its finalizer. The DisruptionTarget condition comes from the
 * real API server or controller that deleted it.
 * Container logs come from CRI-format files that tests append to (kwok follows them).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";

export const TestAnnotations = {
  initDone: "test.yunshi.dev/init-done",
  exitCode: "test.yunshi.dev/exit-code",
} as const;

const fast = { durationMilliseconds: 100 };
const notDeleting = { key: ".metadata.deletionTimestamp", operator: "DoesNotExist" };
const annotation = (key: string) => `.metadata.annotations["${key}"]`;

const podStage = (name: string, matchExpressions: object[], next: object) => ({
  apiVersion: "kwok.x-k8s.io/v1alpha1",
  kind: "Stage",
  metadata: { name },
  spec: {
    resourceRef: { apiGroup: "v1", kind: "Pod" },
    selector: { matchExpressions },
    delay: fast,
    next,
  },
});

/** jq: the names of regular (not sidecar) init containers; none for a sidecars-only pod. */
const regularInit = {
  key: '.spec.initContainers.[] | select( .restartPolicy != "Always" ) | .name',
};
/** An init container's status once regular init containers are done: sidecars keep running. */
const initDoneStatus = (now: string) => `
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: {{ if .restartPolicy }}true{{ else }}false{{ end }}
        restartCount: 0
        started: {{ if .restartPolicy }}true{{ else }}false{{ end }}
        state:
        {{ if .restartPolicy }}
          running:
            startedAt: ${now}
        {{ else }}
          terminated:
            exitCode: 0
            reason: Completed
            startedAt: ${now}
            finishedAt: ${now}
        {{ end }}`;

const containerStatus = (state: string, ready: boolean) => `
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: ${ready}
        restartCount: 0
        started: ${ready}
        state:
${state}`;

const podStages = [
  podStage("pod-create", [notDeleting, { key: ".status.podIP", operator: "DoesNotExist" }], {
    event: { type: "Normal", reason: "Created", message: "Created container" },
    statusTemplate: `
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: PodReadyToStartContainers
      - lastTransitionTime: {{ $now | Quote }}
        status: "{{ if .spec.initContainers }}False{{ else }}True{{ end }}"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: ContainersReady
      {{ if .spec.initContainers }}
      initContainerStatuses:
      {{ range .spec.initContainers }}${containerStatus("          waiting:\n            reason: PodInitializing", false)}
      {{ end }}
      {{ end }}
      containerStatuses:
      {{ range .spec.containers }}${containerStatus("          waiting:\n            reason: PodInitializing", false)}
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      phase: Pending
      startTime: {{ $now | Quote }}
`,
  }),
  podStage(
    "pod-init-running",
    [
      notDeleting,
      { key: ".status.phase", operator: "In", values: ["Pending"] },
      { key: ".status.initContainerStatuses.[].state.waiting.reason", operator: "Exists" },
      { ...regularInit, operator: "Exists" },
    ],
    {
      statusTemplate: `
      {{ $now := Now }}
      initContainerStatuses:
      {{ range .spec.initContainers }}${containerStatus("          running:\n            startedAt: {{ $now | Quote }}", true)}
      {{ end }}
`,
    },
  ),
  // Only sidecars: the kubelet starts each (no startup probe) and moves on at once.
  podStage(
    "pod-sidecars-started",
    [
      notDeleting,
      { key: ".status.phase", operator: "In", values: ["Pending"] },
      { key: ".status.initContainerStatuses.[].state.waiting.reason", operator: "Exists" },
      { ...regularInit, operator: "DoesNotExist" },
    ],
    {
      statusTemplate: `
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      initContainerStatuses:
      {{ range .spec.initContainers }}${initDoneStatus("{{ $now | Quote }}")}
      {{ end }}
`,
    },
  ),
  podStage(
    "pod-init-completed",
    [
      notDeleting,
      { key: ".status.phase", operator: "In", values: ["Pending"] },
      { key: ".status.initContainerStatuses.[].state.running.startedAt", operator: "Exists" },
      { key: annotation(TestAnnotations.initDone), operator: "In", values: ["true"] },
      // Sidecars-only pods are past this already (pod-sidecars-started); matching them too
      // would compete with pod-running for ever.
      { ...regularInit, operator: "Exists" },
    ],
    {
      statusTemplate: `
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      initContainerStatuses:
      {{ range .spec.initContainers }}${initDoneStatus("{{ $now | Quote }}")}
      {{ end }}
`,
    },
  ),
  podStage(
    "pod-running",
    [
      notDeleting,
      { key: ".status.phase", operator: "In", values: ["Pending"] },
      {
        key: '.status.conditions.[] | select( .type == "Initialized" ) | .status',
        operator: "In",
        values: ["True"],
      },
    ],
    {
      statusTemplate: `
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}${containerStatus("          running:\n            startedAt: {{ $now | Quote }}", true)}
      {{ end }}
      phase: Running
`,
    },
  ),
  podStage(
    "pod-exit",
    [
      notDeleting,
      { key: ".status.phase", operator: "In", values: ["Running"] },
      { key: annotation(TestAnnotations.exitCode), operator: "Exists" },
    ],
    {
      statusTemplate: `
      {{ $now := Now }}
      {{ $code := index .metadata.annotations "${TestAnnotations.exitCode}" }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: PodCompleted
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: PodCompleted
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}${containerStatus('          terminated:\n            exitCode: {{ $code }}\n            reason: {{ if eq $code "0" }}Completed{{ else }}Error{{ end }}\n            startedAt: {{ $now | Quote }}\n            finishedAt: {{ $now | Quote }}', false)}
      {{ end }}
      phase: {{ if eq $code "0" }}Succeeded{{ else }}Failed{{ end }}
`,
    },
  ),
  podStage(
    "pod-terminate",
    [
      { key: ".metadata.deletionTimestamp", operator: "Exists" },
      { key: ".status.phase", operator: "In", values: ["Pending", "Running"] },
    ],
    {
      event: { type: "Normal", reason: "Killing", message: "Stopping container" },
      statusTemplate: `
      {{ $now := Now }}
      containerStatuses:
      {{ range .spec.containers }}${containerStatus("          terminated:\n            exitCode: 143\n            reason: Error\n            startedAt: {{ $now | Quote }}\n            finishedAt: {{ $now | Quote }}", false)}
      {{ end }}
      phase: Failed
`,
    },
  ),
  podStage(
    "pod-remove",
    [
      { key: ".metadata.deletionTimestamp", operator: "Exists" },
      { key: ".metadata.finalizers", operator: "DoesNotExist" },
      { key: ".status.phase", operator: "In", values: ["Succeeded", "Failed"] },
    ],
    { delete: true },
  ),
];

export interface KwokConfigInput {
  /** build.sh's copy of kwok's node stages. */
  nodeStagesDir: string;
  /** Namespaces whose pods' logs come from the files below. */
  namespaces: string[];
  /** Container name → CRI-format log file. */
  logFiles: Record<string, string>;
}

export function kwokConfigYaml(input: KwokConfigInput): string {
  const nodeStages = readdirSync(input.nodeStagesDir)
    .filter((f) => f.endsWith(".yaml"))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(input.nodeStagesDir, f), "utf8")).map(
        (d) => d.toJS() as object,
      ),
    );
  const logs = {
    apiVersion: "kwok.x-k8s.io/v1alpha1",
    kind: "ClusterLogs",
    metadata: { name: "training-logs" },
    spec: {
      selector: { matchNamespaces: input.namespaces },
      logs: Object.entries(input.logFiles).map(([container, file]) => ({
        containers: [container],
        logsFile: file,
        follow: true,
      })),
    },
  };
  return [...nodeStages, ...podStages, logs].map((d) => stringify(d)).join("---\n");
}

/** One log line in the CRI format kwok serves (`<RFC3339Nano> stdout F <line>`). */
export const criLine = (line: string, at = new Date()): string =>
  `${at.toISOString()} stdout F ${line}\n`;
