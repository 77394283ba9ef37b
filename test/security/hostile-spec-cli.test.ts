/**
 * Issue 10 through the CLI, as a CI job on a fork's pull request would run it: every
 * hostile spec exits 2 with nothing on stdout and names the path and the fix; validate
 * and render agree on every spec; nothing reaches Object.prototype.
 */
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../jobs/program.ts";
import { patched, specYaml } from "../spec-fixtures.ts";
import { hostileSpecs } from "./hostile-specs.ts";

const exec = promisify(execFile);

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await run(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const prototypeNames = (): string[] => Object.getOwnPropertyNames(Object.prototype).sort();

let dir: string;
const files = new Map<string, string>();
const before = prototypeNames();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "yunshi-hostile-"));
  for (const [i, h] of hostileSpecs.entries()) {
    const file = join(dir, `hostile-${i}.yaml`);
    await writeFile(file, h.bytes);
    files.set(h.title, file);
  }
});

afterAll(() => {
  // Nothing any case did reached the prototype every object inherits from.
  expect(prototypeNames()).toEqual(before);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

describe("hostile specs through the CLI", () => {
  it.each(hostileSpecs)("$title → exit 2, empty stdout, $path named with the fix", async (h) => {
    const file = files.get(h.title)!;
    for (const command of ["validate", "render", "config"]) {
      const r = await cli(command, file);
      expect(r.code, `${command}: ${r.err}`).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toContain(h.path);
      expect(r.err).toMatch(h.message);
      if (h.fix !== undefined) expect(r.err).toMatch(new RegExp(`fix: .*${h.fix.source}`));
      expect(r.err).not.toMatch(/\n\s+at .*\(/); // no stack trace without --debug
    }
  });

  it("never repeats a password a spec holds", async () => {
    const r = await cli("validate", files.get("pretrained URL with credentials")!);
    expect(r.err).not.toContain("hunter2");
  });

  it("keeps optim_wrapper.constructor usable (a real MMEngine key)", async () => {
    const file = join(dir, "constructor.yaml");
    await writeFile(
      file,
      specYaml(
        patched({
          train: {
            cfgOptions: {
              "optim_wrapper.constructor": "LayerDecayOptimizerConstructor",
              "optim_wrapper.paramwise_cfg.decay_rate": 0.9,
              "optim_wrapper.paramwise_cfg.num_layers": 12,
            },
          },
        }),
      ),
    );
    const r = await cli("config", file);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("constructor='LayerDecayOptimizerConstructor'");
    expect(r.out).toMatch(/paramwise_cfg=dict\(decay_rate=0\.9, num_layers=12\)/);
    expect((await cli("validate", file)).code).toBe(0);
  });

  it("validate reads no local dataset outside the spec's folder (nor through a symlink)", async () => {
    const specDir = await mkdtemp(join(tmpdir(), "yunshi-outside-"));
    await symlink("/etc", join(specDir, "data"));
    for (const uri of ["/etc", "./data", "../../../../../../etc"]) {
      const file = join(specDir, "exp.yaml");
      await writeFile(
        file,
        specYaml(
          patched({
            dataset: {
              uri,
              train: { annotations: "passwd", images: "./" },
              val: { annotations: "hostname", images: "./" },
            },
          }),
        ),
      );
      const r = await cli("validate", file);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toContain("is outside the spec's folder, so validate does not read it");
      expect(r.err).not.toMatch(/root:|not valid JSON/);
    }
  });

  it("refuses through the installed bin too: a real process, exit 2, empty stdout", async () => {
    const bad = await exec("node", [
      "bin/yunshi.js",
      "validate",
      files.get("cfgOptions key through __proto__")!,
    ]).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2, stdout: "" });
    expect((bad as { stderr: string }).stderr).toContain("train.cfgOptions.__proto__.polluted");
  });
});

describe("validate and render agree", () => {
  const fixtureSpecs = readdirSync("test/fixtures")
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => join("test/fixtures", f));
  const exampleSpecs = readdirSync("examples")
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => join("examples", f));

  it("on every hostile spec, every invalid fixture and every example", async () => {
    const all = [...files.values(), ...fixtureSpecs, ...exampleSpecs];
    for (const file of all) {
      const validate = await cli("validate", file);
      const render = await cli("render", file);
      const localDataset = /local path, which only a local run can read/.test(render.err);
      if (localDataset) {
        // The one deliberate difference: a local dataset directory is valid for
        // submit --local, which validate accepts, and is refused by render (cluster only).
        expect(validate.code, `${file}: ${validate.err}`).toBe(0);
        expect(render.code).toBe(2);
        continue;
      }
      expect(render.code, `${file}: render says ${render.err}, validate says ${validate.err}`).toBe(
        validate.code,
      );
    }
  }, 120_000);
});
