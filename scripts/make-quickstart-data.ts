/**
 * Writes the Quick start's toy dataset (committed; rerun only to change it): small PNG
 * pictures of 行人 (a tall figure) and 车辆 (a wide car) on plain backgrounds, and COCO JSON
 * whose category names are those Chinese strings, character for character, as MMDetection
 * matches classes by name. The objects are large, few and drawn in distinct colours and
 * shapes on purpose: the Quick start's detector, trained from scratch on CPU in a few
 * minutes, must visibly learn them (issue 13: val bbox_mAP_50 ≥ 0.5). Deterministic (seeded),
 * no image library needed: the PNGs are encoded here with node:zlib, so the files stay tiny
 * (flat colours compress well).
 * The labels are written as LabelImg writes them (Pascal VOC XML beside each picture, in
 * examples/data/quickstart-voc/{train,val}/), and examples/data/quickstart/ is made from them
 * by `yunshi dataset convert` (jobs/dataset/), exactly as a user's own dataset would be:
 *
 *   yunshi dataset convert examples/data/quickstart-voc -o examples/data/quickstart \
 *     --from voc --spec examples/quickstart.yaml --split folders
 *
 *   npx tsx scripts/make-quickstart-data.ts [outDir] [vocDir]
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { XMLBuilder } from "fast-xml-parser";
import { format } from "prettier";
import { CONVERT_MARKER, convertDataset } from "../jobs/dataset/convert.ts";
import { layoutFromSpec } from "../jobs/dataset/layout.ts";
import { loadExperimentFile } from "../jobs/spec/load-experiment.ts";

const WIDTH = 160;
const HEIGHT = 120;
const TRAIN_IMAGES = 48;
const VAL_IMAGES = 12;
const CLASSES = ["行人", "车辆"] as const;

/** mulberry32: a tiny seeded PRNG, so the committed files are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
/** RGB 8-bit PNG from a width×height×3 pixel buffer. */
function encodePng(rgb: Buffer, w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) rgb.copy(raw, y * (w * 3 + 1) + 1, y * w * 3, (y + 1) * w * 3);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

interface Box {
  readonly category: 1 | 2;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** A canvas with the few drawing primitives the scenes need (clipped to the picture). */
class Canvas {
  readonly rgb = Buffer.alloc(WIDTH * HEIGHT * 3);
  rect(x0: number, y0: number, w: number, h: number, c: Rgb): void {
    for (let y = Math.max(0, y0); y < Math.min(HEIGHT, y0 + h); y++)
      for (let x = Math.max(0, x0); x < Math.min(WIDTH, x0 + w); x++)
        this.rgb.set(c, (y * WIDTH + x) * 3);
  }
  disc(cx: number, cy: number, r: number, c: Rgb): void {
    for (let y = Math.floor(cy - r); y <= Math.ceil(cy + r); y++)
      for (let x = Math.floor(cx - r); x <= Math.ceil(cx + r); x++)
        if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r && x >= 0 && y >= 0 && x < WIDTH && y < HEIGHT)
          this.rgb.set(c, (y * WIDTH + x) * 3);
  }
}
type Rgb = readonly [number, number, number];

/** Plain backgrounds, so the only structure in a picture is the objects. */
const BACKGROUNDS: readonly Rgb[] = [
  [200, 200, 195],
  [170, 190, 210],
  [205, 195, 170],
  [180, 205, 180],
  [150, 150, 155],
];
/** 行人 warm, 车辆 cool: colour alone almost tells the classes apart; shape does the rest. */
const PERSON_COLOURS: readonly Rgb[] = [
  [210, 50, 40],
  [230, 120, 30],
  [190, 40, 110],
];
const VEHICLE_COLOURS: readonly Rgb[] = [
  [30, 70, 200],
  [20, 140, 150],
  [60, 60, 160],
];
const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const between = (rand: () => number, lo: number, hi: number): number =>
  Math.round(lo + rand() * (hi - lo));

/** 行人: a tall figure (head on a body on two legs), about 20-30 × 50-80 px. */
function drawPerson(c: Canvas, b: Box, colour: Rgb): void {
  const head = Math.round(b.w * 0.35);
  c.disc(b.x + b.w / 2, b.y + head, head, [235, 190, 160]);
  const bodyTop = b.y + 2 * head;
  const legTop = bodyTop + Math.round((b.h - 2 * head) * 0.55);
  c.rect(b.x, bodyTop, b.w, legTop - bodyTop, colour);
  const leg = Math.max(3, Math.round(b.w * 0.3));
  c.rect(b.x + 1, legTop, leg, b.y + b.h - legTop, [40, 40, 60]);
  c.rect(b.x + b.w - 1 - leg, legTop, leg, b.y + b.h - legTop, [40, 40, 60]);
}

/** 车辆: a wide body with a cabin and two wheels, about 55-85 × 30-42 px. */
function drawVehicle(c: Canvas, b: Box, colour: Rgb): void {
  const wheel = Math.round(b.h * 0.22);
  const bodyBottom = b.y + b.h - wheel;
  const cabinH = Math.round(b.h * 0.35);
  c.rect(b.x + Math.round(b.w * 0.2), b.y, Math.round(b.w * 0.55), cabinH, colour);
  c.rect(b.x + Math.round(b.w * 0.27), b.y + 3, Math.round(b.w * 0.4), cabinH - 5, [210, 230, 240]);
  c.rect(b.x, b.y + cabinH, b.w, bodyBottom - b.y - cabinH, colour);
  c.disc(b.x + b.w * 0.25, bodyBottom, wheel, [25, 25, 25]);
  c.disc(b.x + b.w * 0.75, bodyBottom, wheel, [25, 25, 25]);
}

const overlaps = (a: Box, b: Box): boolean =>
  a.x < b.x + b.w + 4 && b.x < a.x + a.w + 4 && a.y < b.y + b.h + 4 && b.y < a.y + a.h + 4;

/** One picture: a plain background and 1-2 large objects that do not overlap. */
function scene(rand: () => number): { png: Buffer; boxes: Box[] } {
  const canvas = new Canvas();
  canvas.rect(0, 0, WIDTH, HEIGHT, pick(rand, BACKGROUNDS));
  const boxes: Box[] = [];
  const wanted = 1 + Math.floor(rand() * 2);
  for (let attempt = 0; boxes.length < wanted && attempt < 50; attempt++) {
    const category = rand() < 0.5 ? 1 : 2;
    const [w, h] =
      category === 1
        ? [between(rand, 20, 30), between(rand, 50, 80)]
        : [between(rand, 55, 85), between(rand, 30, 42)];
    const box: Box = {
      category,
      x: between(rand, 2, WIDTH - w - 2),
      y: between(rand, 2, HEIGHT - h - 2),
      w,
      h,
    };
    if (boxes.some((b) => overlaps(b, box))) continue;
    if (category === 1) drawPerson(canvas, box, pick(rand, PERSON_COLOURS));
    else drawVehicle(canvas, box, pick(rand, VEHICLE_COLOURS));
    boxes.push(box);
  }
  return { png: encodePng(canvas.rgb, WIDTH, HEIGHT), boxes };
}

/**
 * One picture's annotation as LabelImg writes it (Pascal VOC; 1-based, inclusive pixel
 * coordinates), built as an object and serialised by fast-xml-parser.
 */
function vocXml(file: string, folder: string, boxes: readonly Box[]): string {
  const doc = {
    annotation: {
      folder,
      filename: file,
      source: { database: "yunshi quickstart (scripts/make-quickstart-data.ts)" },
      size: { width: WIDTH, height: HEIGHT, depth: 3 },
      segmented: 0,
      object: boxes.map((b) => ({
        name: CLASSES[b.category - 1],
        pose: "Unspecified",
        truncated: 0,
        difficult: 0,
        bndbox: { xmin: b.x + 1, ymin: b.y + 1, xmax: b.x + b.w, ymax: b.y + b.h },
      })),
    },
  };
  return new XMLBuilder({ format: true, indentBy: "\t" }).build(doc);
}

/** The pictures and their LabelImg-style VOC XML, under vocDir/<split>/. */
async function writeSplit(
  vocDir: string,
  split: string,
  count: number,
  seed: number,
): Promise<void> {
  const rand = prng(seed);
  await mkdir(join(vocDir, split), { recursive: true });
  for (let i = 1; i <= count; i++) {
    const stem = `${split}_${String(i).padStart(3, "0")}`;
    const { png, boxes } = scene(rand);
    await writeFile(join(vocDir, split, `${stem}.png`), png);
    await writeFile(join(vocDir, split, `${stem}.xml`), vocXml(`${stem}.png`, split, boxes));
  }
}

// The labelled source (what a person would have made with LabelImg) ships beside the
// dataset; the COCO dataset itself comes from `yunshi dataset convert`, in the layout that
// examples/quickstart.yaml expects, keeping the train/val folders as the split.
const out = process.argv[2] ?? "examples/data/quickstart";
const vocDir = process.argv[3] ?? "examples/data/quickstart-voc";
await rm(out, { recursive: true, force: true });
await rm(vocDir, { recursive: true, force: true });
await writeSplit(vocDir, "train", TRAIN_IMAGES, 7);
await writeSplit(vocDir, "val", VAL_IMAGES, 11);
const spec = "examples/quickstart.yaml";
const { experiment } = await loadExperimentFile(spec);
await convertDataset({
  src: vocDir,
  out,
  from: "voc",
  classes: experiment.dataset.classes,
  classesField: `${spec} dataset.classes`,
  layout: layoutFromSpec(experiment, spec),
  valFraction: 0,
  seed: 0,
  split: "folders",
  includeUnlabeled: false,
});
// The committed example holds only what the spec reads; the COCO files are formatted as
// `npm run format:check` expects committed files to be.
await rm(join(out, CONVERT_MARKER), { force: true });
for (const subset of [experiment.dataset.train, experiment.dataset.val]) {
  const file = join(out, subset.annotations);
  await writeFile(file, await format(await readFile(file, "utf8"), { parser: "json" }));
}
process.stdout.write(
  `wrote ${TRAIN_IMAGES} train and ${VAL_IMAGES} val pictures with VOC XML to ${vocDir}, converted into ${out}\n`,
);
