import { parseAllDocuments } from "yaml";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { simulate } from "../fake-kube-api/index.ts";
import { cli, NS, startCluster, until, writeSpec } from "./harness.ts";
import type { Cluster } from "./harness.ts";

let c: Cluster;
beforeEach(async () => {
  c = await startCluster();
});
afterEach(async () => {
  await c.close();
});

const NAME = "cn-traffic-frcnn";
const job = () => c.fake.get("batch/v1", "Job", NS, NAME);
const mutations = () =>
  c.fake.requests.filter(
    (r) => ["PATCH", "POST", "PUT", "DELETE"].includes(r.method) && r.query.get("dryRun") === null,
  );

describe("submit", () => {
  test("applies ConfigMap, Service and Job with server-side apply under field manager yunshi, dry run first", async () => {
    const spec = writeSpec(c.dir);
    const r = await cli("submit", spec);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`submitted experiment ${NAME} to namespace ${NS}`);
    expect(r.out).toContain("queue default");
    expect(r.out).toContain(`yunshi status ${NAME} -n ${NS}`);
    expect(r.out).toContain("s3://acme-training/vision/cn-traffic-frcnn/");
    const patches = c.fake.requests.filter((q) => q.method === "PATCH");
    expect(patches).toHaveLength(6); // 3 dry runs, then 3 applies
    for (const p of patches) {
      expect(p.contentType).toBe("application/apply-patch+yaml");
      expect(p.query.get("fieldManager")).toBe("yunshi");
    }
    expect(patches.slice(0, 3).every((p) => p.query.get("dryRun") === "All")).toBe(true);
    const stored = job();
    const meta = stored?.metadata as {
      labels: Record<string, string>;
      annotations: Record<string, string>;
    };
    expect(meta.labels["yunshi.dev/experiment"]).toBe(NAME);
    expect(meta.annotations["yunshi.dev/spec-hash"]).toMatch(/^[0-9a-f]{64}$/);
    expect(c.fake.get("v1", "ConfigMap", NS, `${NAME}-config`)).toBeDefined();
    expect(c.fake.get("v1", "Service", NS, NAME)).toBeDefined();
  });

  test("the API server receives every field the renderer produced (client-node drops none)", async () => {
    const spec = writeSpec(c.dir);
    const dry = await cli(
      "submit",
      spec,
      "--dry-run",
      "--bucket",
      "acme-training",
      "--queue",
      "team-gpu",
      "-n",
      NS,
      "--trainer-image",
      "123456789012.dkr.ecr.us-west-2.amazonaws.com/yunshi/trainer:0.1.0",
      "--agent-image",
      "123456789012.dkr.ecr.us-west-2.amazonaws.com/yunshi/checkpoint-agent:0.1.0",
    );
    expect(dry.code, dry.err).toBe(0);
    const rendered = parseAllDocuments(dry.out).map(
      (d) => d.toJS() as { kind: string; spec?: unknown; data?: unknown },
    );
    expect((await cli("submit", spec)).code).toBe(0);
    expect(job()?.spec).toEqual(rendered.find((o) => o.kind === "Job")?.spec);
    expect(c.fake.get("v1", "Service", NS, NAME)?.spec).toEqual(
      rendered.find((o) => o.kind === "Service")?.spec,
    );
    expect(c.fake.get("v1", "ConfigMap", NS, `${NAME}-config`)?.data).toEqual(
      rendered.find((o) => o.kind === "ConfigMap")?.data,
    );
  });

  test("re-submitting an unchanged spec is a no-op that says so", async () => {
    const spec = writeSpec(c.dir);
    expect((await cli("submit", spec)).code).toBe(0);
    const rv = job()?.metadata;
    const before = mutations().length;
    const r = await cli("submit", spec);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^unchanged: experiment cn-traffic-frcnn in namespace vision already runs this spec \(Starting\); nothing was sent/,
    );
    expect(mutations().length).toBe(before);
    expect(job()?.metadata).toEqual(rv);
  });

  test("a changed spec for a running experiment is refused with how to proceed; nothing changes", async () => {
    const spec = writeSpec(c.dir);
    expect((await cli("submit", spec)).code).toBe(0);
    const [pod] = simulate.createPods(c.fake, NS, NAME);
    simulate.podTraining(c.fake, NS, pod as string);
    const before = structuredClone(job());
    const changed = writeSpec(c.dir, (s) => {
      (s.train as Record<string, unknown>).epochs = 24;
    });
    const r = await cli("submit", changed);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      "experiment cn-traffic-frcnn is Training in namespace vision with a different spec",
    );
    expect(r.err).toContain(`yunshi cancel ${NAME} -n ${NS}`);
    expect(r.err).toContain("new name");
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace without --debug
    expect(job()).toEqual(before);
  });

  test("a finished experiment is resubmitted and resumes from its checkpoints (same prefix)", async () => {
    const spec = writeSpec(c.dir);
    expect((await cli("submit", spec)).code).toBe(0);
    const firstUid = job()?.metadata && (job()?.metadata as { uid: string }).uid;
    const [pod] = simulate.createPods(c.fake, NS, NAME);
    simulate.podTraining(c.fake, NS, pod as string);
    simulate.podFailed(c.fake, NS, pod as string, 1);
    simulate.workloadFailed(
      c.fake,
      NS,
      NAME,
      "DeadlineExceeded",
      "Job was active longer than specified deadline",
    );
    const changed = writeSpec(c.dir, (s) => {
      s.maxRuntime = "48h";
    });
    const r = await cli("submit", changed);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(
      "resubmitted experiment cn-traffic-frcnn to namespace vision (the previous run failed: ran longer than maxRuntime",
    );
    expect(r.out).toContain("resumes from the last checkpoint");
    const second = job();
    expect((second?.metadata as { uid: string }).uid).not.toBe(firstUid);
    expect((second?.spec as { activeDeadlineSeconds: number }).activeDeadlineSeconds).toBe(
      48 * 3600,
    );
    // The old run's pods went with it (foreground deletion); the new run restores from the same URI.
    expect(c.fake.get("v1", "Pod", NS, pod as string)).toBeUndefined();
    expect(JSON.stringify(second)).toContain("s3://acme-training/vision/cn-traffic-frcnn/");
    const deletes = c.fake.requests.filter((q) => q.method === "DELETE");
    expect(deletes.map((d) => d.query.get("propagationPolicy"))).toEqual(["Foreground"]);
  });

  test("resubmitting a finished one-node run as several nodes replaces the Job by a JobSet", async () => {
    expect((await cli("submit", writeSpec(c.dir))).code).toBe(0);
    simulate.workloadSucceeded(c.fake, NS, NAME);
    const multi = writeSpec(c.dir, (s) => (s.name = NAME), "multinode-2x8-faster-rcnn.yaml");
    const r = await cli("submit", multi);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`JobSet/${NAME}: 2 node(s) × 8 GPU`);
    expect(job()).toBeUndefined();
    expect(c.fake.get("jobset.x-k8s.io/v1alpha2", "JobSet", NS, NAME)).toBeDefined();
    // JobSet creates its own headless Service: the old one must not block it.
    expect(c.fake.get("v1", "Service", NS, NAME)).toBeUndefined();
  });

  test("--fresh never deletes checkpoints: refused while a previous run exists, with the way forward", async () => {
    const spec = writeSpec(c.dir);
    expect((await cli("submit", spec)).code).toBe(0);
    simulate.workloadSucceeded(c.fake, NS, NAME);
    const before = mutations().length;
    const r = await cli("submit", spec, "--fresh");
    expect(r.code).toBe(1);
    expect(r.err).toContain("yunshi never deletes checkpoints");
    expect(r.err).toContain(
      "aws s3 rm --recursive s3://acme-training/vision/cn-traffic-frcnn/checkpoints/",
    );
    expect(mutations().length).toBe(before);
  });

  test("--wait exits 0 when the run succeeds and 1 when it fails", async () => {
    const spec = writeSpec(c.dir);
    const ok = cli("submit", spec, "--wait");
    await until(() => job() !== undefined);
    simulate.workloadSucceeded(c.fake, NS, NAME);
    const r = await ok;
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`${NAME}: Succeeded`);

    const other = writeSpec(c.dir, (s) => (s.name = "oom-run"));
    const failing = cli("submit", other, "--wait");
    await until(() => c.fake.get("batch/v1", "Job", NS, "oom-run") !== undefined);
    const [pod] = simulate.createPods(c.fake, NS, "oom-run");
    simulate.podTraining(c.fake, NS, pod as string);
    simulate.podFailed(c.fake, NS, pod as string, 5);
    simulate.workloadFailed(
      c.fake,
      NS,
      "oom-run",
      "PodFailurePolicy",
      "Container trainer for pod vision/x failed with exit code 5 matching FailJob rule at index 1",
    );
    const f = await failing;
    expect(f.code).toBe(1);
    expect(f.err).toContain("CUDA out of memory (exit 5): lower train.batchPerGpu");
  });

  test("an invalid spec exits 2 and sends nothing", async () => {
    const spec = writeSpec(c.dir, (s) => ((s.train as Record<string, unknown>).epochs = -1));
    const r = await cli("submit", spec);
    expect(r.code).toBe(2);
    expect(c.fake.requests).toHaveLength(0);
  });

  test("platform flags are only for --dry-run (exit 2)", async () => {
    const r = await cli("submit", writeSpec(c.dir), "--bucket", "x-bucket");
    expect(r.code).toBe(2);
    expect(r.err).toContain("--bucket: only with --dry-run");
  });
});

describe("submit: cluster errors become actionable messages (exit 1)", () => {
  test("platform not installed in the namespace: not a team namespace, and how to pick one", async () => {
    c.fake.remove("v1", "ConfigMap", NS, "yunshi-platform");
    const r = await cli("submit", writeSpec(c.dir));
    expect(r.code).toBe(1);
    expect(r.err).toContain("namespace vision (from the spec)\n");
    expect(r.err).toContain(
      "namespace vision is not a team namespace: there is no ConfigMap yunshi-platform",
    );
    expect(r.err).toContain("kubectl config set-context --current --namespace <team>");
    expect(r.err).toContain("pulumi up");
  });

  test("namespace missing", async () => {
    const r = await cli(
      "submit",
      writeSpec(c.dir, (s) => (s.namespace = "nope")),
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain("Namespace nope does not exist");
  });

  test("JobSet CRD missing for a multi-node experiment: run pulumi up (chart)", async () => {
    c.fake.crds.jobset = false;
    const r = await cli(
      "submit",
      writeSpec(c.dir, () => {}, "multinode-2x8-faster-rcnn.yaml"),
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain("JobSet is not installed in this cluster");
    expect(r.err).toContain("oci://registry.k8s.io/jobset/charts/jobset");
    expect(mutations()).toHaveLength(0);
  });

  test("Kueue CRDs missing: run pulumi up (chart)", async () => {
    c.fake.crds.kueue = false;
    const r = await cli("submit", writeSpec(c.dir));
    expect(r.code).toBe(1);
    expect(r.err).toContain("Kueue is not installed in this cluster");
    expect(r.err).toContain("oci://registry.k8s.io/kueue/charts/kueue");
    expect(mutations()).toHaveLength(0);
  });

  test("a queue that does not exist names the ones that do", async () => {
    const r = await cli(
      "submit",
      writeSpec(c.dir, (s) => (s.queue = "gpu-h100")),
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain("Kueue LocalQueue gpu-h100 does not exist in namespace vision");
    expect(r.err).toContain("one of: default, team-gpu");
  });

  test("forbidden: names the verb and the resource; nothing half-applied", async () => {
    c.fake.forbid.push({ verb: "patch", resource: "jobs.batch" });
    const r = await cli("submit", writeSpec(c.dir));
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      "Forbidden: you may not apply Job cn-traffic-frcnn in namespace vision",
    );
    expect(r.err).toContain(`cannot patch resource "jobs" in API group "batch"`);
    expect(r.err).toContain(`"patch" on "jobs.batch"`);
    expect(mutations()).toHaveLength(0);
  });

  test("quota exceeded", async () => {
    c.fake.upsert({
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "team-jobs", namespace: NS },
      spec: { hard: { "count/jobs.batch": "0" } },
    });
    const r = await cli("submit", writeSpec(c.dir));
    expect(r.code).toBe(1);
    expect(r.err).toContain("Quota exceeded in namespace vision");
    expect(r.err).toContain("exceeded quota: team-jobs");
    expect(mutations()).toHaveLength(0);
  });

  test("unauthorized (expired token)", async () => {
    c.fake.token = "rotated";
    const r = await cli("submit", writeSpec(c.dir));
    expect(r.code).toBe(1);
    expect(r.err).toContain("rejected your credentials (401 Unauthorized) (context fake)");
  });

  test("unreachable API server", async () => {
    await c.fake.close();
    const r = await cli("submit", writeSpec(c.dir));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /Cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:\d+ \(context fake\): ECONNREFUSED/,
    );
  });

  test("no kubeconfig", async () => {
    process.env.KUBECONFIG = `${c.dir}/does-not-exist`;
    const r = await cli("submit", writeSpec(c.dir));
    expect(r.code).toBe(1);
    expect(r.err).toContain("No kubeconfig");
    expect(r.err).toContain("aws eks update-kubeconfig");
  });

  test("unknown --context lists the available ones", async () => {
    const r = await cli("submit", writeSpec(c.dir), "--context", "prod");
    expect(r.code).toBe(1);
    expect(r.err).toContain(`No context "prod" in your kubeconfig. Available: fake, other.`);
  });

  test("--debug adds the stack trace", async () => {
    c.fake.remove("v1", "ConfigMap", NS, "yunshi-platform");
    const r = await cli("submit", writeSpec(c.dir), "--debug");
    expect(r.err).toMatch(/\n\s+at /);
  });
});
