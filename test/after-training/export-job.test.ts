/**
 * The cluster export Job (jobs/after-training/export-job.ts), pure: it validates against the
 * Kubernetes OpenAPI schema, keeps the job rules, is hardened exactly like the training pod,
 * runs on the CPU only, orders export before upload, and matches its golden manifest.
 */
import { readFile, writeFile } from "node:fs/promises";
import { Job } from "kubernetes-models/batch/v1/Job";
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { describe, expect, it } from "vitest";
import { checkWorkload } from "../../policies/job-rules.ts";
import {
  EXPORT_COMMAND,
  ExportContainers,
  exportJobName,
  renderExportJob,
  VERDICT_FILE,
  type ExportJobInput,
} from "../../jobs/after-training/export-job.ts";
import { Labels } from "../../jobs/labels.ts";
import { defaultPlatformContext } from "../../jobs/platform.ts";
import { AgentCommand } from "../../jobs/pod-contract.ts";
import { expandLikeKubelet } from "../../jobs/render/kubernetes-expansion.ts";
import { podTemplatesOf, renderKubernetesObjects } from "../../jobs/render/kubernetes.ts";
import { containerSecurityContext } from "../../jobs/render/pod-template.ts";
import { toYamlDocuments } from "../../jobs/render/serialize.ts";
import { loadExperimentFile } from "../../jobs/spec/load-experiment.ts";

const platform = { ...defaultPlatformContext, namespace: "team-a" };
const SHA = "ab".repeat(32);

const input = (over: Partial<ExportJobInput> = {}): ExportJobInput => ({
  experiment: "quickstart",
  namespace: "team-a",
  format: "onnx",
  platform,
  queue: "default",
  checkpoint: {
    key: "checkpoints/best_coco_bbox_mAP_50_epoch_6.pth",
    sha256: SHA,
    kind: "best",
    epoch: 6,
  },
  verifyOn: { datasetUri: "s3://acme-datasets/quickstart/" },
  version: "0.1.0",
  ...over,
});

const podOf = (job: IJob): IPodSpec => {
  const spec = job.spec?.template.spec;
  if (spec === undefined) throw new Error("no pod spec");
  return spec;
};
const allContainers = (pod: IPodSpec): IContainer[] => [
  ...(pod.initContainers ?? []),
  ...pod.containers,
];
const named = (pod: IPodSpec, name: string): IContainer => {
  const c = allContainers(pod).find((x) => x.name === name);
  if (c === undefined) throw new Error(`no container ${name}`);
  return c;
};
/** argv as the program receives it, after the kubelet's $(VAR) expansion. */
const argvOf = (c: IContainer): string[] => (c.args ?? []).map((a) => expandLikeKubelet(a));

async function trainingPod(): Promise<IPodSpec> {
  const loaded = await loadExperimentFile("examples/quickstart.yaml");
  const objects = renderKubernetesObjects({
    experiment: loaded.experiment,
    platform,
    specHash: loaded.specHash,
    version: "0.1.0",
  });
  const [, template] = objects.flatMap(podTemplatesOf)[0] ?? [];
  if (template?.spec === undefined) throw new Error("no training pod");
  return template.spec;
}

describe("the export Job", () => {
  it("validates against the Kubernetes OpenAPI schema and keeps every job rule", () => {
    for (const verifyOn of [
      { datasetUri: "s3://acme-datasets/quickstart/" },
      { samples: ["s3://acme-datasets/quickstart/images/val_001.png"] },
    ]) {
      const job = renderExportJob(input({ verifyOn }));
      expect(() => new Job(job).validate()).not.toThrow();
      const registry = platform.trainerImage.split("/")[0] ?? "";
      expect(checkWorkload(job as Parameters<typeof checkWorkload>[0], { registry })).toEqual([]);
    }
  });

  it("is hardened exactly like the training pod", async () => {
    const training = await trainingPod();
    const pod = podOf(renderExportJob(input()));
    expect(pod.securityContext).toEqual(training.securityContext);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe(training.serviceAccountName);
    expect(pod.restartPolicy).toBe("Never");
    for (const c of allContainers(pod)) {
      expect(c.securityContext, c.name).toEqual(containerSecurityContext());
      expect(c.resources?.limits?.memory, c.name).toBeDefined();
    }
    // Same agent, configured the same way, as training's agent containers.
    const trainingAgent = allContainers(training).find(
      (c) => c.command?.[0] === AgentCommand.executable,
    );
    expect(trainingAgent).toBeDefined();
    const exportAgents = allContainers(pod).filter(
      (c) => c.command?.[0] === AgentCommand.executable,
    );
    expect(exportAgents.map((c) => c.name)).toEqual([
      ExportContainers.fetchModel,
      ExportContainers.fetchDataset,
      ExportContainers.push,
    ]);
    for (const c of exportAgents)
      for (const k of ["image", "env", "resources", "terminationMessagePolicy"] as const)
        expect(c[k], `${c.name}.${k}`).toEqual(trainingAgent?.[k]);
    // Every volume is an emptyDir: nothing of the node's.
    expect((pod.volumes ?? []).every((v) => v.emptyDir !== undefined)).toBe(true);
  });

  it("runs on the CPU only: no GPU asked for, no GPU toleration, no experiment label", () => {
    const job = renderExportJob(input());
    const pod = podOf(job);
    for (const c of allContainers(pod)) {
      expect(Object.keys(c.resources?.limits ?? {}), c.name).not.toContain("nvidia.com/gpu");
      expect(Object.keys(c.resources?.requests ?? {}), c.name).not.toContain("nvidia.com/gpu");
    }
    expect(pod.tolerations).toBeUndefined();
    const terms = pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    expect(terms?.nodeSelectorTerms).toEqual([
      {
        matchExpressions: [
          { key: "karpenter.sh/capacity-type", operator: "In", values: ["spot", "on-demand"] },
        ],
      },
    ]);
    // status/logs/cancel and the training Service select by the experiment label.
    expect(job.metadata?.labels?.[Labels.experiment]).toBeUndefined();
    expect(job.spec?.template.metadata?.labels?.[Labels.experiment]).toBeUndefined();
    expect(job.metadata?.labels?.[Labels.kueueQueue]).toBe("default");
    expect(job.metadata?.labels?.["yunshi.dev/export-of"]).toBe("quickstart");
  });

  it("fetches the committed checkpoint, exports and verifies it, and only then uploads it", () => {
    const pod = podOf(renderExportJob(input()));
    expect(pod.initContainers?.map((c) => c.name)).toEqual([
      ExportContainers.fetchModel,
      ExportContainers.fetchDataset,
      ExportContainers.export,
    ]);
    // The main container runs only after every init container exited 0.
    expect(pod.containers.map((c) => c.name)).toEqual([ExportContainers.push]);
    expect(argvOf(named(pod, ExportContainers.fetchModel))).toEqual(
      AgentCommand.fetch(
        "s3://yunshi-checkpoints/team-a/quickstart/checkpoints/best_coco_bbox_mAP_50_epoch_6.pth",
        "/yunshi/model",
      ),
    );
    expect(argvOf(named(pod, ExportContainers.fetchDataset))).toEqual(
      AgentCommand.fetch("s3://acme-datasets/quickstart/", "/yunshi/data"),
    );
    const exp = named(pod, ExportContainers.export);
    expect(exp.image).toBe(platform.trainerImage);
    expect(exp.command).toEqual([...EXPORT_COMMAND]);
    expect(argvOf(exp)).toEqual([
      "--checkpoint",
      "/yunshi/model/best_coco_bbox_mAP_50_epoch_6.pth",
      "--sha256",
      SHA,
      "--out-dir",
      "/yunshi/export",
    ]);
    expect(argvOf(named(pod, ExportContainers.push))).toEqual([
      "push",
      "--dir",
      "/yunshi/export",
      "--uri",
      "s3://yunshi-checkpoints/team-a/quickstart/exports/onnx/",
      "--verified",
      VERDICT_FILE,
    ]);
    // The upload reads the export read-only; the export reads the model read-only.
    expect(named(pod, ExportContainers.push).volumeMounts).toContainEqual({
      name: "export",
      mountPath: "/yunshi/export",
      readOnly: true,
    });
  });

  it("fetches named s3:// pictures one folder each, with every `$` escaped from the kubelet", () => {
    const samples = ["s3://pics/a/$(HOME)x.png", "s3://pics/b/$HOME.png", "s3://pics/c/x.png"];
    const pod = podOf(renderExportJob(input({ verifyOn: { samples } })));
    expect(pod.initContainers?.map((c) => c.name)).toEqual([
      ExportContainers.fetchModel,
      "fetch-sample-0",
      "fetch-sample-1",
      "fetch-sample-2",
      ExportContainers.export,
    ]);
    expect(named(pod, "fetch-sample-0").args).toContain("s3://pics/a/$$(HOME)x.png");
    expect(argvOf(named(pod, "fetch-sample-0"))).toEqual(
      AgentCommand.fetch(samples[0]!, "/yunshi/samples/0"),
    );
    expect(argvOf(named(pod, ExportContainers.export)).slice(-6)).toEqual([
      "--sample",
      "/yunshi/samples/0/$(HOME)x.png",
      "--sample",
      "/yunshi/samples/1/$HOME.png",
      "--sample",
      "/yunshi/samples/2/x.png",
    ]);
    expect(pod.volumes?.map((v) => v.name)).not.toContain("data");
  });

  it("fails at once on what a retry cannot fix, ignores disruptions, and names only its containers", () => {
    const job = renderExportJob(input());
    const rules = job.spec?.podFailurePolicy?.rules ?? [];
    expect(rules[0]).toEqual({
      action: "Ignore",
      onPodConditions: [{ type: "DisruptionTarget", status: "True" }],
    });
    expect(rules.slice(1)).toEqual([
      { action: "FailJob", onExitCodes: { operator: "In", values: [2] } },
      { action: "FailJob", onExitCodes: { containerName: "export", operator: "In", values: [1] } },
    ]);
    const names = allContainers(podOf(job)).map((c) => c.name);
    for (const r of rules)
      if (r.onExitCodes?.containerName !== undefined)
        expect(names).toContain(r.onExitCodes.containerName);
    expect(job.spec).toMatchObject({
      backoffLimit: 2,
      activeDeadlineSeconds: 7200,
      ttlSecondsAfterFinished: 604_800,
      podReplacementPolicy: "Failed",
    });
  });

  it("fits the name limits for the longest experiment name", () => {
    const longest = "e".repeat(50);
    const name = exportJobName(longest, "onnx");
    expect(name.length).toBeLessThanOrEqual(63);
    const job = renderExportJob(input({ experiment: longest }));
    expect(job.metadata?.name).toBe(name);
    expect(() => new Job(job).validate()).not.toThrow();
    for (const v of Object.values(job.metadata?.labels ?? {}))
      expect(v.length).toBeLessThanOrEqual(63);
  });

  it("runs the export script the trainer image ships, which takes --sha256", async () => {
    const dockerfile = await readFile("images/trainer/Dockerfile", "utf8");
    expect(dockerfile).toMatch(/^COPY yunshi_\*\.py \/opt\/yunshi\/$/m);
    expect(EXPORT_COMMAND[1]).toBe("/opt/yunshi/yunshi_export.py");
    const script = await readFile("images/trainer/yunshi_export.py", "utf8");
    expect(script).toContain('"--sha256"');
    expect(script).toMatch(/"verified"\] = not failed/);
  });

  it("matches its golden manifest (UPDATE_GOLDEN=1 rewrites it)", async () => {
    const text = toYamlDocuments([renderExportJob(input())]);
    const golden = "test/golden/export-quickstart-onnx.yaml";
    if (process.env.UPDATE_GOLDEN === "1") await writeFile(golden, text);
    expect(text).toBe(await readFile(golden, "utf8"));
  });
});
