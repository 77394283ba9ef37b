/**
 * The platform context that `render` and `--dry-run` use without a cluster. Apart from
 * ./platform.ts (which validates with zod) so that `--help`, which prints these defaults,
 * does not load zod (issue 15: --help within 2× of `node -e 0`).
 */
import type { PlatformContext } from "./platform.ts";

/** Used by `--dry-run` and `render` without a cluster: clearly placeholder values that a
 * GitOps pipeline replaces (or that flags override). */
export const defaultPlatformContext: PlatformContext = {
  namespace: "default",
  bucket: "yunshi-checkpoints",
  region: "us-west-2",
  trainerImage: "yunshi/trainer:0.1.0",
  checkpointAgentImage: "yunshi/checkpoint-agent:0.1.0",
  queue: "default",
  serviceAccount: "yunshi-training",
};
