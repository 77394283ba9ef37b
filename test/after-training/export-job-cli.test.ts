/**
 * `yunshi export --cluster`'s checks that need no cluster (bad flags exit 2 before anything
 * is contacted), and how the dataset is read back from the training workload in both pod
 * layouts. The cluster itself: test/control-plane/export-job.test.ts.
 */
import { describe, expect, it } from "vitest";
import { datasetUriOf } from "../../jobs/after-training/dataset-of-workload.ts";
import type { KubeObject } from "../../jobs/cluster/types.ts";
import { escapeForKubelet } from "../../jobs/render/kubernetes-expansion.ts";
import { cli } from "../cluster/harness.ts";

describe("export --cluster: arguments", () => {
  it.each([
    [["--sample", "val_001.png"], /--sample "val_001\.png": with --cluster, a picture in S3/],
    [["--sample", "s3://pics/folder/"], /--sample "s3:\/\/pics\/folder\/": with --cluster/],
    [["--sample", "s3://Bad_Bucket/x.png"], /--sample: bucket "Bad_Bucket"/],
    [["-o", "out"], /-o\/--out-dir: not with --cluster/],
    [["--bucket", "b"], /--bucket: not with --cluster/],
    [["--no-upload"], /--no-upload: not with --cluster/],
    [["--format", "tflite"], /--format "tflite": the formats are onnx/],
  ])("%j exits 2 before contacting anything", async (extra, message) => {
    const format = extra.includes("--format") ? [] : ["--format", "onnx"];
    const r = await cli("export", "quickstart", ...format, "--cluster", ...extra);
    expect(r.code, r.all).toBe(2);
    expect(r.err).toMatch(message);
  });

  it("refuses more pictures than the pod fetches", async () => {
    const samples = Array.from({ length: 9 }, (_, i) => ["--sample", `s3://pics/p${i}.png`]).flat();
    const r = await cli("export", "quickstart", "--format", "onnx", "--cluster", ...samples);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--sample: 9 pictures; at most 8 with --cluster/);
  });

  it("refuses an experiment name the Job name could not carry", async () => {
    const r = await cli("export", "e".repeat(51), "--format", "onnx", "--cluster");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/at most 50 characters, got 51/);
  });

  it.each(["--dry-run", "--wait"])("%s is for --cluster only", async (flag) => {
    const r = await cli("export", "quickstart", "--format", "onnx", flag);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`${flag}: only with --cluster`));
  });
});

const agent = (name: string, args: string[]) => ({
  name,
  command: ["yunshi-checkpoint-agent"],
  args: args.map(escapeForKubelet),
});
const job = (initContainers: object[]): KubeObject => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name: "exp" },
  spec: { template: { spec: { initContainers, containers: [{ name: "trainer" }] } } },
});

describe("the dataset of a training workload", () => {
  it("is the prepare sidecar's --dataset-uri, unescaped from the kubelet's $$", () => {
    const w = job([
      agent("prepare", [
        "prepare",
        "--dataset-uri",
        "s3://data/$weird/",
        "--dataset-dir",
        "/yunshi/data",
        "--uri",
        "s3://ckpt/ns/exp/",
      ]),
    ]);
    expect(datasetUriOf(w)).toBe("s3://data/$weird/");
  });

  it("is the fetch-dataset init container's --uri in the layout before", () => {
    const w = job([
      agent("fetch-dataset", ["fetch", "--uri", "s3://data/coco/", "--dest", "/yunshi/data"]),
      agent("restore", ["restore", "--work-dir", "/yunshi/work", "--uri", "s3://ckpt/ns/exp/"]),
    ]);
    expect(datasetUriOf(w)).toBe("s3://data/coco/");
  });

  it("is found in a JobSet's pod template, and is undefined where none is named", () => {
    const js = {
      apiVersion: "jobset.x-k8s.io/v1alpha2",
      kind: "JobSet",
      metadata: { name: "exp" },
      spec: {
        replicatedJobs: [
          {
            name: "node",
            template: {
              spec: {
                template: {
                  spec: {
                    initContainers: [
                      agent("fetch-dataset", ["fetch", "--uri", "s3://d/x/", "--dest", "/d"]),
                    ],
                  },
                },
              },
            },
          },
        ],
      },
    } as unknown as KubeObject;
    expect(datasetUriOf(js)).toBe("s3://d/x/");
    expect(datasetUriOf(job([agent("restore", ["restore", "--uri", "s3://c/"])]))).toBeUndefined();
  });
});
