/**
 * The quickstart dataset is what `yunshi dataset convert` makes from the LabelImg-style
 * VOC source that ships beside it (scripts/make-quickstart-data.ts writes both).
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";
import { cli, tempDir } from "./cli.ts";

it("examples/data/quickstart/ is dataset convert's output for examples/data/quickstart-voc/", async () => {
  const out = join(await tempDir("quickstart"), "quickstart");
  const r = await cli(
    "dataset",
    "convert",
    "examples/data/quickstart-voc",
    "-o",
    out,
    "--from",
    "voc",
    "--spec",
    "examples/quickstart.yaml",
    "--split",
    "folders",
  );
  expect(r.code, r.err).toBe(0);
  expect(r.err).toBe("");
  for (const subset of ["train", "val"]) {
    const made = JSON.parse(
      await readFile(join(out, `annotations/${subset}.json`), "utf8"),
    ) as unknown;
    const shipped = JSON.parse(
      await readFile(`examples/data/quickstart/annotations/${subset}.json`, "utf8"),
    ) as unknown;
    expect(made, subset).toEqual(shipped);
  }
  const pictures = (await readdir("examples/data/quickstart/images")).sort();
  expect((await readdir(join(out, "images"))).sort()).toEqual(pictures);
  for (const p of pictures)
    expect(
      (await readFile(join(out, "images", p))).equals(
        await readFile(join("examples/data/quickstart/images", p)),
      ),
      p,
    ).toBe(true);
});
