/**
 * `yunshi export <experiment> --format onnx --cluster` as a team member, on the real control
 * plane: the checkpoint chosen from the manifest in a real S3 protocol server, the export Job
 * through the platform's admission policy (the job rules as a ValidatingAdmissionPolicy) and
 * a server-side dry run, admitted by Kueue, its pod on a CPU node of kwok, `--wait` to the
 * end; and the bad-input exits. The tests run in order and share the cluster.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { afterAll, beforeAll } from "vitest";
import { parseAllDocuments } from "yaml";
import { crc32Base64 } from "../../images/checkpoint-agent/src/checksum.ts";
import { saveManifest } from "../../images/checkpoint-agent/src/manifest-io.ts";
import { resolveS3Config } from "../../images/checkpoint-agent/src/s3-config.ts";
import { createS3Store } from "../../images/checkpoint-agent/src/s3-store.ts";
import { ADMISSION_POLICY_NAME, admissionPolicyObjects } from "../../policies/admission-policy.ts";
import { startS3, writeSpec } from "../cluster/harness.ts";
import type { Obj } from "./admin-client.ts";
import { pathOf } from "./admin-client.ts";
import { CPU_NODE } from "./harness-config.ts";
import { BUCKET, describeOnControlPlane, NS } from "./harness.ts";
import type { Session } from "./harness.ts";
import { TestAnnotations } from "./kwok-config.ts";

const KUEUE = "kueue.x-k8s.io/v1beta2";
const REGISTRY = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
const EXPORT_OF = "yunshi.dev/export-of";
const CKPT = Buffer.from("a committed checkpoint's bytes");
const SHA = createHash("sha256").update(CKPT).digest("hex");

const cond = (o: Obj | undefined, type: string) =>
  (
    (o?.status as { conditions?: { type: string; status: string; reason?: string }[] })
      ?.conditions ?? []
  ).find((c) => c.type === type && c.status === "True");

/** A node of the platform's CPU pool, as Karpenter would launch it: no GPU, no taint. */
async function addCpuNode(s: Session): Promise<void> {
  const n = CPU_NODE;
  await s.cp.admin.apply({
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: n.name,
      annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        "kubernetes.io/hostname": n.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": n.instanceType,
        "topology.kubernetes.io/zone": "us-west-2a",
        "karpenter.sh/capacity-type": n.capacityType,
        "karpenter.sh/nodepool": n.pool,
        "yunshi.dev/pool": n.pool,
        type: "kwok",
      },
    },
  });
  const capacity = {
    cpu: String(n.cpu),
    memory: `${n.memoryGiB}Gi`,
    pods: "110",
    "ephemeral-storage": "200Gi",
  };
  await s.cp.admin.mergePatch(
    "v1",
    "Node",
    undefined,
    n.name,
    { status: { capacity, allocatable: capacity } },
    "status",
  );
  await s.waitFor("the CPU node Ready", async () => {
    const node = await s.cp.admin.get("v1", "Node", undefined, n.name);
    const st = node?.status as { conditions?: { type: string; status: string }[] } | undefined;
    const taints = (node?.spec as { taints?: { key: string }[] } | undefined)?.taints ?? [];
    return (
      st?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true &&
      !taints.some((t) => t.key.startsWith("node.kubernetes.io/"))
    );
  });
}

const exportPods = async (s: Session, experiment: string) =>
  (await s.cp.admin.list("v1", "Pod", NS, `${EXPORT_OF}=${experiment}`)).filter(
    (p) => p.metadata.deletionTimestamp === undefined,
  );

async function annotateExportPods(s: Session, experiment: string, a: Record<string, string>) {
  for (const p of await exportPods(s, experiment))
    await s.cp.admin.mergePatch("v1", "Pod", NS, p.metadata.name, { metadata: { annotations: a } });
}

describeOnControlPlane("export --cluster on a real control plane", (session) => {
  let s3: { endpoint: string; close(): Promise<void> } | undefined;
  const saved = { ...process.env };
  let datasetUri = "";

  beforeAll(async () => {
    const s = session();
    s3 = await startS3(BUCKET);
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_REGION: "us-east-1",
      YUNSHI_S3_FORCE_PATH_STYLE: "true",
      AWS_EC2_METADATA_DISABLED: "true",
    });
    delete process.env.AWS_CA_BUNDLE;
    const store = createS3Store({
      bucket: BUCKET,
      config: resolveS3Config(process.env),
      maxSockets: 2,
      log: () => {},
    });
    // exp-a trained to a best checkpoint; exp-b has run but committed nothing yet.
    const file = "best_coco_bbox_mAP_epoch_6.pth";
    await store.putObject(`${NS}/exp-a/checkpoints/${file}`, CKPT, {
      crc32Base64: crc32Base64(CKPT),
    });
    const entry = {
      file,
      key: `checkpoints/${file}`,
      relPath: file,
      path: `/yunshi/work/${file}`,
      bytes: CKPT.length,
      sha256: SHA,
      epoch: 6,
      time: "2026-11-30T09:40:00Z",
    };
    await saveManifest(store, `${NS}/exp-a/`, {
      version: 1,
      latest: { ...entry, file: "epoch_9.pth", key: "checkpoints/epoch_9.pth", epoch: 9 },
      history: [],
      best: entry,
      updated: "2026-11-30T09:40:00Z",
    });
    for (const name of ["exp-a", "exp-b"]) {
      const spec = writeSpec(s.dir, (x) => (x.name = name));
      datasetUri = (
        parseAllDocuments(readFileSync(spec, "utf8"))[0]?.toJS() as {
          dataset: { uri: string };
        }
      ).dataset.uri;
      const r = await s.yunshi("submit", spec);
      expect(r.code, r.all).toBe(0);
    }
    await addCpuNode(s);
    for (const o of admissionPolicyObjects({ registry: REGISTRY, maxGpusPerPod: 8 }))
      await s.cp.admin.apply(o);
  }, 120_000);

  afterAll(async () => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await s3?.close();
  });

  test("an unknown experiment and one with no committed checkpoint exit 2 and submit nothing", async () => {
    const s = session();
    const unknown = await s.yunshi("export", "nope", "--format", "onnx", "--cluster");
    expect(unknown.code, unknown.all).toBe(2);
    expect(unknown.err).toMatch(
      /unknown experiment "nope" in namespace vision: no Job or JobSet of that name, and no checkpoint manifest under s3:\/\/acme-training\/vision\/nope\//,
    );
    const none = await s.yunshi("export", "exp-b", "--format", "onnx", "--cluster");
    expect(none.code, none.all).toBe(2);
    expect(none.err).toMatch(
      /no committed checkpoint for exp-b .*there is no checkpoints\/LATEST\.json/,
    );
    const jobs = await s.cp.admin.list("batch/v1", "Job", NS, EXPORT_OF);
    expect(jobs).toEqual([]);
  });

  test("--dry-run prints the Job for the best checkpoint and the training dataset, and submits nothing", async () => {
    const s = session();
    const r = await s.yunshi("export", "exp-a", "--format", "onnx", "--cluster", "--dry-run");
    expect(r.code, r.all).toBe(0);
    expect(r.err).toMatch(/dry run: nothing was submitted/);
    const [job] = parseAllDocuments(r.out).map((d) => d.toJS() as Obj);
    expect(job?.kind).toBe("Job");
    expect(job?.metadata.name).toBe("exp-a-export-onnx");
    const text = JSON.stringify(job);
    expect(text).toContain(
      `"s3://acme-training/vision/exp-a/checkpoints/best_coco_bbox_mAP_epoch_6.pth"`,
    );
    expect(text).toContain(`"--sha256","${SHA}"`);
    expect(text).toContain(`"fetch","--uri","${datasetUri}","--dest","/yunshi/data"`);
    expect(text).toContain(`"s3://acme-training/vision/exp-a/exports/onnx/"`);
    expect(await s.cp.admin.get("batch/v1", "Job", NS, "exp-a-export-onnx")).toBeUndefined();

    // The platform's admission policy is in force: a Job that breaks a rule is denied...
    const bad = structuredClone(job!) as Obj & {
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    bad.spec.template.spec.containers[0]!.image = "docker.io/someone/agent:latest";
    const path = `${pathOf("batch/v1", "Job", NS, undefined)}?dryRun=All`;
    const denied = await s.waitFor("the admission policy to take effect", async () => {
      const res = await s.cp.admin.request("POST", path, JSON.stringify(bad), "application/json");
      return res.status === 403 ? res : undefined;
    });
    expect(denied.text).toMatch(new RegExp(`${ADMISSION_POLICY_NAME}|platform-registry`));
    // ...and the rendered one is admitted by it (and by Kueue's and the API server's checks).
    const ok = await s.cp.admin.request("POST", path, JSON.stringify(job), "application/json");
    expect(ok.status, ok.text).toBe(201);
  });

  test("submits with a server-side dry run first; Kueue admits it and its pod lands on the CPU node", async () => {
    const s = session();
    const r = await s.yunshi("export", "exp-a", "--format", "onnx", "--cluster");
    expect(r.code, r.all).toBe(0);
    expect(r.out).toMatch(
      /submitted export Job exp-a-export-onnx to namespace vision \(CPU, queue default\)/,
    );
    expect(r.out).toMatch(
      /model: best committed checkpoint .*best_coco_bbox_mAP_epoch_6\.pth \(epoch 6\)/,
    );

    const writes = readFileSync(s.cp.auditLog, "utf8")
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            user: { username: string };
            verb: string;
            requestURI: string;
            objectRef: { resource: string; name: string };
          },
      )
      .filter((e) => e.user.username === "alice" && e.objectRef.name === "exp-a-export-onnx")
      .map((e) => `${e.verb}${e.requestURI.includes("dryRun=All") ? " (dry run)" : ""}`);
    expect(writes).toEqual(["patch (dry run)", "patch"]);

    const wl = await s.waitFor("Kueue's Workload admitted", async () =>
      (await s.cp.admin.list(KUEUE, "Workload", NS)).find(
        (w) =>
          w.metadata.ownerReferences?.some(
            (o) => o.kind === "Job" && o.name === "exp-a-export-onnx",
          ) && cond(w, "Admitted"),
      ),
    );
    expect(JSON.stringify(wl.status)).toMatch(/"cpu":"spot"/);
    const pod = await s.waitFor("the export pod scheduled", async () =>
      (await exportPods(s, "exp-a")).find((p) => (p.spec as { nodeName?: string }).nodeName),
    );
    expect((pod.spec as { nodeName: string }).nodeName).toBe(CPU_NODE.name);
    // The export is not mistaken for the training run: status still shows exp-a's Job.
    const st = await s.yunshi("status", "-o", "json");
    const names = (JSON.parse(st.out) as { name: string }[]).map((x) => x.name).sort();
    expect(names).toEqual(["exp-a", "exp-b"]);
  });

  test("an export still running is not replaced", async () => {
    const s = session();
    const r = await s.yunshi("export", "exp-a", "--format", "onnx", "--cluster");
    expect(r.code, r.all).toBe(1);
    expect(r.err).toMatch(/an export of exp-a is still running \(Job vision\/exp-a-export-onnx\)/);
  });

  test("--wait follows a new export to Complete, replacing the finished one", async () => {
    const s = session();
    await annotateExportPods(s, "exp-a", {
      [TestAnnotations.initDone]: "true",
      [TestAnnotations.exitCode]: "0",
    });
    const first = await s.waitFor("the first export Complete", async () =>
      cond(await s.cp.admin.get("batch/v1", "Job", NS, "exp-a-export-onnx"), "Complete"),
    );
    expect(first).toBeDefined();
    const before = await s.cp.admin.get("batch/v1", "Job", NS, "exp-a-export-onnx");
    const running = s.yunshi("export", "exp-a", "--format", "onnx", "--cluster", "--wait");
    const pod = await s.waitFor(
      "the new export pod",
      async () =>
        (await exportPods(s, "exp-a")).find(
          (p) =>
            p.metadata.ownerReferences?.some((o) => o.uid !== before?.metadata.uid) === true &&
            (p.spec as { nodeName?: string }).nodeName === CPU_NODE.name,
        ),
      60_000,
    );
    await s.cp.admin.mergePatch("v1", "Pod", NS, pod.metadata.name, {
      metadata: {
        annotations: { [TestAnnotations.initDone]: "true", [TestAnnotations.exitCode]: "0" },
      },
    });
    const r = await running;
    expect(r.code, r.all).toBe(0);
    expect(r.err).toMatch(/exp-a-export-onnx: Complete/);
    expect(r.out).toMatch(
      /verified export uploaded to s3:\/\/acme-training\/vision\/exp-a\/exports\/onnx\//,
    );
  }, 90_000);

  test("an upload refused as unverified (exit 2) fails the Job at once, and --wait exits 1", async () => {
    const s = session();
    const before = await s.cp.admin.get("batch/v1", "Job", NS, "exp-a-export-onnx");
    const running = s.yunshi("export", "exp-a", "--format", "onnx", "--cluster", "--wait");
    const pod = await s.waitFor(
      "the new export pod",
      async () =>
        (await exportPods(s, "exp-a")).find(
          (p) =>
            p.metadata.ownerReferences?.some((o) => o.uid !== before?.metadata.uid) === true &&
            (p.spec as { nodeName?: string }).nodeName === CPU_NODE.name,
        ),
      60_000,
    );
    await s.cp.admin.mergePatch("v1", "Pod", NS, pod.metadata.name, {
      metadata: {
        annotations: { [TestAnnotations.initDone]: "true", [TestAnnotations.exitCode]: "2" },
      },
    });
    const r = await running;
    expect(r.code, r.all).toBe(1);
    expect(r.err).toMatch(
      /the export failed \(PodFailurePolicy: .*\); nothing unverified was uploaded/,
    );
    const job = await s.cp.admin.get("batch/v1", "Job", NS, "exp-a-export-onnx");
    expect((job?.status as { failed?: number }).failed).toBe(1);
  }, 90_000);
});
