import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { simulate } from "../fake-kube-api/index.ts";
import { saveManifest } from "../../images/checkpoint-agent/src/manifest-io.ts";
import { resolveS3Config } from "../../images/checkpoint-agent/src/s3-config.ts";
import { createS3Store } from "../../images/checkpoint-agent/src/s3-store.ts";
import { cli, NS, startCluster, startS3, until, writeSpec } from "./harness.ts";
import type { Cluster } from "./harness.ts";

let c: Cluster;
beforeEach(async () => {
  c = await startCluster();
});
afterEach(async () => {
  await c.close();
});

const NAME = "cn-traffic-frcnn";
const MULTI = "cn-traffic-frcnn-2x8";

async function submitted(name = NAME, example = "cn-traffic-faster-rcnn.yaml"): Promise<void> {
  const r = await cli(
    "submit",
    writeSpec(c.dir, (s) => (s.name = name), example),
  );
  expect(r.code, r.err).toBe(0);
}

describe("status", () => {
  test("a table of experiments: phase, nodes × GPUs, age, restarts, last checkpoint", async () => {
    await submitted();
    await submitted("queued-one");
    await submitted(MULTI, "multinode-2x8-faster-rcnn.yaml");
    simulate.kueuePending(c.fake, NS, "queued-one");
    const [pod] = simulate.createPods(c.fake, NS, NAME);
    simulate.podTraining(c.fake, NS, pod as string);
    c.fake.writeLog(
      NS,
      pod as string,
      "snapshot",
      "uploading epoch_3.pth\ncommitted epoch_3.pth (171 bytes, sha256 0f3c…)\n",
    );
    for (const p of simulate.createPods(c.fake, NS, MULTI)) simulate.podRestoring(c.fake, NS, p);

    const r = await cli("status");
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toMatch(
      /^NAME\s+PHASE\s+NODES×GPUS\s+AGE\s+RESTARTS\s+LAST CHECKPOINT\s+REASON$/,
    );
    const row = (n: string) => lines.find((l) => l.startsWith(n + " "));
    expect(row(NAME)).toMatch(
      /^cn-traffic-frcnn\s+Training\s+1×1\s+\d+s\s+0\s+epoch_3\.pth \(epoch 3\)/,
    );
    expect(row("queued-one")).toMatch(
      /Queued #1\s+1×1 .*insufficient unused quota for nvidia\.com\/gpu/,
    );
    expect(row(MULTI)).toMatch(/Restoring\s+2×8 .*restoring the last checkpoint/);
  });

  test("the last checkpoint comes from the S3 manifest when credentials allow", async () => {
    const s3 = await startS3("acme-training");
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_REGION: "us-east-1",
      YUNSHI_S3_FORCE_PATH_STYLE: "true",
      AWS_EC2_METADATA_DISABLED: "true",
    });
    delete process.env.AWS_CA_BUNDLE; // plain-http local server
    try {
      await submitted();
      const store = createS3Store({
        bucket: "acme-training",
        config: resolveS3Config(process.env),
        maxSockets: 2,
        log: () => {},
      });
      const entry = {
        file: "epoch_7.pth",
        key: "checkpoints/epoch_7.pth",
        relPath: "epoch_7.pth",
        path: "/yunshi/work/epoch_7.pth",
        bytes: 1024,
        sha256: "a".repeat(64),
        epoch: 7,
        time: "2026-11-28T09:40:00Z",
      };
      await saveManifest(store, "vision/cn-traffic-frcnn/", {
        version: 1,
        latest: entry,
        history: [entry],
        best: null,
        updated: entry.time,
      });
      const j = await cli("status", NAME, "-o", "json");
      expect(j.code, j.err).toBe(0);
      expect((JSON.parse(j.out) as { lastCheckpoint: unknown }).lastCheckpoint).toEqual({
        file: "epoch_7.pth",
        epoch: 7,
        time: "2026-11-28T09:40:00Z",
        source: "S3 manifest",
      });
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      await s3.close();
    }
  });

  test("--output json for scripts, and one experiment in detail", async () => {
    await submitted();
    const [pod] = simulate.createPods(c.fake, NS, NAME);
    simulate.podTraining(c.fake, NS, pod as string);
    simulate.podDisrupted(c.fake, NS, pod as string);
    const j = await cli("status", "-o", "json");
    const data = JSON.parse(j.out) as {
      name: string;
      phase: string;
      reason: string;
      restarts: number;
      checkpointUri: string;
    }[];
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({
      name: NAME,
      phase: "Interrupted",
      restarts: 0,
      checkpointUri: "s3://acme-training/vision/cn-traffic-frcnn/",
    });
    expect(data[0]?.reason).toContain("its node is going away (spot interruption or node drain)");

    simulate.podTerminatedAfterDisruption(c.fake, NS, pod as string);
    const [next] = simulate.createPods(c.fake, NS, NAME);
    const d = await cli("status", NAME);
    expect(d.code).toBe(0);
    expect(d.out).toMatch(/^experiment {3}cn-traffic-frcnn$/m);
    expect(d.out).toMatch(/^phase {8}Restarting — after: .* was interrupted/m);
    expect(d.out).toMatch(/^queue {8}default$/m);
    // The preemption is a restart that used no retry.
    expect(d.out).toMatch(
      /^restarts {5}1 \(0 of 10 retries used: failures use them, preemptions do not\)$/m,
    );
    expect(d.out).toContain(`${next as string}  rank 0  Pending`);
    expect(d.out).toContain(`${pod as string}  rank 0  Failed`);

    const y = await cli("status", NAME, "-o", "yaml");
    expect(y.out).toMatch(/^name: cn-traffic-frcnn$/m);
  });

  test("unknown experiment exits 1; a bad --output exits 2", async () => {
    const r = await cli("status", "nope");
    expect(r.code).toBe(1);
    expect(r.err).toContain("no experiment nope in namespace vision");
    expect((await cli("status", "-o", "xml")).code).toBe(2);
  });

  test("forbidden list names the verb and resource", async () => {
    c.fake.forbid.push({ verb: "list", resource: "pods", namespace: NS });
    await submitted();
    const r = await cli("status");
    expect(r.code).toBe(1);
    expect(r.err).toContain("Forbidden: you may not list Pods in namespace vision");
    expect(r.err).toContain(`"list" on "pods" in namespace vision`);
  });
});

describe("logs", () => {
  test("prints rank 0's trainer log", async () => {
    await submitted();
    const [pod] = simulate.createPods(c.fake, NS, NAME);
    simulate.podTraining(c.fake, NS, pod as string);
    c.fake.writeLog(NS, pod as string, "trainer", "Epoch(train) [1][5/50] lr: 1e-3 loss: 1.93\n");
    const r = await cli("logs", NAME);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe("Epoch(train) [1][5/50] lr: 1e-3 loss: 1.93\n");
  });

  test("--follow survives a pod restart and ends when the run finishes", async () => {
    await submitted();
    const [first] = simulate.createPods(c.fake, NS, NAME);
    simulate.podTraining(c.fake, NS, first as string);
    c.fake.writeLog(NS, first as string, "trainer", "epoch 1 line\n");
    const out: Promise<{ code: number; out: string; err: string }> = cli("logs", NAME, "--follow");
    await until(() =>
      c.fake.requests.some(
        (q) => q.path.endsWith(`${first as string}/log`) && q.query.get("follow") === "true",
      ),
    );
    c.fake.writeLog(NS, first as string, "trainer", "epoch 2 line\n");
    // Spot reclaim: the pod is disrupted and replaced; the log continues from the new pod.
    simulate.podDisrupted(c.fake, NS, first as string);
    simulate.podTerminatedAfterDisruption(c.fake, NS, first as string);
    const [second] = simulate.createPods(c.fake, NS, NAME);
    simulate.podRestoring(c.fake, NS, second as string);
    await new Promise((r) => setTimeout(r, 60));
    simulate.podTraining(c.fake, NS, second as string);
    c.fake.writeLog(NS, second as string, "trainer", "resumed from epoch_2.pth\nepoch 3 line\n");
    await until(() => c.fake.requests.some((q) => q.path.endsWith(`${second as string}/log`)));
    await new Promise((r) => setTimeout(r, 50));
    simulate.workloadSucceeded(c.fake, NS, NAME);
    const r = await out;
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe("epoch 1 line\nepoch 2 line\nresumed from epoch_2.pth\nepoch 3 line\n");
    expect(r.err).toContain(`following replacement pod ${second as string}`);
  });

  test("--all-ranks prefixes each line with its rank", async () => {
    await submitted(MULTI, "multinode-2x8-faster-rcnn.yaml");
    const pods = simulate.createPods(c.fake, NS, MULTI);
    pods.forEach((p, i) => {
      simulate.podTraining(c.fake, NS, p);
      c.fake.writeLog(NS, p, "trainer", `hello from node ${i}\n`);
    });
    const r = await cli("logs", MULTI, "--all-ranks");
    expect(r.code, r.err).toBe(0);
    expect(r.out.split("\n").filter(Boolean).sort()).toEqual([
      "[rank 0] hello from node 0",
      "[rank 1] hello from node 1",
    ]);
    const one = await cli("logs", MULTI, "--rank", "1");
    expect(one.out).toBe("hello from node 1\n");
    const bad = await cli("logs", MULTI, "--rank", "2");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("rank 2 does not exist: cn-traffic-frcnn-2x8 has 2 nodes");
  });

  test("no log yet says why; bad flags exit 2", async () => {
    await submitted();
    simulate.kueuePending(c.fake, NS, NAME);
    const r = await cli("logs", NAME);
    expect(r.code).toBe(1);
    expect(r.err).toContain("no trainer log for rank 0 of cn-traffic-frcnn yet (Queued:");
    expect((await cli("logs", NAME, "--since", "ten minutes")).code).toBe(2);
    expect((await cli("logs", NAME, "--container", "sidecar")).code).toBe(2);
  });
});

describe("cancel", () => {
  test("deletes the run in the foreground, keeps checkpoints and says where they are", async () => {
    await submitted();
    const [pod] = simulate.createPods(c.fake, NS, NAME);
    simulate.podTraining(c.fake, NS, pod as string);
    const r = await cli("cancel", NAME);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(
      `cancelled ${NAME} in namespace vision: deleted Job/${NAME} and its pods`,
    );
    expect(r.out).toContain(
      "checkpoints are kept: s3://acme-training/vision/cn-traffic-frcnn/checkpoints/",
    );
    const del = c.fake.requests.find(
      (q) => q.method === "DELETE" && q.path.endsWith(`/jobs/${NAME}`),
    );
    expect(del?.query.get("propagationPolicy")).toBe("Foreground");
    expect(c.fake.get("batch/v1", "Job", NS, NAME)).toBeUndefined();
    expect(c.fake.get("v1", "Pod", NS, pod as string)).toBeUndefined();
    expect(c.fake.get("v1", "Service", NS, NAME)).toBeUndefined();
    expect(c.fake.get("v1", "ConfigMap", NS, `${NAME}-config`)).toBeUndefined();
    expect((await cli("status")).out).toBe("no experiments in namespace vision\n");
  });

  test("cancel of an unknown experiment exits 1", async () => {
    const r = await cli("cancel", "ghost");
    expect(r.code).toBe(1);
    expect(r.err).toContain("no experiment ghost in namespace vision");
  });

  test("forbidden delete names the verb", async () => {
    await submitted();
    c.fake.forbid.push({ verb: "delete", resource: "jobs.batch" });
    const r = await cli("cancel", NAME);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`Forbidden: you may not delete Job ${NAME} in namespace vision`);
  });
});
