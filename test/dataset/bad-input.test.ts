/**
 * Bad input exits 2, names the file and line, and writes nothing: one folder per mistake
 * under test/fixtures/dataset/bad/ (LabelImg output, then broken the way users break it).
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli, FIXTURES, tempDir } from "./cli.ts";

const cases: [folder: string, where: string, says: string][] = [
  [
    "malformed-xml",
    "图片 1.xml:23",
    "malformed XML: the file ends inside <annotation> <object> <bndbox>",
  ],
  ["missing-image", "图片 1.xml:3", 'picture "图片 1.jpg" not found'],
  [
    "not-an-image",
    "图片 1.jpg",
    "not a picture (no JPEG/PNG/BMP/TIFF/WebP header) (named in 图片 1.xml:3)",
  ],
  ["unknown-class", "图片 1.xml:27", 'unknown class "自行车" (classes: 行人, 车辆)'],
  [
    "inverted-box",
    "图片 1.xml:31",
    'object "车辆": inverted box (xmin 100, ymin 40, xmax 60, ymax 60)',
  ],
  [
    "box-outside",
    "图片 1.xml:27",
    'box "车辆" [179, 39, 220, 60] lies outside the 128×96 picture 图片 1.jpg',
  ],
];

describe("dataset convert: bad input", () => {
  it.each(cases)("%s → exit 2 at %s, nothing written", async (folder, where, says) => {
    const out = join(await tempDir(`bad-${folder}`), "out");
    const r = await cli(
      "dataset",
      "convert",
      join(FIXTURES, "bad", folder),
      "-o",
      out,
      "--from",
      "voc",
      "--classes",
      "行人,车辆",
    );
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toContain(`${where}: ${says}`);
    expect(r.err).toContain("fix:");
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });

  it("the malformed XML's line is where the file stops", async () => {
    const { readFile } = await import("node:fs/promises");
    const text = await readFile(join(FIXTURES, "bad/malformed-xml/图片 1.xml"), "utf8");
    expect(text.trimEnd().split("\n")).toHaveLength(23);
  });

  it("a did-you-mean for a near miss", async () => {
    const out = join(await tempDir("bad-near"), "out");
    const r = await cli(
      "dataset",
      "convert",
      join(FIXTURES, "bad/unknown-class"),
      "-o",
      out,
      "--from",
      "voc",
      "--classes",
      "行人,自行车辆",
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown class "自行车"; did you mean "自行车辆"?');
  });

  it("flags are checked before anything is read", async () => {
    const src = join(FIXTURES, "voc-labelimg");
    const out = join(await tempDir("bad-flags"), "out");
    for (const [args, says] of [
      [["--from", "pascal"], '--from "pascal": expected one of voc, yolo, labelme'],
      [["--from", "voc", "--val", "1.5"], '--val "1.5": expected a fraction from 0 to below 1'],
      [["--from", "voc", "--seed", "-1"], '--seed "-1": expected a whole number ≥ 0'],
      [["--from", "voc", "--classes", "行人,行人"], 'class "行人" is listed twice'],
      [
        ["--from", "voc", "--classes", "行人", "--spec", "examples/quickstart.yaml"],
        "--classes and --spec: give one",
      ],
    ] as const) {
      const r = await cli("dataset", "convert", src, "-o", out, ...args);
      expect(r.code, says).toBe(2);
      expect(r.err).toContain(says);
    }
    const missing = await cli(
      "dataset",
      "convert",
      join(FIXTURES, "nope"),
      "-o",
      out,
      "--from",
      "voc",
    );
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("no such folder");
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });
});
