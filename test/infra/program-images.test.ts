/**
 * Images on a stack whose repositories already hold the current content (the ECR password,
 * an input of the build, changes every 12 hours, so `pulumi up` rebuilds): the immutable tag
 * is not pushed again, and the platform ConfigMap points at the digest ECR already has. The
 * registry cache is exported only when asked, with the builder named in config.
 */
import { beforeAll, expect, it } from "vitest";
import { contextHash } from "../../infra/context-hash.ts";
import { baseConfig, one, runProgram, type Recorded } from "./harness.ts";

const trainerTag = contextHash("images/trainer");
const digest = `sha256:${"ab".repeat(32)}`;
let resources: Recorded[];
let outputs: Record<string, unknown>;
beforeAll(async () => {
  ({ resources, outputs } = await runProgram(
    {
      ...baseConfig,
      "yunshi:images": JSON.stringify({ registryCache: true, builder: "yunshi" }),
    },
    {
      ecrImages: {
        "yunshi-dev/trainer": [
          { imageTag: "0123456789ab", imageDigest: `sha256:${"00".repeat(32)}` },
          { imageTag: trainerTag, imageDigest: digest },
        ],
      },
    },
  ));
});

it("does not push a tag ECR already has, and uses ECR's digest for it", () => {
  const trainer = one(resources, "docker-build:index:Image", "registry-trainer");
  expect(trainer.inputs["push"]).toBe(false);
  expect(outputs["trainerImage"]).toBe(
    `123456789012.dkr.ecr.us-east-1.amazonaws.com/yunshi-dev/trainer:${trainerTag}@${digest}`,
  );
  // The other image's content is new: built and pushed.
  expect(
    one(resources, "docker-build:index:Image", "registry-checkpoint-agent").inputs["push"],
  ).toBe(true);
});

it("exports the registry cache with the configured builder only when asked", () => {
  const trainer = one(resources, "docker-build:index:Image", "registry-trainer");
  expect(trainer.inputs["builder"]).toEqual({ name: "yunshi" });
  expect(trainer.inputs["cacheTo"]).toEqual([
    {
      registry: {
        ref: "123456789012.dkr.ecr.us-east-1.amazonaws.com/yunshi-dev/trainer:buildcache",
        mode: "max",
        imageManifest: true,
        ociMediaTypes: true,
      },
    },
  ]);
});
