/** Invalid stack config stops the program before any resource is registered, naming the keys. */
import * as pulumi from "@pulumi/pulumi";
import { expect, it } from "vitest";
import { baseConfig, runProgram } from "./harness.ts";

it("fails `pulumi up` with a clean RunError naming each bad key", async () => {
  const bad = {
    ...baseConfig,
    "yunshi:gpu": JSON.stringify({ instanceFamilies: ["m5"] }),
    "yunshi:natGatway": "single",
  };
  const run = runProgram(bad);
  await expect(run).rejects.toBeInstanceOf(pulumi.RunError);
  await expect(run).rejects.toThrow(/yunshi:gpu\.instanceFamilies\[0\]: Invalid option.*got "m5"/);
  await expect(run).rejects.toThrow(
    /yunshi:natGatway: unknown key \(did you mean yunshi:natGateways\?\)/,
  );
});
