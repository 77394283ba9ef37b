/**
 * A prepare step that fails in a local run, as in the pod: the trainer (already importing
 * and building beside it) stops with the step's exit code, and the run says which step
 * failed and why, with nothing trained.
 */
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32Base64 } from "../../images/checkpoint-agent/src/checksum.ts";
import { BUCKET, startS3, testStore, type S3Server } from "../checkpoint-agent/helpers.ts";
import { REPO, startLocalRun, whyNoVenv } from "./harness.ts";

const noVenv = whyNoVenv();

describe.skipIf(noVenv !== undefined)("submit --local when prepare fails", () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3();
  });
  afterAll(async () => {
    await s3.close();
  });

  it("a corrupt checkpoint manifest: prepare fails at restore, the trainer exits 6, the run says so", async () => {
    const body = Buffer.from("{not json");
    await testStore(s3.endpoint).putObject("local/quickstart/checkpoints/LATEST.json", body, {
      crc32Base64: crc32Base64(body),
    });
    const stateDir = await mkdtemp(join(tmpdir(), "yunshi-prepare-fail-"));
    const run = startLocalRun(
      [
        join(REPO, "examples", "quickstart.yaml"),
        "--state-dir",
        stateDir,
        "--s3-endpoint",
        s3.endpoint,
        "--bucket",
        BUCKET,
      ],
      {
        env: {
          AWS_ACCESS_KEY_ID: "S3RVER",
          AWS_SECRET_ACCESS_KEY: "S3RVER",
          AWS_REGION: "us-east-1",
          AWS_EC2_METADATA_DISABLED: "true",
          AWS_CONFIG_FILE: "/nonexistent/yunshi-config",
          AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/yunshi-credentials",
        },
      },
    );
    const code = await run.exited;
    const out = run.text();
    expect(code, out).toBe(1);
    expect(out).toMatch(/prepare failed: restore: .*LATEST\.json/);
    expect(out).toMatch(/▸ Failed: prepare restore: /);
    expect(out).not.toMatch(/epoch 1 \[1\//);
    expect(out).not.toMatch(/▸ Training/);
    // The trainer built beside prepare, read the verdict and stopped with restore's code.
    const trainerLog = await readFile(
      join(stateDir, "runs", "quickstart", "logs", "trainer.log"),
      "utf8",
    );
    expect(trainerLog).toMatch(/yunshi-train: fatal \(checkpoint\): PrepareFailed/);
    expect(trainerLog).toMatch(/exit code 6/);
    // The snapshot sidecar saw the failed verdict and uploaded nothing (no noise about it).
    expect(out).not.toMatch(/final upload failed/);
  }, 240_000);
});
