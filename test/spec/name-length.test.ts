/**
 * The name-length limit of multi-node runs (issue 16, finding 2): JobSet's webhook requires
 * `<name>-node-0-<podIndex>-xxxxx` to fit in 63 characters, so `validate` refuses longer names
 * before anything reaches a cluster. test/control-plane/ proves the same limits on the real
 * JobSet webhook.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../jobs/program.ts";
import { multiNodeNameLimit } from "../../jobs/spec/experiment-rules.ts";
import { patched, specYaml } from "../spec-fixtures.ts";

async function validate(name: string, nodes: number): Promise<{ code: number; err: string }> {
  const dir = await mkdtemp(join(tmpdir(), "yunshi-name-"));
  const file = join(dir, "spec.yaml");
  await writeFile(file, specYaml(patched({ name, resources: { nodes, gpusPerNode: 8 } })));
  let err = "";
  const code = await run(["validate", file], { out: () => {}, err: (t) => void (err += t) });
  return { code, err };
}

const nameOf = (n: number) => "a" + "b".repeat(n - 1);

describe("multi-node name length", () => {
  it("is 48 for up to 10 nodes and 47 beyond", () => {
    expect(multiNodeNameLimit(2)).toBe(48);
    expect(multiNodeNameLimit(10)).toBe(48);
    expect(multiNodeNameLimit(11)).toBe(47);
    expect(multiNodeNameLimit(100)).toBe(47);
    // The pod name JobSet builds for the longest index fits exactly.
    for (const nodes of [2, 10, 11, 100])
      expect(`${nameOf(multiNodeNameLimit(nodes))}-node-0-${nodes - 1}-abcde`).toHaveLength(63);
  });

  it.each([
    [2, 48, 0],
    [2, 49, 2],
    [10, 48, 0],
    [11, 48, 2],
    [11, 47, 0],
  ])("validate: %i nodes, %i characters → exit %i", async (nodes, length, code) => {
    const r = await validate(nameOf(length), nodes);
    expect(r.code, r.err).toBe(code);
    if (code === 2) {
      expect(r.err).toContain(`has ${length} characters`);
      expect(r.err).toContain(`at most ${multiNodeNameLimit(nodes)}`);
    }
  });

  it("leaves single-node runs at the schema's 50 characters", async () => {
    expect((await validate(nameOf(50), 1)).code).toBe(0);
  });
});
