/**
 * The program in another AWS partition (China: aws-cn): every ARN it writes into an IAM
 * policy, trust policy or bucket policy must come from `aws.getPartition()`, never a
 * hard-coded `arn:aws:` (which IAM there rejects or, worse, never matches).
 */
import { beforeAll, expect, it } from "vitest";
import { baseConfig, runProgram, type Recorded } from "./harness.ts";

let resources: Recorded[];
beforeAll(async () => {
  ({ resources } = await runProgram(baseConfig, { partition: "aws-cn" }));
});

it("writes only aws-cn ARNs into policies and managed-policy attachments", () => {
  const documents = resources.flatMap((r) =>
    ["policy", "assumeRolePolicy", "policyArn"]
      .map((key) => r.inputs[key])
      .filter((v): v is string => typeof v === "string")
      .map((text) => ({ name: `${r.type} ${r.name}`, text })),
  );
  expect(documents.length).toBeGreaterThan(15);
  const wrong = documents.filter((d) => /arn:aws:/.test(d.text)).map((d) => d.name);
  expect(wrong).toEqual([]);
  expect(documents.some((d) => d.text.includes("arn:aws-cn:s3:::"))).toBe(true);
});
