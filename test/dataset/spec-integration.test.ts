/** validate and submit --local run `dataset check` on a spec's local dataset folder. */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { CocoDataset } from "../../jobs/dataset/coco.ts";
import { cli, FIXTURES, tempDir } from "./cli.ts";

let dir: string;
let spec: string;
beforeAll(async () => {
  dir = await tempDir("spec");
  spec = join(dir, "exp.yaml");
  // The quickstart spec, with its dataset made by dataset convert in the spec's layout.
  await writeFile(spec, await readFile("examples/quickstart.yaml", "utf8"));
  const r = await cli(
    "dataset",
    "convert",
    join(FIXTURES, "voc-labelimg"),
    "-o",
    join(dir, "data/quickstart"),
    "--from",
    "voc",
    "--spec",
    spec,
  );
  expect(r.code, r.err).toBe(0);
});

describe("a spec with a local dataset", () => {
  it("validate passes a good one", async () => {
    const r = await cli("validate", spec);
    expect(r.code, r.err).toBe(0);
  });

  it("validate and submit --local refuse a broken one (exit 2), naming the picture", async () => {
    const ann = join(dir, "data/quickstart/annotations/val.json");
    const val = JSON.parse(await readFile(ann, "utf8")) as CocoDataset;
    const victim = val.images[0]!;
    await rm(join(dir, "data/quickstart/images", victim.file_name));
    const v = await cli("validate", spec);
    expect(v.code).toBe(2);
    expect(v.out).toBe("");
    const where = `annotations/val.json, image id ${victim.id} (${JSON.stringify(victim.file_name)}): picture images/${victim.file_name} is missing`;
    expect(v.err).toContain(where);
    const s = await cli("submit", spec, "--local", "--state-dir", join(dir, "state"));
    expect(s.code).toBe(2);
    expect(s.err).toContain(where);
  });
});
