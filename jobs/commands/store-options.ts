/**
 * The flags of the after-training commands (predict, export, tensorboard) that say where an
 * experiment's checkpoints and logs are: the local run store, a bucket, or the cluster's
 * platform ConfigMap (jobs/after-training/experiment-store.ts). Light: no S3 or Kubernetes
 * client is loaded to declare them.
 */
import type { Command } from "commander";
import type { StoreFlags } from "../after-training/experiment-store.ts";

export function addStoreOptions(cmd: Command): Command {
  return cmd
    .option("--state-dir <dir>", "the local run store of `submit --local` runs", ".yunshi")
    .option("-n, --namespace <ns>", "namespace of the experiment (cluster runs)")
    .option("--bucket <name>", "bucket of the experiment's checkpoints (default: the platform's)")
    .option("--region <region>", "AWS region of the bucket (default: the platform's)")
    .option("--s3-endpoint <url>", "S3-compatible endpoint (MinIO; default: the platform's)")
    .option("--context <name>", "kubeconfig context, to read the platform ConfigMap");
}

export function storeFlagsOf(opts: Record<string, unknown>): StoreFlags {
  const pick = (k: string): string | undefined =>
    typeof opts[k] === "string" ? opts[k] : undefined;
  return {
    stateDir: pick("stateDir") ?? ".yunshi",
    namespace: pick("namespace"),
    bucket: pick("bucket"),
    region: pick("region"),
    s3Endpoint: pick("s3Endpoint"),
    context: pick("context"),
  };
}
