/** Test harness: a fake API server, a kubeconfig pointing at it, and the CLI as a function. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { startEmbeddedS3 } from "../../jobs/local/embedded-s3.ts";
import { run } from "../../jobs/program.ts";
import {
  defaultPlatformContext,
  platformConfigMapData,
  PLATFORM_CONFIGMAP_NAME,
} from "../../jobs/platform.ts";
import { FakeKubeApi } from "../fake-kube-api/index.ts";
import type { FakeKubeApiOptions } from "../fake-kube-api/index.ts";

export const NS = "vision";

export interface CliResult {
  code: number;
  out: string;
  err: string;
  /** stdout and stderr interleaved, as a terminal shows them. */
  all: string;
}

export async function cli(...argv: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const all: string[] = [];
  const code = await run(argv, {
    out: (t) => void (out.push(t), all.push(t)),
    err: (t) => void (err.push(t), all.push(t)),
  });
  return { code, out: out.join(""), err: err.join(""), all: all.join("") };
}

export interface Cluster {
  fake: FakeKubeApi;
  dir: string;
  kubeconfig: string;
  close(): Promise<void>;
}

/** Start a fake cluster with the `vision` namespace (the context's default) and its platform ConfigMap. */
export async function startCluster(
  opts: FakeKubeApiOptions & { platform?: boolean } = {},
): Promise<Cluster> {
  const fake = new FakeKubeApi({ namespaces: ["default", NS], ...opts });
  await fake.start();
  const dir = mkdtempSync(join(tmpdir(), "yunshi-cluster-"));
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, fake.kubeconfig([{ name: "fake", namespace: NS }, { name: "other" }]));
  process.env.KUBECONFIG = kubeconfig;
  process.env.YUNSHI_POLL_MS = "20";
  // Hermetic: status must not reach for this machine's AWS credentials unless a test says so.
  for (const k of [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
  ])
    delete process.env[k];
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, "no-aws-credentials");
  process.env.AWS_CONFIG_FILE = join(dir, "no-aws-config");
  if (opts.platform !== false) installPlatform(fake, NS);
  return {
    fake,
    dir,
    kubeconfig,
    close: async () => {
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function installPlatform(fake: FakeKubeApi, namespace: string): void {
  for (const q of ["default", "team-gpu"])
    fake.upsert({
      apiVersion: "kueue.x-k8s.io/v1beta2",
      kind: "LocalQueue",
      metadata: { name: q, namespace },
      spec: { clusterQueue: "gpu" },
    });
  fake.upsert({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: PLATFORM_CONFIGMAP_NAME, namespace },
    data: platformConfigMapData({
      ...defaultPlatformContext,
      namespace,
      bucket: "acme-training",
      trainerImage: "123456789012.dkr.ecr.us-west-2.amazonaws.com/yunshi/trainer:0.1.0",
      checkpointAgentImage:
        "123456789012.dkr.ecr.us-west-2.amazonaws.com/yunshi/checkpoint-agent:0.1.0",
      queue: "team-gpu",
    }),
  });
}

const EXAMPLES = join(import.meta.dirname, "..", "..", "examples");

/** Write a spec based on an example, with top-level edits (e.g. a new name or epochs). */
export function writeSpec(
  dir: string,
  edit: (spec: Record<string, unknown>) => void = () => {},
  example = "cn-traffic-faster-rcnn.yaml",
): string {
  const spec = parse(readFileSync(join(EXAMPLES, example), "utf8")) as Record<string, unknown>;
  edit(spec);
  const file = join(dir, `spec-${Math.random().toString(36).slice(2, 8)}.yaml`);
  writeFileSync(file, stringify(spec));
  return file;
}

export const until = async (f: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** A real S3 protocol server on 127.0.0.1 with the platform's bucket: the same s3rver
 * wrapper local runs use (jobs/local/embedded-s3.ts), in a temp dir. */
export async function startS3(
  bucket: string,
): Promise<{ endpoint: string; close(): Promise<void> }> {
  const directory = mkdtempSync(join(tmpdir(), "yunshi-cluster-s3-"));
  const server = await startEmbeddedS3({ directory, port: 0, bucket });
  return {
    endpoint: server.endpoint,
    close: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
