import { describe, expect, it } from "vitest";
import { loadExperimentFile } from "../../jobs/spec/load-experiment.ts";
import { localLayout } from "../../jobs/local/layout.ts";
import {
  LOCAL_SNAPSHOT_POLL_SECONDS,
  buildLocalPlan,
  childEnv,
  finalSyncArgv,
  resolveDataset,
  type LocalPlanInput,
} from "../../jobs/local/plan.ts";
import { AgentCommand, LauncherEnv, PodPaths } from "../../jobs/pod-contract.ts";

const runtime = {
  python: "/opt/py/bin/python",
  launcher: "/repo/images/trainer/yunshi_launch.py",
  node: "/usr/bin/node",
  tsxLoader: "file:///repo/node_modules/tsx/dist/loader.mjs",
  agentMain: "/repo/images/checkpoint-agent/src/main.ts",
};
const store = {
  endpoint: "http://127.0.0.1:4568",
  bucket: "yunshi-local",
  region: "us-east-1",
  credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
};

async function input(over: Partial<LocalPlanInput> = {}): Promise<LocalPlanInput> {
  const { experiment, specHash } = await loadExperimentFile("examples/quickstart.yaml");
  return {
    experiment,
    specHash,
    layout: localLayout("/state", experiment.name),
    store,
    runtime,
    dataset: resolveDataset(experiment.dataset.uri, "examples/quickstart.yaml"),
    visibleGpus: 0,
    masterPort: 40001,
    ...over,
  };
}

const agentPrefix = [runtime.node, "--import", runtime.tsxLoader, runtime.agentMain];

describe("resolveDataset", () => {
  it("reads a relative path relative to the spec's folder, keeps s3:// URIs", () => {
    expect(resolveDataset("./data/q/", "/home/u/exp/spec.yaml")).toEqual({
      kind: "local",
      dir: "/home/u/exp/data/q",
    });
    expect(resolveDataset("/abs/d", "/x/spec.yaml")).toEqual({ kind: "local", dir: "/abs/d" });
    expect(resolveDataset("s3://b/p/", "/x/spec.yaml")).toEqual({ kind: "s3", uri: "s3://b/p/" });
  });
});

describe("buildLocalPlan", () => {
  it("runs the pod's containers in pod order with the contract's argv, mapped to local paths", async () => {
    const plan = buildLocalPlan(await input());
    const work = "/state/runs/quickstart/work";
    const uri = "s3://yunshi-local/local/quickstart/";
    expect(plan.checkpointUri).toBe(uri);
    const verdict = "/state/runs/quickstart/status/prepared.json";
    // A local dataset is read in place: prepare only restores, then exits (the pod's idles).
    expect(plan.prepare.name).toBe("prepare");
    expect(plan.prepare.argv).toEqual([
      ...agentPrefix,
      "prepare",
      "--uri",
      uri,
      "--work-dir",
      work,
      "--verdict",
      verdict,
      "--exit-when-done",
    ]);
    expect(plan.prepareVerdict).toBe(verdict);
    expect(plan.main.env[LauncherEnv.prepareVerdict]).toBe(verdict);
    expect(plan.sidecar.argv).toEqual([
      ...agentPrefix,
      ...AgentCommand.snapshot(work, uri, 2, "coco/bbox_mAP_50"),
      "--after",
      verdict,
      "--interval",
      LOCAL_SNAPSHOT_POLL_SECONDS,
    ]);
    expect(plan.main.argv).toEqual([runtime.python, runtime.launcher]);
    expect(finalSyncArgv(plan.sidecar)).toEqual([...plan.sidecar.argv, "--once"]);
    expect(plan.notes.join("\n")).toContain("no fetch");
    // No pod path survives anywhere in the plan.
    const all = JSON.stringify([plan.prepare, plan.sidecar, plan.main]);
    expect(all).not.toContain("/yunshi/");
  });

  it("gives the launcher the pod's environment with local values", async () => {
    const plan = buildLocalPlan(await input());
    const env = plan.main.env;
    expect(env[LauncherEnv.experiment]).toBe("quickstart");
    expect(env[LauncherEnv.config]).toBe("/state/runs/quickstart/config.py");
    expect(env[LauncherEnv.workDir]).toBe("/state/runs/quickstart/work");
    expect(env[LauncherEnv.nnodes]).toBe("1");
    expect(env[LauncherEnv.nodeRank]).toBe("0");
    expect(env[LauncherEnv.nprocPerNode]).toBe("1");
    expect(env[LauncherEnv.masterAddr]).toBe("127.0.0.1");
    expect(env[LauncherEnv.masterPort]).toBe("40001");
    // quickstart is on-demand: the pod's 300 s grace, half of it for the launcher.
    expect(env[LauncherEnv.graceSeconds]).toBe("150");
    expect(env.PYTHONUNBUFFERED).toBe("1");
    // CPU experiment: GPUs hidden; the pod's HOME is not imposed on the user.
    expect(env.CUDA_VISIBLE_DEVICES).toBe("");
    expect(env.HOME).toBeUndefined();
    expect(env.AWS_ACCESS_KEY_ID).toBeUndefined();
  });

  it("points the agents at the store, path-style, with the embedded store's keys", async () => {
    const plan = buildLocalPlan(await input());
    for (const p of [plan.prepare, plan.sidecar]) {
      expect(p.env).toMatchObject({
        AWS_ENDPOINT_URL_S3: "http://127.0.0.1:4568",
        YUNSHI_S3_FORCE_PATH_STYLE: "true",
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "S3RVER",
      });
    }
    expect(plan.sidecar.env.YUNSHI_NODE_RANK).toBe("0");
  });

  it("renders the MMDetection config for the local folders", async () => {
    const plan = buildLocalPlan(await input());
    expect(plan.dataRoot).toMatch(/\/examples\/data\/quickstart$/);
    expect(plan.configText).toContain(`data_root = '${plan.dataRoot}/'`);
    expect(plan.configText).toContain("metainfo = dict(classes=('行人', '车辆'))");
    expect(plan.configText).not.toContain(PodPaths.dataDir);
  });

  it("fetches an s3:// dataset like the pod does, into the run's data folder", async () => {
    const base = await input({ dataset: { kind: "s3", uri: "s3://team/ds/q/" } });
    const experiment = {
      ...base.experiment,
      dataset: { ...base.experiment.dataset, uri: "s3://team/ds/q/" },
    };
    const plan = buildLocalPlan({ ...base, experiment });
    expect(plan.prepare.argv.slice(agentPrefix.length)).toEqual([
      ...AgentCommand.prepare({
        dataset: { uri: "s3://team/ds/q/", dest: "/state/runs/quickstart/data" },
        restore: {
          uri: "s3://yunshi-local/local/quickstart/",
          workDir: "/state/runs/quickstart/work",
        },
        verdict: "/state/runs/quickstart/status/prepared.json",
      }),
      "--exit-when-done",
    ]);
    expect(plan.configText).toContain("data_root = '/state/runs/quickstart/data/'");
  });

  it("uses one process per visible GPU for a GPU experiment, and CPU when there is none", async () => {
    const base = await input();
    const gpuExp = {
      ...base.experiment,
      resources: { ...base.experiment.resources, gpusPerNode: 8, nodes: 2 },
    };
    const onGpus = buildLocalPlan({ ...base, experiment: gpuExp, visibleGpus: 2 });
    expect(onGpus.processes).toBe(2);
    expect(onGpus.device).toBe("gpu");
    expect(onGpus.main.env[LauncherEnv.nprocPerNode]).toBe("2");
    expect(onGpus.main.env[LauncherEnv.nnodes]).toBe("1");
    expect(onGpus.main.env.CUDA_VISIBLE_DEVICES).toBeUndefined();
    expect(onGpus.notes.join("\n")).toMatch(/shows 2 GPU/);
    expect(onGpus.notes.join("\n")).toMatch(/nodes is 2/);
    const noGpu = buildLocalPlan({ ...base, experiment: gpuExp, visibleGpus: 0 });
    expect(noGpu.processes).toBe(1);
    expect(noGpu.device).toBe("cpu");
    expect(noGpu.notes.join("\n")).toMatch(/no GPU/);
  });

  it("leaves credentials to the user's environment for their own endpoint", async () => {
    const plan = buildLocalPlan(
      await input({
        store: { endpoint: "https://minio.lab:9000", bucket: "lab", region: "eu-west-1" },
      }),
    );
    expect(plan.sidecar.env.AWS_ACCESS_KEY_ID).toBeUndefined();
    expect(plan.checkpointUri).toBe("s3://lab/local/quickstart/");
  });
});

describe("childEnv", () => {
  it("adds the plan's variables and drops AWS_CA_BUNDLE for plain-http endpoints only", () => {
    const parent = { PATH: "/bin", AWS_CA_BUNDLE: "/etc/ca.pem", X: undefined };
    expect(childEnv(parent, { A: "1" }, "http://127.0.0.1:1")).toEqual({ PATH: "/bin", A: "1" });
    expect(childEnv(parent, {}, "https://s3.example")).toEqual({
      PATH: "/bin",
      AWS_CA_BUNDLE: "/etc/ca.pem",
    });
  });
});
