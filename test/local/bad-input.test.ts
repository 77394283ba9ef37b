/** Bad input to `submit --local`: clear errors, exit 2, nothing started or written. */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startLocalRun, whyNoVenv } from "./harness.ts";

async function stateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "yunshi-local-bad-"));
}

describe("submit --local with bad input", () => {
  it("names a missing dataset path, resolved against the spec's folder", async () => {
    const dir = await stateDir();
    const spec = join(dir, "exp.yaml");
    const text = (await readFile("examples/quickstart.yaml", "utf8")).replace(
      "uri: ./data/quickstart/",
      "uri: ./no-such-data/",
    );
    await writeFile(spec, text);
    const run = startLocalRun([spec, "--state-dir", join(dir, "state")]);
    expect(await run.exited).toBe(2);
    expect(run.text()).toContain(
      `dataset.uri "./no-such-data/" (${join(dir, "no-such-data")}) does not exist`,
    );
    expect(existsSync(join(dir, "state"))).toBe(false);
  });

  it("refuses a YUNSHI_PYTHON that does not exist", async () => {
    const dir = await stateDir();
    const run = startLocalRun(["examples/quickstart.yaml", "--state-dir", join(dir, "state")], {
      env: { YUNSHI_PYTHON: "/nonexistent/python" },
    });
    expect(await run.exited).toBe(2);
    expect(run.text()).toMatch(
      /YUNSHI_PYTHON="\/nonexistent\/python" cannot train: no such program/,
    );
    expect(existsSync(join(dir, "state"))).toBe(false);
  });

  it.skipIf(whyNoVenv() !== undefined)(
    "refuses an occupied port for the embedded store",
    async () => {
      const dir = await stateDir();
      const busy = createServer();
      await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
      const addr = busy.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      try {
        const run = startLocalRun([
          "examples/quickstart.yaml",
          "--state-dir",
          join(dir, "state"),
          "--s3-port",
          String(port),
        ]);
        expect(await run.exited).toBe(2);
        expect(run.text()).toContain(`--s3-port ${port}: port ${port} on 127.0.0.1 is in use`);
        expect(existsSync(join(dir, "state"))).toBe(false);
      } finally {
        busy.close();
      }
    },
  );

  it("refuses fp16 when this machine has no GPU, and a malformed endpoint", async () => {
    const dir = await stateDir();
    const spec = join(dir, "exp.yaml");
    const text = (await readFile("examples/quickstart.yaml", "utf8"))
      .replace("uri: ./data/quickstart/", `uri: ${join(process.cwd(), "examples/data/quickstart")}`)
      .replace("precision: fp32", "precision: fp16")
      .replace("gpusPerNode: 0", "gpusPerNode: 1");
    await writeFile(spec, text);
    const run = startLocalRun([spec, "--state-dir", join(dir, "state")], {
      env: { CUDA_VISIBLE_DEVICES: "" },
    });
    expect(await run.exited).toBe(2);
    expect(run.text()).toMatch(/train\.precision fp16 needs a GPU .* set train\.precision: fp32/);
    const bad = startLocalRun(["examples/quickstart.yaml", "--s3-endpoint", "minio:9000"]);
    expect(await bad.exited).toBe(2);
    expect(bad.text()).toMatch(/--s3-endpoint "minio:9000": expected an http\(s\) URL/);
  });
});
