/**
 * Issue 11: a run the platform can never admit is refused before anything is sent (exit 2,
 * naming the field, the value, the limit and the fix); a run that only has to wait is not.
 * The limits come from the platform ConfigMap that infra writes (platform-limits.ts), here
 * for the example stacks themselves, so the check proves that
 * examples/multinode-2x8-faster-rcnn.yaml fits Pulumi.multinode.yaml and not Pulumi.dev.yaml.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig, rawConfigFrom } from "../infra/config.ts";
import { platformLimits } from "../infra/platform-objects/platform-limits.ts";
import { teamObjects } from "../infra/platform-objects/team-objects.ts";
import { platformFit } from "../jobs/platform-fit.ts";
import { defaultPlatformContext, type PlatformContext } from "../jobs/platform.ts";
import { ExperimentSchema, type Experiment } from "../jobs/spec/experiment.ts";
import { cli } from "./cluster/harness.ts";

const MULTINODE = "examples/multinode-2x8-faster-rcnn.yaml";
const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

/** The `yunshi-platform` ConfigMap `pulumi up` writes for `team` on a stack file. */
function configMapOfStack(stackFile: string, team: string) {
  const doc = parse(readFileSync(stackFile, "utf8")) as { config: Record<string, unknown> };
  const flat = Object.fromEntries(
    Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
  flat["yunshi:apiAccessCidrs"] = JSON.stringify(["81.2.69.7/32"]);
  const cfg = parseStackConfig(rawConfigFrom(flat), { region: flat["aws:region"], stack: "x" });
  return teamObjects({
    namespace: team,
    maxGpus: cfg.gpu.maxGpus,
    bucket: "acme-training",
    region: cfg.region,
    trainerImage: `${ECR}/yunshi/trainer:0.2.0`,
    checkpointAgentImage: `${ECR}/yunshi/checkpoint-agent:0.2.0`,
    limits: platformLimits({
      team,
      teams: cfg.teams,
      capacityTypes: cfg.gpu.capacityTypes,
      instanceFamilies: cfg.gpu.instanceFamilies,
      maxGpus: cfg.gpu.maxGpus,
    }),
  }).platformConfigMap;
}

const limited: PlatformContext = {
  ...defaultPlatformContext,
  namespace: "vision",
  spotGpuQuota: "8",
  onDemandGpuQuota: "2",
  maxSpotGpus: "12",
  maxOnDemandGpus: "4",
  maxGpusPerNode: "4",
  gpuInstanceFamilies: "g5,g6",
};

function experiment(resources: Record<string, unknown>): Experiment {
  const spec = parse(readFileSync("examples/cn-traffic-faster-rcnn.yaml", "utf8")) as Record<
    string,
    unknown
  >;
  return ExperimentSchema.parse({ ...spec, resources });
}

describe("platformFit", () => {
  it("refuses more GPUs of a capacity type than one run can ever be admitted with, and names the way out", () => {
    const fit = platformFit(
      experiment({ nodes: 2, gpusPerNode: 4, spot: false, gpu: { minMemoryGiB: 16 } }),
      limited,
      "ConfigMap vision/yunshi-platform",
    );
    expect(fit.problems).toEqual([
      {
        field: "resources.nodes × resources.gpusPerNode",
        value: "2 × 4 = 8 on-demand GPUs",
        limit:
          "Kueue admits a run only when all its GPUs fit at once, and one run here can get at most 4 on-demand GPUs (ConfigMap vision/yunshi-platform: maxOnDemandGpus 4, of which the team's guaranteed quota is 2)",
        fix: 'ask for at most 4 on-demand GPUs in total; set resources.spot: true (up to 12 spot GPUs); or ask your platform engineer to raise teams[].onDemandGpus for this namespace (docs/platform.md, "Multi-node training")',
      },
    ]);
  });

  it("admits a run within the cohort's quota but above the team's own, with a note (it may be reclaimed)", () => {
    const fit = platformFit(
      experiment({ nodes: 3, gpusPerNode: 4, spot: true }),
      limited,
      "ConfigMap vision/yunshi-platform",
    );
    expect(fit.problems).toEqual([]);
    expect(fit.notes.join("\n")).toMatch(
      /asks for 12 spot GPUs, more than the team's guaranteed 8: Kueue admits it only while other teams lend idle quota/,
    );
    // At or below the guaranteed quota: nothing to say (it may still queue behind others).
    expect(platformFit(experiment({ nodes: 2, gpusPerNode: 4 }), limited, "x").notes).toEqual([]);
  });

  it("refuses more GPUs per node than the largest node has", () => {
    const fit = platformFit(experiment({ nodes: 1, gpusPerNode: 8 }), limited, "the file");
    expect(fit.problems.map((p) => [p.field, p.value, p.fix])).toEqual([
      [
        "resources.gpusPerNode",
        "8",
        "use more, smaller nodes: resources.nodes: 2 and resources.gpusPerNode: 4 or fewer",
      ],
    ]);
    expect(fit.problems[0]?.limit).toBe(
      "the largest node the GPU NodePool launches has 4 GPUs (the file: maxGpusPerNode 4)",
    );
  });

  it("refuses instance types of families the GPU NodePool never launches; notes the ones it ignores", () => {
    const none = platformFit(
      experiment({ gpusPerNode: 1, gpu: { instanceTypes: ["p4d.24xlarge", "g6e.xlarge"] } }),
      limited,
      "x",
    );
    expect(none.problems.map((p) => `${p.field}: ${p.value}: ${p.limit}`)).toEqual([
      'resources.gpu.instanceTypes: ["p4d.24xlarge","g6e.xlarge"]: the GPU NodePool launches only the families g5, g6 (x: gpuInstanceFamilies)',
    ]);
    const some = platformFit(
      experiment({ gpusPerNode: 1, gpu: { instanceTypes: ["g5.xlarge", "g6e.xlarge"] } }),
      limited,
      "x",
    );
    expect(some.problems).toEqual([]);
    expect(some.notes).toEqual([
      "resources.gpu.instanceTypes: g6e.xlarge will never be launched here (the GPU NodePool allows g5, g6); only g5.xlarge can run it.",
    ]);
  });

  it("refuses a GPU memory minimum above every GPU the families offer (by marketed size, as the renderer maps it)", () => {
    const fit = platformFit(experiment({ gpu: { minMemoryGiB: 40 } }), limited, "x");
    expect(fit.problems.map((p) => [p.field, p.value, p.limit])).toEqual([
      [
        "resources.gpu.minMemoryGiB",
        "40",
        "the largest GPU the NodePool's families (g5, g6) offer is the A10G with 24 GiB (g5)",
      ],
    ]);
    // 24 GiB admits A10G and L4 although EC2 reports 22888 MiB for them.
    expect(platformFit(experiment({ gpu: { minMemoryGiB: 24 } }), limited, "x").problems).toEqual(
      [],
    );
  });

  it("refuses a pod no node of the allowed families can hold (vCPU or memory of the largest instance)", () => {
    const withNodes = {
      ...limited,
      maxGpusPerNode: "8",
      maxCpuPerNode: "192",
      maxMemoryGiBPerNode: "768",
    };
    const e = experiment({ nodes: 1, gpusPerNode: 8, cpuPerGpu: 30, memoryPerGpuGiB: 100 });
    const fit = platformFit(e, withNodes, "x", { cpu: 240.5, memoryGiB: 800.5 });
    expect(fit.problems.map((p) => `${p.field}: ${p.value}, but ${p.limit}; ${p.fix}`)).toEqual([
      "resources.cpuPerGpu: 30 per GPU × 8 GPUs: a pod asks for 240.5 vCPU with its sidecars, but the largest instance the GPU NodePool launches has 192 vCPU (x: maxCpuPerNode 192); lower resources.cpuPerGpu to at most 21 (kubelet and DaemonSets keep about a tenth of a node)",
      "resources.memoryPerGpuGiB: 100 per GPU × 8 GPUs: a pod asks for 800.5 GiB with its sidecars, but the largest instance the GPU NodePool launches has 768 GiB (x: maxMemoryGiBPerNode 768); lower resources.memoryPerGpuGiB to at most 86 (kubelet and DaemonSets keep about a tenth of a node)",
    ]);
    // Up to the instance's size is not refused here: whether it fits allocatable is Karpenter's call.
    expect(platformFit(e, withNodes, "x", { cpu: 192, memoryGiB: 768 }).problems).toEqual([]);
  });

  it("checks nothing for CPU-only runs, and says it skipped a platform without limits", () => {
    expect(platformFit(experiment({ gpusPerNode: 0 }), limited, "x")).toEqual({
      problems: [],
      notes: [],
    });
    const old = platformFit(
      experiment({ nodes: 64, gpusPerNode: 8 }),
      defaultPlatformContext,
      "ConfigMap vision/yunshi-platform",
    );
    expect(old.problems).toEqual([]);
    expect(old.skipped).toBe(
      "whether the platform can ever admit cn-traffic-frcnn was not checked: no limits in ConfigMap vision/yunshi-platform",
    );
  });
});

describe("submit --dry-run / validate --platform-file with the ConfigMap infra writes", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "yunshi-platform-fit-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = async (name: string, doc: unknown) => {
    const p = join(dir, name);
    await writeFile(p, stringify(doc));
    return p;
  };

  it("the multi-node example fits the stack the docs show for it (Pulumi.multinode.yaml)", async () => {
    const cm = configMapOfStack("Pulumi.multinode.yaml", "vision");
    expect(cm.data).toMatchObject({
      spotGpuQuota: "8",
      onDemandGpuQuota: "16",
      maxSpotGpus: "8",
      maxOnDemandGpus: "16",
      maxGpusPerNode: "8",
      maxCpuPerNode: "192",
      maxMemoryGiBPerNode: "1536",
      gpuInstanceFamilies: "g5,g6,g6e",
    });
    const file = await write("multinode.yaml", cm);
    const r = await cli("submit", MULTINODE, "--dry-run", "--platform-file", file);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain("dry run: nothing was sent");
    expect(r.err).not.toMatch(/not checked|note:/);
  });

  it("…and is refused on the small example stack (Pulumi.dev.yaml), exit 2, nothing on stdout", async () => {
    const file = await write("dev.yaml", configMapOfStack("Pulumi.dev.yaml", "vision"));
    for (const argv of [
      ["submit", MULTINODE, "--dry-run", "--platform-file", file],
      ["validate", MULTINODE, "--platform-file", file],
      ["render", MULTINODE, "--platform-file", file],
    ]) {
      const r = await cli(...argv);
      expect(r.code, `${argv.join(" ")}\n${r.all}`).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toContain(
        `${MULTINODE}: this run can never be admitted in namespace vision; nothing was sent:\n` +
          "  resources.nodes × resources.gpusPerNode: 2 × 8 = 16 on-demand GPUs, but Kueue admits a run only when all its GPUs fit at once, " +
          `and one run here can get at most 2 on-demand GPUs (--platform-file ${file}: maxOnDemandGpus 2, of which the team's guaranteed quota is 2)\n` +
          "    fix: ask for at most 2 on-demand GPUs in total; or ask your platform engineer to raise teams[].onDemandGpus",
      );
      expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it("a pod larger than the largest instance is refused, counted from the rendered pod with its sidecars", async () => {
    const file = await write(
      "multinode-cpu.yaml",
      configMapOfStack("Pulumi.multinode.yaml", "vision"),
    );
    const doc = parse(readFileSync(MULTINODE, "utf8")) as { resources: { cpuPerGpu: number } };
    doc.resources.cpuPerGpu = 24; // 8 × 24 = 192 vCPU, plus the sidecars: more than 192
    const spec = await write("multinode-24cpu.yaml", doc);
    const r = await cli("submit", spec, "--dry-run", "--platform-file", file);
    expect(r.code, r.all).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(
      /resources\.cpuPerGpu: 24 per GPU × 8 GPUs: a pod asks for 19[2-9](\.\d+)? vCPU with its sidecars, but the largest instance the GPU NodePool launches has 192 vCPU .*maxCpuPerNode 192\)\n {4}fix: lower resources\.cpuPerGpu to at most 21 /,
    );
  });

  it("an old ConfigMap without the limit keys still works, and the dry run says the check was skipped", async () => {
    const file = await write("old.yaml", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "yunshi-platform", namespace: "vision" },
      data: {
        bucket: "acme-training",
        region: "us-east-1",
        trainerImage: `${ECR}/yunshi/trainer:0.2.0`,
        checkpointAgentImage: `${ECR}/yunshi/checkpoint-agent:0.2.0`,
        queue: "default",
        serviceAccount: "yunshi-training",
      },
    });
    const r = await cli("submit", MULTINODE, "--dry-run", "--platform-file", file);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(
      `note: whether the platform can ever admit cn-traffic-frcnn-2x8 was not checked: no limits in --platform-file ${file}`,
    );
  });

  it("a limit key with a bad value is refused by name (exit 2)", async () => {
    const cm = configMapOfStack("Pulumi.multinode.yaml", "vision");
    const file = await write("bad.yaml", {
      ...cm,
      data: { ...cm.data, maxOnDemandGpus: "sixteen" },
    });
    const r = await cli("submit", MULTINODE, "--dry-run", "--platform-file", file);
    expect(r.code).toBe(2);
    expect(r.err).toContain('key maxOnDemandGpus "sixteen": a whole number such as 16');
  });
});
