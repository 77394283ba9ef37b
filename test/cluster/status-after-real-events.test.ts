/**
 * Status fixes from trying the CLI on a real control plane (issue 16), on object states shaped
 * as the real controllers write them (the Job controller's per-index failure annotations and
 * failure messages, JobSet v0.12's counters). test/control-plane/ proves the same end to end.
 */
import { describe, expect, test } from "vitest";
import { admissionDenial, toClusterError } from "../../jobs/cluster/errors.ts";
import { stateOf } from "../../jobs/cluster/experiments.ts";
import { preparingFromLog } from "../../jobs/cluster/phase.ts";
import type { KubeObject } from "../../jobs/cluster/types.ts";

const uid = "w-uid";
const meta = (name: string, extra: Partial<KubeObject["metadata"]> = {}) => ({
  name,
  namespace: "vision",
  uid: `${name}-uid`,
  labels: { "yunshi.dev/experiment": "exp" },
  annotations: { "yunshi.dev/retries": "10" },
  creationTimestamp: "2026-11-30T10:00:00Z",
  ...extra,
});

const job = (status: object, spec: object = { backoffLimitPerIndex: 10, parallelism: 1 }) =>
  ({
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { ...meta("exp"), uid },
    spec: { template: { spec: { containers: [{ name: "trainer" }] } }, ...spec },
    status,
  }) as KubeObject;

const trainer = (state: object) => ({ name: "trainer", state });
const pod = (
  name: string,
  created: string,
  annotations: Record<string, string>,
  status: object,
  extra: Partial<KubeObject["metadata"]> = {},
) =>
  ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      ...meta(name),
      creationTimestamp: created,
      annotations: { "batch.kubernetes.io/job-completion-index": "0", ...annotations },
      ...extra,
    },
    status,
  }) as KubeObject;

describe("restarts count real restarts; only failures use up retries", () => {
  test("a preempted and replaced pod is one restart that used no retry, after the old pod is gone", () => {
    const replacement = pod(
      "exp-0-bbbbb",
      "2026-11-30T10:05:00Z",
      {
        "batch.kubernetes.io/job-index-failure-count": "0",
        "batch.kubernetes.io/job-index-ignored-failure-count": "1",
      },
      {
        phase: "Running",
        initContainerStatuses: [{ name: "prepare", state: { running: {} } }],
        containerStatuses: [trainer({ running: {} })],
      },
    );
    const preparing = new Map([["exp-0-bbbbb", "restoring iter_8.pth: 41%"]]);
    const s = stateOf(job({ active: 1 }), [replacement], [], [], preparing);
    expect(s.status).toMatchObject({ restarts: 1, retriesUsed: 0, retries: 10 });
    expect(s.status.phase).toBe("Restoring");
  });

  test("a config error that was never retried is no restart", () => {
    const failed = pod(
      "exp-0-aaaaa",
      "2026-11-30T10:00:00Z",
      { "batch.kubernetes.io/job-index-failure-count": "0" },
      {
        phase: "Failed",
        containerStatuses: [trainer({ terminated: { exitCode: 3, reason: "Error" } })],
      },
    );
    const s = stateOf(
      job({
        failed: 1,
        conditions: [
          {
            type: "Failed",
            status: "True",
            reason: "PodFailurePolicy",
            message:
              "Container trainer for pod vision/exp-0-aaaaa failed with exit code 3 matching FailJob rule at index 1",
          },
        ],
      }),
      [failed],
      [],
    );
    expect(s.status).toMatchObject({ phase: "Failed", restarts: 0, retriesUsed: 0 });
    expect(s.status.reason).toMatch(/config error \(exit 3\)/);
  });

  test("a deadline is no restart", () => {
    const killed = pod(
      "exp-0-aaaaa",
      "2026-11-30T10:00:00Z",
      { "batch.kubernetes.io/job-index-failure-count": "0" },
      { phase: "Failed", containerStatuses: [trainer({ terminated: { exitCode: 143 } })] },
    );
    const s = stateOf(
      job({
        failed: 1,
        conditions: [{ type: "Failed", status: "True", reason: "DeadlineExceeded" }],
      }),
      [killed],
      [],
    );
    expect(s.status).toMatchObject({ phase: "Failed", restarts: 0 });
    expect(s.status.reason).toMatch(/maxRuntime/);
  });

  test("a deadline is no restart after the Job controller removed the pod too", () => {
    const s = stateOf(
      job({
        failed: 1,
        conditions: [{ type: "Failed", status: "True", reason: "DeadlineExceeded" }],
      }),
      [],
      [],
    );
    expect(s.status).toMatchObject({ phase: "Failed", restarts: 0, retriesUsed: 0 });
    // Also in the moment between FailureTarget and Failed (seen on the real control plane).
    const target = stateOf(
      job({
        failed: 1,
        conditions: [{ type: "FailureTarget", status: "True", reason: "DeadlineExceeded" }],
      }),
      [],
      [],
    );
    expect(target.status).toMatchObject({ phase: "Failed", restarts: 0 });
  });

  test("a JobSet's restarts and the ones that count towards maxRestarts (JobSet v0.12)", () => {
    const js = {
      apiVersion: "jobset.x-k8s.io/v1alpha2",
      kind: "JobSet",
      metadata: { ...meta("exp"), uid },
      spec: {
        replicatedJobs: [{ name: "node", replicas: 1, template: { spec: { parallelism: 2 } } }],
      },
      status: { restarts: 3, restartsCountTowardsMax: 1 },
    } as KubeObject;
    expect(stateOf(js, [], []).status).toMatchObject({ restarts: 3, retriesUsed: 1 });
    // JobSet omits the counter while it is zero (after preemptions only).
    const preemptedOnly = { ...js, status: { restarts: 2 } } as KubeObject;
    expect(stateOf(preemptedOnly, [], []).status).toMatchObject({ restarts: 2, retriesUsed: 0 });
  });
});

describe("a multi-node run fails as soon as its child Job says so", () => {
  const js = {
    apiVersion: "jobset.x-k8s.io/v1alpha2",
    kind: "JobSet",
    metadata: { ...meta("exp"), uid },
    spec: {
      replicatedJobs: [{ name: "node", replicas: 1, template: { spec: { parallelism: 2 } } }],
    },
    status: { restarts: 0 },
  } as KubeObject;
  const child = (reason: string, message: string) =>
    ({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        ...meta("exp-node-0"),
        ownerReferences: [
          { apiVersion: "jobset.x-k8s.io/v1alpha2", kind: "JobSet", name: "exp", uid },
        ],
      },
      status: { conditions: [{ type: "Failed", status: "True", reason, message }] },
    }) as KubeObject;
  const failedPod = pod(
    "exp-node-0-1-aaaaa",
    "2026-11-30T10:00:00Z",
    {},
    { phase: "Failed", containerStatuses: [trainer({ terminated: { exitCode: 4 } })] },
  );

  test("an exit code from the do-not-retry set: Failed, not Restarting", () => {
    const s = stateOf(
      js,
      [failedPod],
      [],
      [
        child(
          "PodFailurePolicy",
          "Container trainer for pod vision/exp-node-0-1-aaaaa failed with exit code 4 matching FailJob rule at index 1",
        ),
      ],
    );
    expect(s.status.phase).toBe("Failed");
    expect(s.status.reason).toMatch(/dataset error \(exit 4\)/);
  });

  test("a child's deadline: Failed with the maxRuntime reason", () => {
    const s = stateOf(
      js,
      [],
      [],
      [child("DeadlineExceeded", "Job was active longer than specified deadline")],
    );
    expect(s.status).toMatchObject({ phase: "Failed" });
    expect(s.status.reason).toMatch(/maxRuntime/);
  });

  test("a disruption is not the end: the JobSet restarts the group for free", () => {
    const s = stateOf(
      js,
      [],
      [],
      [
        child(
          "PodFailurePolicy",
          "Pod vision/exp-node-0-1-aaaaa has condition DisruptionTarget matching FailJob rule at index 0",
        ),
      ],
    );
    expect(s.status.phase).not.toBe("Failed");
  });
});

describe("phases move forward", () => {
  test("while prepare restores beside the running trainer the run is Restoring; then Training", () => {
    const p = pod(
      "exp-0-aaaaa",
      "2026-11-30T10:00:00Z",
      {},
      {
        phase: "Running",
        initContainerStatuses: [
          { name: "prepare", state: { running: {} } },
          { name: "snapshot", state: { running: {} } },
        ],
        containerStatuses: [trainer({ running: {} })],
      },
    );
    const preparing = new Map([["exp-0-aaaaa", "restoring iter_8.pth: 41% 135/330 MB"]]);
    const restoring = stateOf(job({ active: 1 }), [p], [], [], preparing).status;
    expect(restoring.phase).toBe("Restoring");
    expect(restoring.reason).toContain("restoring iter_8.pth: 41%");
    expect(stateOf(job({ active: 1 }), [p], []).status.phase).toBe("Training");
  });

  test("the prepare sidecar's last line tells work from done", () => {
    expect(preparingFromLog("restoring iter_8.pth: 41% 135/330 MB")).toBe(true);
    expect(preparingFromLog("fetch-dataset: fetched 120/800 files")).toBe(true);
    expect(preparingFromLog("prepared in 3.1 s: training may start")).toBe(false);
    expect(
      preparingFromLog("prepare failed at restore (exit 2); the trainer stops with its code"),
    ).toBe(false);
    expect(preparingFromLog("")).toBe(false);
  });

  test("after the trainer finished and before the Job is Complete the run is still Training", () => {
    const p = pod(
      "exp-0-aaaaa",
      "2026-11-30T10:00:00Z",
      {},
      { phase: "Succeeded", containerStatuses: [trainer({ terminated: { exitCode: 0 } })] },
    );
    expect(stateOf(job({ active: 0 }), [p], []).status.phase).toBe("Training");
  });
});

describe("an admission webhook's 403 is not a missing permission", () => {
  const op = {
    verb: "apply" as const,
    apiVersion: "jobset.x-k8s.io/v1alpha2",
    kind: "JobSet",
    namespace: "vision",
    name: "x",
  };
  const apiException = (code: number, message: string) =>
    Object.assign(new Error(`HTTP-Code: ${code}`), {
      code,
      body: JSON.stringify({ kind: "Status", status: "Failure", message, code }),
    });

  test("a webhook denial quotes the webhook", () => {
    const msg =
      'admission webhook "vjobset.kb.io" denied the request: spec.replicatedJobs[0].name: Invalid value: "x": JobSet name is too long, pod names generated for this JobSet will exceed 63 characters';
    const e = toClusterError(apiException(403, msg), op);
    expect(e.kind).toBe("admission-denied");
    expect(e.message).toContain(
      "admission webhook vjobset.kb.io refused JobSet x in namespace vision",
    );
    expect(e.message).toContain("pod names generated for this JobSet will exceed 63 characters");
    expect(e.message).not.toMatch(/Ask your platform engineer for a Role/);
  });

  test("an RBAC denial still asks for the Role", () => {
    const e = toClusterError(
      apiException(
        403,
        'jobsets.jobset.x-k8s.io "x" is forbidden: User "mallory" cannot patch resource "jobsets" in API group "jobset.x-k8s.io" in the namespace "vision"',
      ),
      op,
    );
    expect(e.kind).toBe("forbidden");
    expect(e.message).toMatch(
      /Ask your platform engineer for a Role that allows "patch" on "jobsets.jobset.x-k8s.io"/,
    );
  });

  test("ValidatingAdmissionPolicy denials too", () => {
    expect(
      admissionDenial(
        "jobs.batch \"x\" is forbidden: ValidatingAdmissionPolicy 'gpu-limits' with binding 'gpu-limits' denied request: too many GPUs",
      ),
    ).toEqual({ by: "admission policy gpu-limits", message: "too many GPUs" });
  });
});

describe("a run Kueue deactivated is Failed, not Queued for ever", () => {
  const workload = (active: boolean, condition: object) =>
    ({
      apiVersion: "kueue.x-k8s.io/v1beta2",
      kind: "Workload",
      metadata: {
        name: "job-exp-1a2b3",
        namespace: "vision",
        uid: "kw-uid",
        ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "exp", uid }],
      },
      spec: { active, queueName: "default" },
      status: { requeueState: { count: 3 }, conditions: [condition] },
    }) as KubeObject;

  test("past waitForPodsReady's requeuing limit: Failed, with Kueue's words and what to check", () => {
    const kw = workload(false, {
      type: "Evicted",
      status: "True",
      reason: "DeactivatedDueToRequeuingLimitExceeded",
      message:
        "The workload is deactivated due to exceeding the maximum number of re-queuing retries",
    });
    const s = stateOf(job({ active: 0 }, { suspend: true, parallelism: 1 }), [], [kw]);
    expect(s.status.phase).toBe("Failed");
    expect(s.status.reason).toMatch(
      /^Kueue deactivated it \(DeactivatedDueToRequeuingLimitExceeded/,
    );
    expect(s.status.reason).toMatch(/not all Ready within .*waitForPodsReady.* after 3 requeue/);
    expect(s.status.reason).toMatch(/submit again$/);
  });

  test("an eviction that Kueue will retry stays Queued", () => {
    const kw = workload(true, {
      type: "Evicted",
      status: "True",
      reason: "PodsReadyTimeout",
      message: "Exceeded the PodsReady timeout vision/job-exp-1a2b3",
    });
    const s = stateOf(job({ active: 0 }, { suspend: true, parallelism: 1 }), [], [kw]);
    expect(s.status.phase).toBe("Queued");
    expect(s.status.reason).toMatch(/evicted by Kueue \(PodsReadyTimeout/);
  });
});
