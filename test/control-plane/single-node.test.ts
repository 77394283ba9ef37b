/**
 * One-node runs (batch/v1 Job) through the CLI, as a team member, on the real control plane:
 * submit (dry run, then server-side apply), Kueue admission and queueing, pods on kwok GPU
 * nodes, status phases, preemption, do-not-retry failures, resubmission, cancel.
 * The tests run in order and share the cluster, as a user's session would.
 */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { writeSpec } from "../cluster/harness.ts";
import type { Obj } from "./admin-client.ts";
import { describeOnControlPlane, NS } from "./harness.ts";
import type { Session } from "./harness.ts";
import { TestAnnotations } from "./kwok-config.ts";

interface StatusJson {
  name: string;
  phase: string;
  reason?: string;
  queuePosition?: number;
  restarts: number;
  retries?: number;
  lastCheckpoint?: { file: string };
}

const KUEUE = "kueue.x-k8s.io/v1beta2";
const cond = (o: Obj | undefined, type: string) =>
  (
    (o?.status as { conditions?: { type: string; status: string; reason?: string }[] })
      ?.conditions ?? []
  ).find((c) => c.type === type && c.status === "True");

async function status(s: Session, name: string): Promise<StatusJson> {
  const r = await s.yunshi("status", name, "-o", "json");
  expect(r.code, r.all).toBe(0);
  return JSON.parse(r.out) as StatusJson;
}

async function waitPhase(s: Session, name: string, phase: string, ms = 30_000) {
  return s.waitFor(
    `${name} ${phase}`,
    async () => {
      const st = await status(s, name);
      return st.phase === phase ? st : undefined;
    },
    ms,
  );
}

/** The live pods of an experiment (not being deleted). */
async function livePods(s: Session, name: string): Promise<Obj[]> {
  return (await s.pods(name)).filter((p) => p.metadata.deletionTimestamp === undefined);
}

async function annotatePods(s: Session, name: string, annotations: Record<string, string>) {
  for (const p of await livePods(s, name))
    await s.cp.admin.mergePatch("v1", "Pod", NS, p.metadata.name, {
      metadata: { annotations },
    });
}

/**
 * The prepare sidecar's log, as `status` reads it (its last line): kwok serves one log file
 * per container name to every pod, so these lines speak for every running pod at once.
 */
const RESTORING_LINE = "restoring iter_8.pth: 41% 135/330 MB, 88.2 MB/s";
const startRestoring = (s: Session) => s.log("prepare", RESTORING_LINE);
const finishPrepare = (s: Session) => s.log("prepare", "prepared in 3.1 s: training may start");

describeOnControlPlane("one-node runs on a real control plane", (session) => {
  const spec = (name: string, edit: (x: Record<string, unknown>) => void = () => {}) =>
    writeSpec(session().dir, (x) => {
      x.name = name;
      edit(x);
    });

  test("submit: a server-side dry run of every object, then server-side apply as field manager yunshi", async () => {
    const s = session();
    const r = await s.yunshi("submit", spec("frcnn-a"));
    expect(r.code, r.all).toBe(0);
    expect(r.out).toContain("submitted experiment frcnn-a to namespace vision");

    const audit = readFileSync(s.cp.auditLog, "utf8")
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            user: { username: string };
            verb: string;
            requestURI: string;
            objectRef: { resource: string; name: string };
            responseStatus: { code: number };
          },
      )
      .filter((e) => e.user.username === "alice");
    const writes = audit.map(
      (e) =>
        `${e.verb} ${e.objectRef.resource}/${e.objectRef.name}${e.requestURI.includes("dryRun=All") ? " (dry run)" : ""}`,
    );
    expect(writes).toEqual([
      "patch configmaps/frcnn-a-config (dry run)",
      "patch services/frcnn-a (dry run)",
      "patch jobs/frcnn-a (dry run)",
      "patch configmaps/frcnn-a-config",
      "patch services/frcnn-a",
      "patch jobs/frcnn-a",
    ]);
    expect(audit.every((e) => e.requestURI.includes("fieldManager=yunshi"))).toBe(true);
    const job = await s.cp.admin.get("batch/v1", "Job", NS, "frcnn-a");
    const managers = (job?.metadata as { managedFields?: { manager: string; operation: string }[] })
      .managedFields;
    expect(managers).toContainEqual(
      expect.objectContaining({ manager: "yunshi", operation: "Apply" }),
    );
  });

  test("Kueue suspends the Job, admits it within the team's quota, and the pod lands on a spot GPU node", async () => {
    const s = session();
    const wl = await s.waitFor("Kueue's Workload admitted", async () =>
      (await s.cp.admin.list(KUEUE, "Workload", NS)).find(
        (w) =>
          w.metadata.ownerReferences?.some((o) => o.kind === "Job" && o.name === "frcnn-a") &&
          cond(w, "Admitted"),
      ),
    );
    expect(JSON.stringify(wl.status)).toContain('"nvidia.com/gpu":"spot"');
    const pod = await s.waitFor("the pod scheduled", async () =>
      (await livePods(s, "frcnn-a")).find((p) => (p.spec as { nodeName?: string }).nodeName),
    );
    const node = await s.cp.admin.get(
      "v1",
      "Node",
      undefined,
      (pod.spec as { nodeName: string }).nodeName,
    );
    expect(node?.metadata.labels?.["karpenter.sh/capacity-type"]).toBe("spot");
    expect(
      Number(node?.metadata.labels?.["karpenter.k8s.aws/instance-gpu-memory"]),
    ).toBeGreaterThanOrEqual(16 * 1024 * 0.9);
  });

  test("status walks Restoring → Training as the prepare sidecar finishes beside the trainer", async () => {
    const s = session();
    startRestoring(s);
    const restoring = await waitPhase(s, "frcnn-a", "Restoring");
    expect(restoring.reason).toMatch(/restoring the last checkpoint in frcnn-a-0-\w+ .*41%/);
    // The pod is Ready while prepare works: what Kueue's waitForPodsReady counts.
    const [pod] = await livePods(s, "frcnn-a");
    expect(cond(pod, "Ready")).toBeDefined();
    finishPrepare(s);
    const training = await waitPhase(s, "frcnn-a", "Training");
    expect(training.restarts).toBe(0);
  });

  test("the same spec again is a no-op; a changed spec while running is refused", async () => {
    const s = session();
    const same = await s.yunshi("submit", spec("frcnn-a"));
    expect(same.code, same.all).toBe(0);
    expect(same.out).toMatch(/^unchanged: experiment frcnn-a .* \(Training\); nothing was sent/);
    const changed = await s.yunshi(
      "submit",
      spec("frcnn-a", (x) => ((x.train as Record<string, unknown>).epochs = 24)),
    );
    expect(changed.code).toBe(1);
    expect(changed.err).toMatch(/experiment frcnn-a is Training .* with a different spec/);
  });

  test("a second run over quota is Queued with its position; cancelling the first admits it", async () => {
    const s = session();
    const r = await s.yunshi("submit", spec("frcnn-b"));
    expect(r.code, r.all).toBe(0);
    const queued = await waitPhase(s, "frcnn-b", "Queued");
    expect(queued.queuePosition).toBe(1);
    expect(queued.reason).toMatch(/insufficient unused quota for nvidia\.com\/gpu in flavor spot/);
    const table = await s.yunshi("status");
    expect(table.out).toMatch(/frcnn-b\s+Queued #1/);

    const cancel = await s.yunshi("cancel", "frcnn-a");
    expect(cancel.code, cancel.all).toBe(0);
    expect(cancel.out).toMatch(
      /checkpoints are kept: s3:\/\/acme-training\/vision\/frcnn-a\/checkpoints\//,
    );
    expect(await s.cp.admin.get("batch/v1", "Job", NS, "frcnn-a")).toBeUndefined();
    startRestoring(s);
    await waitPhase(s, "frcnn-b", "Restoring");
  });

  test("preemption: Interrupted → Restarting, the restart counted, no retry used", async () => {
    const s = session();
    finishPrepare(s);
    await waitPhase(s, "frcnn-b", "Training");
    const [victim] = await livePods(s, "frcnn-b");
    // What Karpenter's drain does on a spot interruption: the Eviction API.
    await s.cp.admin.evict(NS, victim!.metadata.name);
    const seen = new Set<string>();
    const replaced = await s.waitFor("a replacement pod", async () => {
      seen.add((await status(s, "frcnn-b")).phase);
      return (await livePods(s, "frcnn-b")).find((p) => p.metadata.name !== victim!.metadata.name);
    });
    expect(replaced).toBeDefined();
    const after = await waitPhase(s, "frcnn-b", "Training");
    expect([...seen].some((p) => p === "Interrupted" || p === "Restarting")).toBe(true);
    expect(after.restarts).toBe(1);
    const job = await s.cp.admin.get("batch/v1", "Job", NS, "frcnn-b");
    // The Job's own counter of failures against retries did not move.
    expect((job?.status as { failed?: number }).failed ?? 0).toBe(0);
  });

  test("an exit code from the do-not-retry set fails the run at once with its reason", async () => {
    const s = session();
    await annotatePods(s, "frcnn-b", { [TestAnnotations.exitCode]: "3" });
    const failed = await waitPhase(s, "frcnn-b", "Failed");
    expect(failed.reason).toMatch(/config error \(exit 3\)/);
    expect(failed.restarts).toBe(1);
    const job = await s.cp.admin.get("batch/v1", "Job", NS, "frcnn-b");
    expect(cond(job, "Failed")?.reason).toBe("PodFailurePolicy");
  });

  test("a finished run resumes when submitted again", async () => {
    const s = session();
    const before = await s.cp.admin.get("batch/v1", "Job", NS, "frcnn-b");
    const r = await s.yunshi("submit", spec("frcnn-b"));
    expect(r.code, r.all).toBe(0);
    expect(r.out).toMatch(
      /resubmitted experiment frcnn-b .*failed: config error.*resumes from the last checkpoint/,
    );
    const after = await s.cp.admin.get("batch/v1", "Job", NS, "frcnn-b");
    expect(after?.metadata.uid).not.toBe(before?.metadata.uid);
    startRestoring(s);
    await waitPhase(s, "frcnn-b", "Restoring");
    finishPrepare(s);
    await waitPhase(s, "frcnn-b", "Training");
    await annotatePods(s, "frcnn-b", { [TestAnnotations.exitCode]: "0" });
    await waitPhase(s, "frcnn-b", "Succeeded");
  });
});
