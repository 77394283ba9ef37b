import { expect, it } from "vitest";
import { ecrRepositoryHardened } from "../../policies/ecr-repository-hardened.ts";
import { validateResource } from "./harness.ts";

const repo = "aws:ecr/repository:Repository";

it("accepts scan-on-push with immutable tags (with or without exclusions)", async () => {
  for (const m of ["IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"])
    expect(
      await validateResource(ecrRepositoryHardened, repo, {
        imageScanningConfiguration: { scanOnPush: true },
        imageTagMutability: m,
      }),
    ).toEqual([]);
});

it("rejects a repository without scanning and with mutable tags (the AWS default)", async () => {
  expect(await validateResource(ecrRepositoryHardened, repo, {})).toEqual([
    "r: must set imageScanningConfiguration.scanOnPush: true.",
    'r: imageTagMutability must be IMMUTABLE or IMMUTABLE_WITH_EXCLUSION (got "MUTABLE").',
  ]);
});
