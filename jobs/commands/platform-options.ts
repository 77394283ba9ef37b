/** The platform flags that render and submit --dry-run share (see jobs/platform.ts). */
import type { Command } from "commander";
import { defaultPlatformContext } from "../platform-defaults.ts";
import type { PlatformFlags } from "../prepare.ts";

export function addPlatformOptions(cmd: Command): Command {
  const d = defaultPlatformContext;
  return cmd
    .option("-n, --namespace <ns>", `namespace (default: the spec's, else "${d.namespace}")`)
    .option("--bucket <name>", `S3 bucket for checkpoints (default: ${d.bucket})`)
    .option("--region <region>", `AWS region (default: ${d.region})`)
    .option("--trainer-image <ref>", `trainer image (default: ${d.trainerImage})`)
    .option("--agent-image <ref>", `checkpoint agent image (default: ${d.checkpointAgentImage})`)
    .option("--queue <name>", `Kueue LocalQueue (default: the spec's, else "${d.queue}")`)
    .option("--service-account <name>", `pods' ServiceAccount (default: ${d.serviceAccount})`)
    .option("--s3-endpoint <url>", "S3-compatible endpoint (MinIO); default AWS S3")
    .option(
      "--platform-file <file>",
      "the namespace's yunshi-platform ConfigMap as YAML (kubectl get configmap yunshi-platform -o yaml): its settings, under the flags above (GitOps pipelines render with it)",
    );
}

export function platformFlagsOf(opts: Record<string, unknown>): PlatformFlags {
  const pick = (k: string): string | undefined =>
    typeof opts[k] === "string" ? opts[k] : undefined;
  const flags: PlatformFlags = {};
  const set = (key: keyof PlatformFlags, v: string | undefined): void => {
    if (v !== undefined) flags[key] = v;
  };
  set("namespace", pick("namespace"));
  set("bucket", pick("bucket"));
  set("region", pick("region"));
  set("trainerImage", pick("trainerImage"));
  set("agentImage", pick("agentImage"));
  set("queue", pick("queue"));
  set("serviceAccount", pick("serviceAccount"));
  set("s3Endpoint", pick("s3Endpoint"));
  set("platformFile", pick("platformFile"));
  return flags;
}
