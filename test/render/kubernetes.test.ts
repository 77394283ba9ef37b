import { readdirSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { Job } from "kubernetes-models/batch/v1/Job";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodTemplateSpec } from "kubernetes-models/v1/PodTemplateSpec";
import { describe, expect, it } from "vitest";
import { checkPodSpec } from "../../policies/job-rules.ts";
import { FAILURE_POLICY_RULE_NAME, type JobSet } from "../../jobs/render/jobset-types.ts";
import { loadExperimentFile, parseExperiment } from "../../jobs/spec/load-experiment.ts";
import { defaultPlatformContext } from "../../jobs/platform.ts";
import {
  AgentCommand,
  ContainerNames,
  doNotRetryExitCodes,
  LauncherEnv,
  PodPaths,
  PrepareFailureExit,
} from "../../jobs/pod-contract.ts";
import {
  durationSeconds,
  podTemplatesOf,
  renderKubernetesObjects,
  type KubeObject,
} from "../../jobs/render/kubernetes.ts";
import { toYamlDocuments } from "../../jobs/render/serialize.ts";
import { expandLikeKubelet } from "../../jobs/render/kubernetes-expansion.ts";
import { patched, specYaml } from "../spec-fixtures.ts";

const examples = readdirSync("examples").filter((f) => f.endsWith(".yaml"));
const platform = { ...defaultPlatformContext, namespace: "team-a" };

async function renderExample(file: string): Promise<KubeObject[]> {
  const loaded = await loadExperimentFile(`examples/${file}`);
  return renderKubernetesObjects({
    experiment: loaded.experiment,
    platform,
    specHash: loaded.specHash,
    version: "0.1.0",
  });
}

function renderPatch(patch: Record<string, unknown>): KubeObject[] {
  const loaded = parseExperiment(specYaml(patched(patch)));
  return renderKubernetesObjects({
    experiment: loaded.experiment,
    platform,
    specHash: loaded.specHash,
    version: "0.1.0",
  });
}

/** Validates against the Kubernetes OpenAPI schema (kubernetes-models); throws on error. */
function validateAgainstOpenApi(o: KubeObject): void {
  switch (o.kind) {
    case "ConfigMap":
      new ConfigMap(o).validate();
      return;
    case "Service":
      new Service(o).validate();
      return;
    case "Job":
      new Job(o).validate();
      return;
    case "JobSet": {
      // The CRD's own fields are checked below; its Job template is a core batch/v1 JobSpec.
      const js = o;
      for (const rj of js.spec.replicatedJobs) {
        new Job({
          metadata: { name: `${js.metadata.name ?? ""}-${rj.name}` },
          spec: rj.template.spec,
        }).validate();
      }
      return;
    }
    default:
      throw new Error(`unexpected kind ${String((o as { kind?: string }).kind)}`);
  }
}

const templates = (objects: KubeObject[]): IPodTemplateSpec[] =>
  objects.flatMap((o) => podTemplatesOf(o).map(([, t]) => t));
const trainerOf = (t: IPodTemplateSpec): IContainer => {
  const c = t.spec?.containers.find((x) => x.name === ContainerNames.trainer);
  if (c === undefined) throw new Error("no trainer container");
  return c;
};
const envOf = (c: IContainer): Record<string, string | undefined> =>
  Object.fromEntries(
    (c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]),
  );

describe.each(examples)("example %s", (file) => {
  it("renders objects that validate against the Kubernetes OpenAPI schema", async () => {
    const objects = await renderExample(file);
    expect(objects.length).toBeGreaterThanOrEqual(2);
    for (const o of objects) expect(() => validateAgainstOpenApi(o)).not.toThrow();
  });

  it("matches its golden manifest (UPDATE_GOLDEN=1 rewrites it)", async () => {
    const text = toYamlDocuments(await renderExample(file));
    const golden = `test/golden/${file}`;
    if (process.env.UPDATE_GOLDEN === "1") await writeFile(golden, text);
    expect(text).toBe(await readFile(golden, "utf8"));
  });

  it("keeps the job rules", async () => {
    for (const o of await renderExample(file)) {
      for (const [where, t] of podTemplatesOf(o)) expect(checkPodSpec(t.spec!, where)).toEqual([]);
    }
  });
});

describe("single node: an Indexed Job and a headless Service", () => {
  const objects = renderPatch({
    resources: { gpusPerNode: 2, gpu: { minMemoryGiB: 24 } },
    retries: 7,
    maxRuntime: "1h30m",
  });
  const job = objects.find((o) => o.kind === "Job") as IJob;
  const template = job.spec!.template;
  const pod = template.spec!;

  it("is Indexed with one completion, restartPolicy Never and stable hostnames", () => {
    expect(objects.map((o) => o.kind)).toEqual(["ConfigMap", "Service", "Job"]);
    expect(job.spec).toMatchObject({
      completionMode: "Indexed",
      completions: 1,
      parallelism: 1,
      backoffLimit: 7,
    });
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.subdomain).toBe("unit-test");
    const svc = objects.find((o) => o.kind === "Service") as unknown as {
      spec: Record<string, unknown>;
    };
    expect(svc.spec).toMatchObject({
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: { "yunshi.dev/experiment": "unit-test" },
    });
  });

  it("ignores preemptions and fails at once on errors a retry cannot fix", () => {
    const rules = job.spec!.podFailurePolicy!.rules;
    expect(rules[0]).toEqual({
      action: "Ignore",
      onPodConditions: [{ type: "DisruptionTarget", status: "True" }],
    });
    expect(rules).toContainEqual({
      action: "FailJob",
      onExitCodes: { containerName: "trainer", operator: "In", values: [...doNotRetryExitCodes] },
    });
    expect(job.spec!.podReplacementPolicy).toBe("Failed");
    expect(job.spec!.activeDeadlineSeconds).toBe(5400);
    expect(job.spec!.ttlSecondsAfterFinished).toBeGreaterThan(0);
  });

  it("asks Kueue for the queue and does not set suspend itself", () => {
    expect(job.metadata!.labels!["kueue.x-k8s.io/queue-name"]).toBe("default");
    expect(job.spec!.suspend).toBeUndefined();
    expect(job.metadata!.annotations!["yunshi.dev/spec-hash"]).toMatch(/^[0-9a-f]{64}$/);
  });

  it("requests GPUs, CPU, memory and a memory-backed /dev/shm; tolerates the GPU taint", () => {
    const trainer = trainerOf(template);
    expect(trainer.resources!.limits!["nvidia.com/gpu"]).toBe("2");
    expect(trainer.resources!.requests!.cpu).toBe("6");
    expect(trainer.resources!.requests!.memory).toBe("24576Mi");
    expect(pod.volumes!.find((v) => v.name === "shm")!.emptyDir).toMatchObject({
      medium: "Memory",
    });
    expect(trainer.volumeMounts!.find((m) => m.name === "shm")!.mountPath).toBe("/dev/shm");
    expect(pod.tolerations).toEqual([
      { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
    ]);
    const reqs =
      pod.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!
        .nodeSelectorTerms[0]!.matchExpressions;
    expect(reqs).toContainEqual({
      key: "karpenter.sh/capacity-type",
      operator: "In",
      values: ["spot"],
    });
    // minMemoryGiB 24 admits A10G/L4, which EC2 reports as 22888 MiB (not 24 × 1024).
    expect(reqs).toContainEqual({
      key: "karpenter.k8s.aws/instance-gpu-memory",
      operator: "Gt",
      values: ["22887"],
    });
    // Karpenter must not drain the node for drift or consolidation while it trains.
    expect(template.metadata!.annotations!["karpenter.sh/do-not-disrupt"]).toBe("true");
    expect(pod.terminationGracePeriodSeconds).toBeLessThan(120);
  });

  it("gives torchrun its contract from the completion index", () => {
    const env = envOf(trainerOf(template));
    expect(env[LauncherEnv.nnodes]).toBe("1");
    expect(env[LauncherEnv.nprocPerNode]).toBe("2");
    expect(env[LauncherEnv.nodeRank]).toBe(
      "metadata.annotations['batch.kubernetes.io/job-completion-index']",
    );
    expect(env[LauncherEnv.masterAddr]).toBe("unit-test-0.unit-test");
    expect(env[LauncherEnv.masterPort]).toBe("29500");
    expect(env[LauncherEnv.config]).toBe(PodPaths.configFile);
    expect(Number(env[LauncherEnv.graceSeconds])).toBeLessThan(pod.terminationGracePeriodSeconds!);
  });

  it("wires the checkpoint protocol: prepare and snapshot as native sidecars beside the trainer", () => {
    const init = pod.initContainers!;
    expect(init.map((c) => c.name)).toEqual(["prepare", "snapshot"]);
    const uri = "s3://yunshi-checkpoints/team-a/unit-test/";
    expect(init[0]!.args).toEqual(
      AgentCommand.prepare({
        dataset: { uri: "s3://bucket/datasets/x/", dest: PodPaths.dataDir },
        restore: { uri, workDir: PodPaths.workDir },
        verdict: PodPaths.prepareVerdict,
      }),
    );
    // The snapshot sidecar watches the work dir only once restore is over.
    expect(init[1]!.args).toEqual([
      ...AgentCommand.snapshot(PodPaths.workDir, uri, 3),
      "--after",
      PodPaths.prepareVerdict,
    ]);
    // Both sidecars: the trainer starts at once (imports, model build) and the pod is Ready
    // for Kueue's waitForPodsReady while the dataset still downloads.
    expect(init.map((c) => c.restartPolicy)).toEqual(["Always", "Always"]);
    // No probe on any container: a probe would hold the pod's Ready condition back.
    for (const c of [...init, ...pod.containers])
      expect([c.readinessProbe, c.startupProbe], c.name).toEqual([undefined, undefined]);
    const trainer = trainerOf(template);
    expect(trainer.env).toContainEqual({
      name: LauncherEnv.prepareVerdict,
      value: PodPaths.prepareVerdict,
    });
    for (const c of [init[0]!, init[1]!, trainer]) {
      expect(c.volumeMounts!.find((m) => m.name === "work")!.mountPath).toBe(PodPaths.workDir);
      expect(c.volumeMounts!.find((m) => m.name === "status")!.mountPath).toBe(PodPaths.statusDir);
    }
    // Only prepare writes the verdict.
    expect(
      [init[0]!, init[1]!, trainer].map(
        (c) => c.volumeMounts!.find((m) => m.name === "status")!.readOnly === true,
      ),
    ).toEqual([false, true, true]);
  });

  it("is hardened: non-root, no escalation, no capabilities, read-only root, argv only", () => {
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    for (const c of [...pod.initContainers!, ...pod.containers]) {
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
      });
      expect(["sh", "bash", "/bin/sh"]).not.toContain(c.command?.[0]);
    }
  });
});

describe("several nodes: a JobSet that restarts the group", () => {
  const objects = renderPatch({
    resources: { nodes: 3, gpusPerNode: 8, gpu: { instanceTypes: ["p4d.24xlarge"] }, spot: false },
    retries: 4,
  });
  const js = objects.find((o) => o.kind === "JobSet") as JobSet;

  it("has one replicated Indexed Job of the same pod template, and no own Service", () => {
    expect(objects.map((o) => o.kind)).toEqual(["ConfigMap", "JobSet"]);
    expect(js.spec.replicatedJobs).toHaveLength(1);
    const rj = js.spec.replicatedJobs[0]!;
    expect(rj.replicas).toBe(1);
    expect(rj.template.spec).toMatchObject({
      completionMode: "Indexed",
      completions: 3,
      parallelism: 3,
      backoffLimit: 0,
    });
    expect(js.spec.network).toEqual({
      enableDNSHostnames: true,
      subdomain: "unit-test",
      publishNotReadyAddresses: true,
    });
    expect(js.metadata.labels!["kueue.x-k8s.io/queue-name"]).toBe("default");
  });

  it("restarts the whole group up to retries, except errors a retry cannot fix", () => {
    expect(js.spec.failurePolicy).toMatchObject({ maxRestarts: 4, restartStrategy: "Recreate" });
    for (const rule of js.spec.failurePolicy!.rules!)
      expect(rule.name).toMatch(FAILURE_POLICY_RULE_NAME);
    expect(js.spec.failurePolicy!.rules).toContainEqual(
      expect.objectContaining({ action: "FailJobSet", onJobFailureReasons: ["PodFailurePolicy"] }),
    );
  });

  it("ends the run at maxRuntime: a child Job's DeadlineExceeded fails the JobSet (no fresh deadline)", () => {
    const rules = js.spec.failurePolicy!.rules!;
    const deadline = rules.findIndex((r) => r.onJobFailureReasons?.includes("DeadlineExceeded"));
    expect(rules[deadline]).toMatchObject({ action: "FailJobSet" });
    expect(js.spec.replicatedJobs[0]!.template.spec.activeDeadlineSeconds).toBeGreaterThan(0);
  });

  it("restarts the group after a preemption without using up retries (JobSet v0.12 rules)", () => {
    const rules = js.spec.failurePolicy!.rules!;
    const child = js.spec.replicatedJobs[0]!.template.spec.podFailurePolicy!.rules;
    // The child Job fails through a DisruptionTarget rule, whose message the JobSet rule matches.
    const i = child.findIndex((r) => r.onPodConditions?.some((c) => c.type === "DisruptionTarget"));
    expect(child[i]).toMatchObject({ action: "FailJob" });
    const jobControllerMessage = `Pod vision/unit-test-node-0-1-abcde has condition DisruptionTarget matching FailJob rule at index ${i}`;
    const first = rules.find(
      (r) =>
        (r.onJobFailureReasons ?? ["PodFailurePolicy"]).includes("PodFailurePolicy") &&
        (r.onJobFailureMessagePatterns ?? [".*"]).some((p) =>
          new RegExp(p).test(jobControllerMessage),
        ),
    );
    expect(first).toMatchObject({ action: "RestartJobSetAndIgnoreMaxRestarts" });
    // An exit code from the do-not-retry set still fails the set at once.
    const exitMessage =
      "Container trainer for pod vision/x failed with exit code 3 matching FailJob rule at index 1";
    const forExit = rules.find(
      (r) =>
        (r.onJobFailureReasons ?? ["PodFailurePolicy"]).includes("PodFailurePolicy") &&
        (r.onJobFailureMessagePatterns ?? [".*"]).some((p) => new RegExp(p).test(exitMessage)),
    );
    expect(forExit).toMatchObject({ action: "FailJobSet" });
  });

  it("points every node at the index-0 pod of the JobSet", () => {
    const t = js.spec.replicatedJobs[0]!.template.spec.template;
    const env = envOf(trainerOf(t));
    expect(env[LauncherEnv.masterAddr]).toBe("unit-test-node-0-0.unit-test");
    expect(env[LauncherEnv.nnodes]).toBe("3");
    expect(env[LauncherEnv.nprocPerNode]).toBe("8");
    const reqs =
      t.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!
        .nodeSelectorTerms[0]!.matchExpressions;
    expect(reqs).toContainEqual({
      key: "node.kubernetes.io/instance-type",
      operator: "In",
      values: ["p4d.24xlarge"],
    });
    expect(reqs).toContainEqual({
      key: "karpenter.sh/capacity-type",
      operator: "In",
      values: ["on-demand"],
    });
    expect(t.spec!.terminationGracePeriodSeconds).toBeGreaterThan(120);
  });
});

describe("variants", () => {
  it("fetches s3:// pretrained weights in the prepare sidecar", () => {
    const [t] = templates(renderPatch({ model: { pretrained: "s3://bucket/w/model.pth" } }));
    const prepare = t!.spec!.initContainers!.find((c) => c.name === "prepare")!;
    const args = prepare.args!;
    expect(
      args.slice(args.indexOf("--pretrained-uri"), args.indexOf("--pretrained-uri") + 4),
    ).toEqual([
      "--pretrained-uri",
      "s3://bucket/w/model.pth",
      "--pretrained-dir",
      PodPaths.pretrainedDir,
    ]);
    expect(prepare.volumeMounts!.map((m) => m.name)).toContain("pretrained");
    const [plain] = templates(renderPatch({}));
    expect(plain!.spec!.initContainers![0]!.args).not.toContain("--pretrained-uri");
  });

  it("fails the Job at once when a prepare step meets input a retry cannot fix", () => {
    const rules = (objects: ReturnType<typeof renderPatch>) =>
      objects
        .filter((o) => o.kind === "Job")
        .flatMap((o) => o.spec!.podFailurePolicy!.rules)
        .filter((r) => r.action === "FailJob" && r.onExitCodes !== undefined);
    // A failed step reaches the pod as the trainer's exit code (the sidecar's exit does not
    // fail a pod): every step's code is in the trainer's do-not-retry rule.
    for (const objects of [
      renderPatch({}),
      renderPatch({ model: { pretrained: "s3://bucket/w/model.pth" } }),
    ]) {
      const failJob = rules(objects);
      expect(failJob.map((r) => r.onExitCodes!.containerName)).toEqual(["trainer"]);
      for (const code of Object.values(PrepareFailureExit))
        expect(failJob[0]!.onExitCodes!.values).toContain(code);
    }
    // The agent's reason (e.g. a corrupt manifest) reaches the pod status.
    const [t] = templates(renderPatch({}));
    for (const c of t!.spec!.initContainers!) {
      expect(c.terminationMessagePolicy, c.name).toBe("FallbackToLogsOnError");
    }
  });

  it("CPU-only runs have no GPU limit or toleration", () => {
    const [t] = templates(renderPatch({ resources: { gpusPerNode: 0 } }));
    expect(trainerOf(t!).resources!.limits!["nvidia.com/gpu"]).toBeUndefined();
    expect(t!.spec!.tolerations).toBeUndefined();
  });

  it("passes user strings as argv elements, never through a shell or the kubelet's $(VAR)", () => {
    const uri = "s3://bucket/x;rm$(HOME)`id`$$(AWS_SECRET_ACCESS_KEY)/";
    const objects = renderPatch({ dataset: { uri } });
    const [t] = templates(objects);
    const fetch = t!.spec!.initContainers![0]!;
    expect(fetch.command).toEqual(["yunshi-checkpoint-agent"]);
    // Every `$` doubled: what the kubelet expands is exactly what the user wrote.
    const arg = fetch.args!.find((a) => a.startsWith("s3://bucket/"))!;
    expect(arg).toBe("s3://bucket/x;rm$$(HOME)`id`$$$$(AWS_SECRET_ACCESS_KEY)/");
    expect(expandLikeKubelet(arg, () => "EXPANDED")).toBe(uri);
  });

  it("an S3-compatible endpoint reaches the agents as standard AWS settings", () => {
    const loaded = parseExperiment(specYaml(patched({})));
    const objects = renderKubernetesObjects({
      experiment: loaded.experiment,
      platform: { ...platform, s3Endpoint: "http://minio.minio:9000" },
      specHash: loaded.specHash,
      version: "0.1.0",
    });
    const prepare = templates(objects)[0]!.spec!.initContainers!.find((c) => c.name === "prepare")!;
    expect(envOf(prepare)).toMatchObject({
      AWS_ENDPOINT_URL_S3: "http://minio.minio:9000",
      YUNSHI_S3_FORCE_PATH_STYLE: "true",
      AWS_REGION: "us-west-2",
    });
  });

  it("parses durations", () => {
    expect(durationSeconds("24h")).toBe(86400);
    expect(durationSeconds("2d")).toBe(172800);
    expect(durationSeconds("1h30m")).toBe(5400);
    expect(durationSeconds("45s")).toBe(45);
  });
});

describe("the OpenAPI validation itself", () => {
  it("rejects objects that break the schema (so the checks above can fail)", () => {
    const [, , job] = renderPatch({});
    const broken = structuredClone(job) as IJob;
    (
      broken.spec!.template.spec!.containers[0]!.ports![0] as { containerPort: unknown }
    ).containerPort = "torchrun";
    expect(() => validateAgainstOpenApi(broken)).toThrow(/containerPort/);
    const noContainers = structuredClone(job) as {
      spec: { template: { spec: { containers?: unknown } } };
    };
    delete noContainers.spec.template.spec.containers;
    expect(() => validateAgainstOpenApi(noContainers as never)).toThrow(/containers/);
  });
});

describe("quantities from fractional requests", () => {
  it("writes fractional CPU in millicores, never 0.30000000000000004", () => {
    const [t] = templates(renderPatch({ resources: { gpusPerNode: 3, cpuPerGpu: 0.1 } }));
    const trainer = trainerOf(t!);
    expect(trainer.resources!.requests!.cpu).toBe("300m");
  });
});
