/**
 * On the real control plane, through the CLI as a user (issues 11 and 16):
 * - every command says which namespace it used, and a namespace that is not a team's is
 *   named as such, with how to pick one;
 * - submit refuses a run the platform can never admit (the limits come from the platform
 *   ConfigMap the platform objects write), with nothing applied;
 * - `logs --follow` moves to the replacement pod when the old one is evicted (kwok keeps the
 *   old stream open, as a kubelet may: the CLI has to end it);
 * - a finished run whose pods are gone shows its last checkpoint from the manifest in S3, as
 *   the checkpoint agent's snapshot code committed it, through the platform's S3 endpoint.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { resolveS3Config } from "../../images/checkpoint-agent/src/s3-config.ts";
import { createS3Store } from "../../images/checkpoint-agent/src/s3-store.ts";
import { runSnapshot } from "../../images/checkpoint-agent/src/snapshot.ts";
import { defaultTransfer } from "../../images/checkpoint-agent/src/transfer-options.ts";
import { run } from "../../jobs/program.ts";
import { startS3, writeSpec } from "../cluster/harness.ts";
import type { Obj } from "./admin-client.ts";
import { BUCKET, describeOnControlPlane, NS } from "./harness.ts";
import type { Session } from "./harness.ts";
import { TestAnnotations } from "./kwok-config.ts";

const CONTEXT = "yunshi-test";
const s3 = await startS3(BUCKET);
afterAll(() => s3.close());

async function livePods(s: Session, name: string): Promise<Obj[]> {
  return (await s.pods(name)).filter((p) => p.metadata.deletionTimestamp === undefined);
}

async function annotatePods(s: Session, name: string, annotations: Record<string, string>) {
  for (const p of await livePods(s, name))
    await s.cp.admin.mergePatch("v1", "Pod", NS, p.metadata.name, { metadata: { annotations } });
}

async function phase(s: Session, name: string): Promise<string> {
  const r = await s.yunshi("status", name, "-o", "json");
  expect(r.code, r.all).toBe(0);
  return (JSON.parse(r.out) as { phase: string }).phase;
}

const waitPhase = (s: Session, name: string, want: string, ms = 30_000) =>
  s.waitFor(`${name} ${want}`, async () => (await phase(s, name)) === want, ms);

/** Submit, let the init containers finish, and wait for Training. */
async function training(s: Session, file: string, name: string): Promise<void> {
  const r = await s.yunshi("submit", file);
  expect(r.code, r.all).toBe(0);
  await s.waitFor(`${name}'s pod`, async () => (await livePods(s, name)).length > 0);
  await annotatePods(s, name, { [TestAnnotations.initDone]: "true" });
  await waitPhase(s, name, "Training");
}

/** Alice's writes in the audit log (patch/create/delete), as `verb resource/name`. */
function aliceWrites(s: Session): string[] {
  return readFileSync(s.cp.auditLog, "utf8")
    .trim()
    .split("\n")
    .map(
      (l) =>
        JSON.parse(l) as {
          user: { username: string };
          verb: string;
          objectRef: { resource: string; name?: string };
        },
    )
    .filter((e) => e.user.username === "alice")
    .map((e) => `${e.verb} ${e.objectRef.resource}/${e.objectRef.name ?? ""}`);
}

describeOnControlPlane(
  "namespaces, platform limits, logs --follow and the last checkpoint on a real control plane",
  (session) => {
    const spec = (name: string, edit: (x: Record<string, unknown>) => void = () => {}) =>
      writeSpec(session().dir, (x) => {
        x.name = name;
        edit(x);
      });

    test("every command says which namespace it used and where that came from", async () => {
      const s = session();
      const fromContext = await s.yunshi("status");
      expect(fromContext.code, fromContext.all).toBe(0);
      expect(fromContext.err).toBe(`namespace vision (from kube context "${CONTEXT}")\n`);
      expect(fromContext.out).toBe("no experiments in namespace vision\n");
      const fromFlag = await s.yunshi("status", "-n", NS);
      expect(fromFlag.err).toBe("namespace vision (from --namespace)\n");
      for (const argv of [
        ["logs", "nope"],
        ["cancel", "nope"],
      ]) {
        const r = await s.yunshi(...argv);
        expect(r.code).toBe(1);
        expect(r.err).toContain(`namespace vision (from kube context "${CONTEXT}")\n`);
        expect(r.err).toContain("no experiment nope in namespace vision");
      }
    });

    test("a kube context without a namespace: the CLI says it looked in default, which is not a team namespace, and how to pick one", async () => {
      const s = session();
      const plain = s.cp.kubeconfig("alice"); // an ordinary kubeconfig: no namespace set
      const as = async (kubeconfig: string, ...argv: string[]) => {
        process.env.KUBECONFIG = kubeconfig;
        return cliStreaming(argv).done;
      };
      for (const argv of [["status"], ["logs", "frcnn"], ["cancel", "frcnn"]]) {
        const r = await as(plain, ...argv);
        expect(r.code, r.all).toBe(1);
        // Alice may not even look in default: RBAC exists only in her team's namespace.
        expect(r.err).toContain(
          `namespace default (kube context "${CONTEXT}" sets no namespace) is not one of your team namespaces: ` +
            "you may not read its yunshi-platform ConfigMap",
        );
        expect(r.err).toContain("kubectl config set-context --current --namespace <team>");
        expect(r.err).not.toMatch(/Ask your platform engineer for a Role that allows/);
      }
      // Someone who may look (an admin): default has no platform ConfigMap.
      const admin = await as(s.cp.kubeconfig("admin"), "status");
      expect(admin.code).toBe(1);
      expect(admin.err).toContain(
        `namespace default (kube context "${CONTEXT}" sets no namespace) is not a team namespace: it has no yunshi-platform ConfigMap. ` +
          "Pick your team's namespace with -n <team>",
      );
      // -n fixes it.
      const picked = await as(plain, "status", "-n", NS);
      expect(picked.code, picked.all).toBe(0);
      expect(picked.err).toBe("namespace vision (from --namespace)\n");
    });

    test("submit refuses a run the platform can never admit (exit 2) and applies nothing; the platform ConfigMap carries the limits", async () => {
      const s = session();
      const cm = await s.cp.admin.get("v1", "ConfigMap", NS, "yunshi-platform");
      // What infra writes for this cluster: 1 spot GPU and 16 on-demand for the team, 8 per node.
      expect(cm?.data).toMatchObject({
        spotGpuQuota: "1",
        maxSpotGpus: "1",
        onDemandGpuQuota: "16",
        maxOnDemandGpus: "16",
        maxGpusPerNode: "8",
        maxCpuPerNode: "192", // g5.48xlarge
        maxMemoryGiBPerNode: "1152", // p4d.24xlarge
        gpuInstanceFamilies: "g5,p4d",
      });
      const before = aliceWrites(s).length;
      const file = spec("too-big", (x) => {
        x.resources = { nodes: 2, gpusPerNode: 1, spot: true, gpu: { minMemoryGiB: 16 } };
      });
      const r = await s.yunshi("submit", file);
      expect(r.code, r.all).toBe(2);
      expect(r.err).toContain(
        `${file}: this run can never be admitted in namespace vision; nothing was sent:\n` +
          "  resources.nodes × resources.gpusPerNode: 2 × 1 = 2 spot GPUs, but Kueue admits a run only when all its GPUs fit at once, " +
          "and one run here can get at most 1 spot GPU (ConfigMap vision/yunshi-platform: maxSpotGpus 1, of which the team's guaranteed quota is 1)\n" +
          "    fix: ask for at most 1 spot GPU in total; set resources.spot: false (up to 16 on-demand GPUs)",
      );
      expect(aliceWrites(s).slice(before)).toEqual([]);
      expect(await s.cp.admin.get("batch/v1", "Job", NS, "too-big")).toBeUndefined();
      expect(await s.cp.admin.get("v1", "ConfigMap", NS, "too-big-config")).toBeUndefined();

      // GPU memory no family of this platform offers.
      const big = await s.yunshi(
        "submit",
        spec("too-much-memory", (x) => {
          x.resources = { nodes: 1, gpusPerNode: 1, spot: false, gpu: { minMemoryGiB: 80 } };
        }),
      );
      expect(big.code).toBe(2);
      expect(big.err).toContain(
        "resources.gpu.minMemoryGiB: 80, but the largest GPU the NodePool's families (g5, p4d) offer is the A100 with 40 GiB (p4d)",
      );
      expect(aliceWrites(s).slice(before)).toEqual([]);
    });

    test("logs --follow moves to the replacement pod when the old one is evicted, and ends with the run", async () => {
      const s = session();
      await training(s, spec("follow-a"), "follow-a");
      const [first] = await livePods(s, "follow-a");
      process.env.KUBECONFIG = s.cp.kubeconfig("alice", NS);
      const follow = cliStreaming(["logs", "follow-a", "--follow"]);
      s.log("trainer", "line from the first pod");
      await s.waitFor("the first pod's line", () =>
        Promise.resolve(follow.out().includes("line from the first pod")),
      );
      // What Karpenter's drain does on a spot interruption: the Eviction API.
      await s.cp.admin.evict(NS, first!.metadata.name);
      const second = await s.waitFor("a replacement pod", async () =>
        (await livePods(s, "follow-a")).find((p) => p.metadata.name !== first!.metadata.name),
      );
      await annotatePods(s, "follow-a", { [TestAnnotations.initDone]: "true" });
      await s.waitFor(
        "the CLI following the replacement",
        () =>
          Promise.resolve(
            follow.err().includes(`── following replacement pod ${second.metadata.name} ──`),
          ),
        30_000,
      );
      expect(follow.err()).toMatch(
        new RegExp(
          `── ${first!.metadata.name} (is gone|was replaced by ${second.metadata.name}|ended \\(Failed\\)) ──`,
        ),
      );
      const switched = follow.out().length;
      s.log("trainer", "line after the switch");
      await s.waitFor("the line after the switch, from the new pod's stream", () =>
        Promise.resolve(follow.out().slice(switched).includes("line after the switch")),
      );
      await annotatePods(s, "follow-a", { [TestAnnotations.exitCode]: "0" });
      const r = await follow.done;
      expect(r.code, r.all).toBe(0);
      expect(r.err).toContain(`── ${second.metadata.name} ended (Succeeded) ──`);
    });

    test("a finished run whose pods are gone shows the last checkpoint the agent committed to S3", async () => {
      const s = session();
      const name = "ckpt-a";
      await training(
        s,
        spec(name, (x) => {
          x.resources = { nodes: 1, gpusPerNode: 1, spot: false, gpu: { minMemoryGiB: 16 } };
        }),
        name,
      );
      // Credentials on this machine (the agent's and status's S3 clients read them from the
      // environment); the endpoint status uses comes from the platform ConfigMap.
      const saved = { ...process.env };
      Object.assign(process.env, {
        AWS_ACCESS_KEY_ID: "S3RVER",
        AWS_SECRET_ACCESS_KEY: "S3RVER",
        AWS_REGION: "us-west-2",
        YUNSHI_S3_FORCE_PATH_STYLE: "true",
        AWS_EC2_METADATA_DISABLED: "true",
      });
      delete process.env.AWS_ENDPOINT_URL_S3;
      delete process.env.AWS_ENDPOINT_URL;
      try {
        // The snapshot sidecar's own code commits epoch_3.pth: upload, then the manifest.
        const work = mkdtempSync(join(tmpdir(), "yunshi-cp-work-"));
        writeFileSync(join(work, "epoch_3.pth"), Buffer.alloc(64 * 1024, 7));
        writeFileSync(join(work, "last_checkpoint"), join(work, "epoch_3.pth"));
        const store = createS3Store({
          bucket: BUCKET,
          config: resolveS3Config({ ...process.env, AWS_ENDPOINT_URL_S3: s3.endpoint }),
          maxSockets: 2,
          log: () => {},
        });
        const never = new AbortController().signal;
        const report = await runSnapshot({
          store,
          prefix: `${NS}/${name}/`,
          workDir: work,
          keep: 3,
          bestMetric: undefined,
          intervalMs: 50,
          logsIntervalMs: 1000,
          transfer: defaultTransfer,
          log: () => {},
          once: true,
          stop: never,
          abort: never,
        });
        expect(report.committed.map((c) => c.file)).toEqual(["epoch_3.pth"]);

        await annotatePods(s, name, { [TestAnnotations.exitCode]: "0" });
        await waitPhase(s, name, "Succeeded");
        for (const p of await s.pods(name)) {
          const del = await s.cp.admin.request(
            "DELETE",
            `/api/v1/namespaces/${NS}/pods/${p.metadata.name}`,
          );
          expect([200, 202, 404]).toContain(del.status);
        }
        await s.waitFor("the pods gone", async () => (await s.pods(name)).length === 0);

        const j = await s.yunshi("status", name, "-o", "json");
        expect(j.code, j.all).toBe(0);
        const st = JSON.parse(j.out) as { phase: string; lastCheckpoint?: unknown };
        expect(st.phase).toBe("Succeeded");
        expect(st.lastCheckpoint).toMatchObject({
          file: "epoch_3.pth",
          epoch: 3,
          source: "S3 manifest",
        });
        const table = await s.yunshi("status");
        expect(table.out).toMatch(
          new RegExp(`${name}\\s+Succeeded\\s+.*epoch_3\\.pth \\(epoch 3\\)`),
        );
      } finally {
        for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
        Object.assign(process.env, saved);
      }
    });
  },
  { s3Endpoint: s3.endpoint },
);

/** The CLI in this process with its output observable while it runs (for --follow). */
function cliStreaming(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const all: string[] = [];
  const done = run(argv, {
    out: (t) => void (out.push(t), all.push(t)),
    err: (t) => void (err.push(t), all.push(t)),
  }).then((code) => ({ code, out: out.join(""), err: err.join(""), all: all.join("") }));
  return { done, out: () => out.join(""), err: () => err.join("") };
}
