/** dataset check: a converted dataset passes; each kind of damage is located and exits 2. */
import { cp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { CocoDataset } from "../../jobs/dataset/coco.ts";
import { cli, FIXTURES, tempDir } from "./cli.ts";

let good: string;
beforeAll(async () => {
  good = join(await tempDir("check"), "good");
  const r = await cli(
    "dataset",
    "convert",
    join(FIXTURES, "voc-labelimg"),
    "-o",
    good,
    "--from",
    "voc",
    "--classes",
    "行人,车辆",
  );
  expect(r.code, r.err).toBe(0);
});

/** A copy of the good dataset with train.json changed by `edit`. */
async function damaged(name: string, edit: (c: EditableCoco) => void): Promise<string> {
  const dir = join(await tempDir(`check-${name}`), "ds");
  await cp(good, dir, { recursive: true });
  const file = join(dir, "annotations/train.json");
  const c = JSON.parse(await readFile(file, "utf8")) as EditableCoco;
  edit(c);
  await writeFile(file, JSON.stringify(c));
  return dir;
}

/** COCO JSON as a test edits it. */
interface EditableCoco {
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { id: number; image_id: number; bbox: number[] }[];
}

describe("dataset check", () => {
  it("passes a converted dataset and prints the class histogram", async () => {
    const r = await cli("dataset", "check", good, "--classes", "行人,车辆");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("a valid COCO dataset");
    expect(r.out).toMatch(/行人\s+\d+\s+\d+\s+12/);
    expect(r.out).toMatch(/车辆\s+\d+\s+\d+\s+12/);
  });

  it("categories must equal the classes, in order", async () => {
    const r = await cli("dataset", "check", good, "--classes", "车辆,行人");
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      "annotations/train.json: categories (by id) are [行人, 车辆], the classes are [车辆, 行人]",
    );
  });

  it("locates each problem by file, image and annotation id", async () => {
    let outsideId = 0;
    const dir = await damaged("many", (c) => {
      const images = c.images;
      const anns = c.annotations;
      images[0]!.width = 999; // size disagrees with the picture
      images.push({ ...images[1]!, id: images[1]!.id }); // duplicate id
      const k = anns.findIndex((a) => a.image_id !== images[0]!.id);
      anns[k]!.bbox = [120, 10, 20, 10]; // past the right edge of a 128-wide picture
      outsideId = anns[k]!.id;
      anns[1]!.image_id = 4242; // no such image
      anns.push({ ...anns[2]!, id: anns[2]!.id }); // duplicate annotation id
    });
    const first = JSON.parse(
      await readFile(join(dir, "annotations/train.json"), "utf8"),
    ) as CocoDataset;
    const img0 = first.images[0]!;
    const r = await cli("dataset", "check", dir);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    const e = r.err;
    expect(e).toContain(
      `annotations/train.json, image id ${img0.id} (${JSON.stringify(img0.file_name)}): the JSON says 999×${img0.height}`,
    );
    expect(e).toMatch(/image id \d+ .*: duplicate image id \d+/);
    expect(e).toContain(
      `annotation id ${outsideId}: bbox [120, 10, 20, 10] reaches outside the 128×96 picture`,
    );
    expect(e).toContain("annotation id 2: image_id 4242 is not an image in this file");
    expect(e).toContain(`annotation id 3: duplicate annotation id`);
  });

  it("a missing or broken picture is named", async () => {
    const dir = join(await tempDir("check-pics"), "ds");
    await cp(good, dir, { recursive: true });
    const train = JSON.parse(
      await readFile(join(dir, "annotations/train.json"), "utf8"),
    ) as CocoDataset;
    const [a, b] = train.images;
    await rm(join(dir, "train", a!.file_name));
    const bytes = await readFile(join(dir, "train", b!.file_name));
    await writeFile(join(dir, "train", b!.file_name), bytes.subarray(0, bytes.length / 2));
    const r = await cli("dataset", "check", dir);
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      `image id ${a!.id} (${JSON.stringify(a!.file_name)}): picture train/${a!.file_name} is missing`,
    );
    expect(r.err).toMatch(
      new RegExp(`image id ${b!.id} .*: picture train/.*: the (JPEG|PNG) is cut short`),
    );
  });

  it("missing annotation files and non-COCO JSON", async () => {
    const dir = join(await tempDir("check-json"), "ds");
    await cp(good, dir, { recursive: true });
    await rm(join(dir, "annotations/val.json"));
    await writeFile(join(dir, "annotations/train.json"), '{"images": []}');
    const r = await cli("dataset", "check", dir);
    expect(r.code).toBe(2);
    expect(r.err).toContain("annotations/train.json: not COCO detection JSON");
    expect(r.err).toContain(
      "annotations/val.json: missing (val annotations, from the default layout)",
    );
  });
});
