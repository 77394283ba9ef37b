/**
 * dataset convert on real LabelImg (VOC, YOLO) and labelme output with Chinese folder, file
 * and class names (test/fixtures/dataset/make-fixtures.py generated them).
 */
import { cp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CocoDataset } from "../../jobs/dataset/coco.ts";
import { cli, FIXTURES, tempDir } from "./cli.ts";

async function coco(dir: string, subset: "train" | "val"): Promise<CocoDataset> {
  return JSON.parse(
    await readFile(join(dir, "annotations", `${subset}.json`), "utf8"),
  ) as CocoDataset;
}

async function both(dir: string): Promise<{
  images: CocoDataset["images"];
  anns: (CocoDataset["annotations"][number] & { file: string })[];
}> {
  const out = {
    images: [] as CocoDataset["images"][number][],
    anns: [] as (CocoDataset["annotations"][number] & { file: string })[],
  };
  for (const s of ["train", "val"] as const) {
    const c = await coco(dir, s);
    out.images.push(...c.images);
    const name = new Map(c.images.map((i) => [i.id, i.file_name]));
    out.anns.push(...c.annotations.map((a) => ({ ...a, file: name.get(a.image_id) ?? "" })));
  }
  return out;
}

describe("dataset convert --from voc (LabelImg)", () => {
  it("writes COCO in the default layout, keeps Chinese and space-containing paths exactly, and prints the summary", async () => {
    const out = join(await tempDir("voc"), "out");
    const r = await cli(
      "dataset",
      "convert",
      join(FIXTURES, "voc-labelimg"),
      "-o",
      out,
      "--from",
      "voc",
      "--classes",
      "行人,车辆",
    );
    expect(r.code, r.err).toBe(0);
    const train = await coco(out, "train");
    const val = await coco(out, "val");
    expect(train.categories).toEqual([
      { id: 1, name: "行人" },
      { id: 2, name: "车辆" },
    ]);
    expect(val.categories).toEqual(train.categories);
    // 12 labelled pictures (未标注.jpg has no XML and is left out by default).
    const names = [...train.images, ...val.images].map((i) => i.file_name).sort();
    expect(names).toHaveLength(12);
    expect(names).toContain("路口 一/图片 01.jpg");
    expect(names).toContain("路口 二/夜间 照片 03.png");
    for (const img of train.images) await stat(join(out, "train", img.file_name));
    for (const img of val.images) await stat(join(out, "val", img.file_name));
    expect(r.out).toContain("✓ converted into");
    expect(r.out).toMatch(/pictures\s+\d+\s+\d+\s+12/);
    expect(r.out).toMatch(/行人\s+\d+\s+\d+\s+12/);
    expect(r.out).toContain("dropped 1 box:");
    expect(r.out).toContain("路口 一/图片 04.xml:39: 行人, 0×31 px, under 1 pixel");
    expect(r.out).toContain("clipped to the picture: 1 box");
    expect(r.out).toContain("1 picture(s) without an annotation file left out");
    expect(r.out).toMatch(/empty pictures \(no boxes\)\s+\d+\s+\d+\s+1/);
  });

  it("turns 1-based inclusive VOC boxes into COCO [x, y, w, h], clips to the real size, keeps difficult as iscrowd", async () => {
    const out = join(await tempDir("voc-boxes"), "out");
    expect(
      (
        await cli(
          "dataset",
          "convert",
          join(FIXTURES, "voc-labelimg"),
          "-o",
          out,
          "--from",
          "voc",
          "--classes",
          "行人,车辆",
        )
      ).code,
    ).toBe(0);
    const { anns } = await both(out);
    const of = (file: string): number[][] =>
      anns.filter((a) => a.file === file).map((a) => [...a.bbox]);
    // 图片 06.xml: 行人 xmin 62 ymin 26 xmax 74 ymax 56 → x 61, y 25, w 13, h 31.
    const xml = await readFile(join(FIXTURES, "voc-labelimg/路口 一/图片 06.xml"), "utf8");
    expect(xml).toMatch(
      /<xmin>62<\/xmin>\s*<ymin>26<\/ymin>\s*<xmax>74<\/xmax>\s*<ymax>56<\/ymax>/,
    );
    expect(of("路口 一/图片 06.jpg")).toContainEqual([61, 25, 13, 31]);
    // 图片 03.xml: 车辆 dragged to x 140 on a 128-wide picture → clipped at 128.
    expect(of("路口 一/图片 03.jpg")).toContainEqual([99, 39, 29, 21]);
    // 图片 01.xml: the third object is difficult → iscrowd 1 (MMDetection: ignore_flag 1).
    const difficult = anns.filter((a) => a.iscrowd === 1);
    expect(difficult.map((a) => a.file)).toEqual(["路口 一/图片 01.jpg"]);
    // 图片 05.jpg was enlarged to 160×120 after labelling: its boxes are scaled by 1.25.
    const img05 = (await both(out)).images.find((i) => i.file_name === "路口 一/图片 05.jpg");
    expect(img05).toMatchObject({ width: 160, height: 120 });
    // Its 行人 was xmin 53 ymin 25 xmax 65 ymax 55 on 128×96: [52, 24, 13, 31] × 1.25.
    expect(of("路口 一/图片 05.jpg")).toContainEqual([65, 30, 16.25, 38.75]);
    // Every box lies inside its picture and is at least a pixel wide.
    const { images } = await both(out);
    for (const a of anns) {
      const img = images.find((i) => i.file_name === a.file);
      expect(img).toBeDefined();
      const [x, y, w, h] = a.bbox;
      expect(
        x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= img!.width && y + h <= img!.height,
        a.file,
      ).toBe(true);
      expect(a.area).toBeCloseTo(w * h, 1);
    }
  });

  it("reports stray spaces, GBK files and resized pictures, and maps the label to the class", async () => {
    const out = join(await tempDir("voc-notes"), "out");
    const r = await cli(
      "dataset",
      "convert",
      join(FIXTURES, "voc-labelimg"),
      "-o",
      out,
      "--from",
      "voc",
      "--classes",
      "行人,车辆",
    );
    expect(r.code).toBe(0);
    expect(r.err).toContain(
      '路口 一/图片 02.xml:15: label " 行人" has stray spaces; counted as "行人"',
    );
    expect(r.err).toContain("路口 二/夜间 照片 03.xml: not UTF-8; read as GBK");
    expect(r.err).toContain(
      "路口 一/图片 05.xml: says the picture is 128×96, the file is 160×120: resized after labelling, boxes scaled by 1.25",
    );
    const { anns } = await both(out);
    // The GBK files (with and without an encoding declaration) were read: their boxes are there.
    expect(anns.filter((a) => a.file === "路口 二/夜间 照片 02.png")).toHaveLength(2);
    expect(anns.filter((a) => a.file === "路口 二/夜间 照片 03.png")).toHaveLength(2);
    expect(
      anns
        .filter((a) => a.file === "路口 一/图片 02.jpg")
        .map((a) => a.category_id)
        .sort(),
    ).toEqual([1, 2]);
  });

  it("--include-unlabeled adds pictures without XML as background", async () => {
    const out = join(await tempDir("voc-unlabeled"), "out");
    const r = await cli(
      "dataset",
      "convert",
      join(FIXTURES, "voc-labelimg"),
      "-o",
      out,
      "--from",
      "voc",
      "--classes",
      "行人,车辆",
      "--include-unlabeled",
    );
    expect(r.code, r.err).toBe(0);
    const { images, anns } = await both(out);
    const bg = images.find((i) => i.file_name === "路口 一/未标注.jpg");
    expect(bg).toBeDefined();
    expect(anns.filter((a) => a.file === "路口 一/未标注.jpg")).toEqual([]);
  });

  it("takes classes and layout from --spec", async () => {
    const dir = await tempDir("voc-spec");
    const spec = join(dir, "exp.yaml");
    const text = (await readFile("examples/quickstart.yaml", "utf8")).replace(
      /classes: \[[^\]]*\]/,
      "classes: [车辆, 行人]",
    );
    await writeFile(spec, text);
    const out = join(dir, "data");
    const r = await cli(
      "dataset",
      "convert",
      join(FIXTURES, "voc-labelimg"),
      "-o",
      out,
      "--from",
      "voc",
      "--spec",
      spec,
    );
    expect(r.code, r.err).toBe(0);
    const check = await cli("dataset", "check", out, "--spec", spec);
    expect(check.code, check.err).toBe(0);
    const t = await coco(out, "train");
    expect(t.categories.map((c) => c.name)).toEqual(["车辆", "行人"]);
  });

  it("a rerun copies nothing unchanged, and the split stays when pictures are added", async () => {
    const dir = await tempDir("voc-stable");
    const src = join(dir, "src");
    await cp(join(FIXTURES, "voc-labelimg"), src, { recursive: true });
    const out = join(dir, "out");
    const args = [
      "dataset",
      "convert",
      src,
      "-o",
      out,
      "--from",
      "voc",
      "--classes",
      "行人,车辆",
      "--val",
      "0.3",
      "--seed",
      "7",
    ];
    expect((await cli(...args)).code).toBe(0);
    const before = new Map((await both(out)).images.map((i) => [i.file_name, i]));
    const valBefore = (await coco(out, "val")).images.map((i) => i.file_name);
    const again = await cli(...args);
    expect(again.out).toContain("0 picture(s) copied, 12 unchanged");
    // Add 20 pictures (copies of a labelled one under new names).
    for (let i = 0; i < 20; i++) {
      await cp(join(src, "路口 一/图片 06.jpg"), join(src, `新增/新 ${i}.jpg`));
      const xml = (await readFile(join(src, "路口 一/图片 06.xml"), "utf8")).replace(
        "图片 06.jpg",
        `新 ${i}.jpg`,
      );
      await writeFile(join(src, `新增/新 ${i}.xml`), xml);
    }
    const grown = await cli(...args);
    expect(grown.code, grown.err).toBe(0);
    const valAfter = (await coco(out, "val")).images.map((i) => i.file_name);
    const trainAfter = (await coco(out, "train")).images.map((i) => i.file_name);
    for (const name of before.keys())
      expect(valAfter.includes(name), name).toBe(valBefore.includes(name));
    expect(valAfter.length + trainAfter.length).toBe(32);
    expect(grown.out).toContain("20 picture(s) copied, 12 unchanged");
  });

  it("--split folders keeps the source's train/ and val/ folders", async () => {
    const dir = await tempDir("voc-folders");
    const src = join(dir, "src");
    await cp(join(FIXTURES, "voc-labelimg/路口 一"), join(src, "train/路口 一"), {
      recursive: true,
    });
    await cp(join(FIXTURES, "voc-labelimg/路口 二"), join(src, "val/路口 二"), { recursive: true });
    const out = join(dir, "out");
    const args = ["dataset", "convert", src, "-o", out, "--from", "voc", "--classes", "行人,车辆"];
    const r = await cli(...args, "--split", "folders");
    expect(r.code, r.err).toBe(0);
    expect((await coco(out, "train")).images.map((i) => i.file_name).sort()).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `路口 一/图片 0${i}.jpg`),
    );
    expect((await coco(out, "val")).images.map((i) => i.file_name).sort()).toEqual(
      [1, 2, 3, 4].map((i) => `路口 二/夜间 照片 0${i}.png`),
    );
    await stat(join(out, "val/路口 二/夜间 照片 01.png"));
    // A picture outside train/ and val/ is an error.
    await cp(join(FIXTURES, "voc-labelimg/路口 二"), join(src, "其他"), { recursive: true });
    const bad = await cli(...args, "--split", "folders", "-o", join(dir, "out2"));
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(
      "其他/夜间 照片 01.png: with --split folders every picture must be under train/ or val/",
    );
  });

  it("refuses an output folder it did not write", async () => {
    const dir = await tempDir("voc-refuse");
    await writeFile(join(dir, "notes.txt"), "mine");
    const r = await cli(
      "dataset",
      "convert",
      join(FIXTURES, "voc-labelimg"),
      "-o",
      dir,
      "--from",
      "voc",
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain("the output folder is not empty");
    expect(await readdir(dir)).toEqual(["notes.txt"]);
  });
});

describe("dataset convert: phone photos with EXIF orientation (LabelImg shows them as stored)", () => {
  it("gives the upright size and turns the boxes with the picture", async () => {
    const out = join(await tempDir("exif"), "out");
    const r = await cli(
      "dataset",
      "convert",
      join(FIXTURES, "voc-exif"),
      "-o",
      out,
      "--from",
      "voc",
      "--classes",
      "行人,车辆",
      "--split",
      "folders",
    );
    expect(r.code, r.err).toBe(0);
    const train = await coco(out, "train");
    const val = await coco(out, "val");
    // Stored 128×96; orientation 6 and 8 both display 96×128.
    expect(train.images).toEqual([{ id: 1, file_name: "手机/竖拍 1.jpg", width: 96, height: 128 }]);
    expect(val.images).toEqual([{ id: 1, file_name: "手机/竖拍 2.jpg", width: 96, height: 128 }]);
    // 行人 stored at x 19–32, y 29–60 (LabelImg xmin 20 … ymax 60).
    // Orientation 6 (turn 90° clockwise): x' = 96 − y, y' = x → x 36–67, y 19–32.
    expect(train.annotations[0]?.bbox).toEqual([36, 19, 31, 13]);
    // Orientation 8 (turn 90° anticlockwise): x' = y, y' = 128 − x → x 29–60, y 96–109.
    expect(val.annotations[0]?.bbox).toEqual([29, 96, 31, 13]);
    expect(r.err).toContain(
      "手机/竖拍 1.jpg has EXIF orientation 6 (turned 90° clockwise): MMDetection shows it upright (96×128), LabelImg showed it as stored (128×96); the boxes were turned with it",
    );
    expect(r.out).toContain(
      "turned upright with their EXIF orientation: the boxes of 2 picture(s)",
    );
    expect((await cli("dataset", "check", out, "--classes", "行人,车辆")).code).toBe(0);
  });

  it("dataset check catches a COCO file that kept the stored size", async () => {
    const out = join(await tempDir("exif-check"), "out");
    expect(
      (
        await cli(
          "dataset",
          "convert",
          join(FIXTURES, "voc-exif"),
          "-o",
          out,
          "--from",
          "voc",
          "--classes",
          "行人,车辆",
          "--split",
          "folders",
        )
      ).code,
    ).toBe(0);
    const file = join(out, "annotations/train.json");
    const t = JSON.parse(await readFile(file, "utf8")) as {
      images: { width: number; height: number }[];
    };
    t.images[0]!.width = 128;
    t.images[0]!.height = 96;
    await writeFile(file, JSON.stringify(t));
    const r = await cli("dataset", "check", out);
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      "the JSON gives the stored size 128×96, but the picture train/手机/竖拍 1.jpg has EXIF orientation 6, so MMDetection turns it to 96×128",
    );
  });
});

describe("dataset convert: an empty subset", () => {
  it("is an error, since MMDetection cannot build an empty dataset", async () => {
    const out = join(await tempDir("empty-val"), "out");
    const r = await cli(
      "dataset",
      "convert",
      join(FIXTURES, "yolo-labelimg"),
      "-o",
      out,
      "--from",
      "yolo",
      "--val",
      "0",
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      "--val: val would have no pictures (6 pictures, --val 0, --seed 0): MMDetection cannot build an empty val set",
    );
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });
});

describe("dataset convert --from yolo (LabelImg YOLO mode)", () => {
  it("reads classes.txt and scales normalised boxes by the real picture size", async () => {
    const out = join(await tempDir("yolo"), "out");
    const r = await cli(
      "dataset",
      "convert",
      join(FIXTURES, "yolo-labelimg"),
      "-o",
      out,
      "--from",
      "yolo",
      "--classes",
      "行人,车辆",
    );
    expect(r.code, r.err).toBe(0);
    const { images, anns } = await both(out);
    expect(images.map((i) => i.file_name).sort()).toEqual(
      [1, 2, 3, 4, 5, 6].map((i) => `标注 A/街景 ${i}.jpg`),
    );
    // LabelImg's classes.txt is "行人\n车辆"; 街景 1.txt: "1 0.242188 0.677083 0.312500 0.208333" (车辆).
    const txt = await readFile(join(FIXTURES, "yolo-labelimg/标注 A/街景 1.txt"), "utf8");
    expect(txt.split("\n")[0]).toBe("1 0.242188 0.677083 0.312500 0.208333");
    const box = anns.find((a) => a.file === "标注 A/街景 1.jpg" && a.category_id === 2);
    expect(box?.bbox).toEqual([11, 55, 40, 20]);
  });

  it("without --classes takes LabelImg's classes.txt order and says so", async () => {
    const out = join(await tempDir("yolo-inferred"), "out");
    const r = await cli(
      "dataset",
      "convert",
      join(FIXTURES, "yolo-labelimg"),
      "-o",
      out,
      "--from",
      "yolo",
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("classes: 行人, 车辆  (taken from the labels");
  });
});

describe("dataset convert --from labelme", () => {
  it("converts rectangles and polygons, leaves points out, drops zero-size boxes, all reported", async () => {
    const out = join(await tempDir("labelme"), "out");
    const r = await cli(
      "dataset",
      "convert",
      join(FIXTURES, "labelme"),
      "-o",
      out,
      "--from",
      "labelme",
      "--classes",
      "行人,车辆",
    );
    expect(r.code, r.err).toBe(0);
    const { images, anns } = await both(out);
    expect(images.map((i) => i.file_name).sort()).toEqual(
      [1, 2, 3, 4].map((i) => `图像/样本 ${i}.jpg`),
    );
    expect(anns.filter((a) => a.file === "图像/样本 1.jpg").map((a) => [...a.bbox])).toContainEqual(
      [99, 10, 11, 30],
    );
    expect(anns.filter((a) => a.file === "图像/样本 2.jpg")).toHaveLength(2);
    expect(r.err).toContain("标注/样本 1.json: 1 polygon converted to bounding boxes");
    expect(r.err).toContain('标注/样本 2.json:42: shape "行人" is a point, not a box; left out');
    expect(r.out).toContain("标注/样本 3.json:42: 车辆, 0×0 px, under 1 pixel");
  });
});
