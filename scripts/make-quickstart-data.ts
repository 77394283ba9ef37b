/**
 * Writes the Quick start's toy dataset to examples/data/quickstart/ (committed; rerun only
 * to change it): small PNG "street scenes" with 行人 (tall boxes) and 车辆 (wide boxes), and
 * COCO JSON whose category names are those Chinese strings, character for character, as
 * MMDetection matches classes by name. Deterministic (seeded), no image library needed: the
 * PNGs are encoded here with node:zlib, so the files stay tiny (flat colours compress well).
 *
 *   npx tsx scripts/make-quickstart-data.ts [outDir]
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { format } from "prettier";

const WIDTH = 160;
const HEIGHT = 120;
const TRAIN_IMAGES = 16;
const VAL_IMAGES = 4;
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
  readonly category: number;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

function scene(rand: () => number): { png: Buffer; boxes: Box[] } {
  const rgb = Buffer.alloc(WIDTH * HEIGHT * 3);
  const fill = (x0: number, y0: number, w: number, h: number, c: readonly number[]): void => {
    for (let y = y0; y < Math.min(HEIGHT, y0 + h); y++)
      for (let x = x0; x < Math.min(WIDTH, x0 + w); x++) rgb.set(c, (y * WIDTH + x) * 3);
  };
  fill(0, 0, WIDTH, HEIGHT / 2, [150, 180, 210]); // sky
  fill(0, HEIGHT / 2, WIDTH, HEIGHT / 2, [90, 90, 95]); // road
  const boxes: Box[] = [];
  const n = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < n; i++) {
    const category = rand() < 0.5 ? 1 : 2;
    const [w, h] =
      category === 1 ? [8 + rand() * 6, 22 + rand() * 12] : [26 + rand() * 14, 12 + rand() * 8];
    const x = Math.floor(rand() * (WIDTH - w));
    const y = Math.floor(HEIGHT / 2 - h / 2 + rand() * (HEIGHT / 2 - h / 2));
    const box = { category, x, y, w: Math.round(w), h: Math.round(h) };
    fill(box.x, box.y, box.w, box.h, category === 1 ? [200, 60, 50] : [40, 70, 200]);
    boxes.push(box);
  }
  return { png: encodePng(rgb, WIDTH, HEIGHT), boxes };
}

async function writeSplit(out: string, split: string, count: number, seed: number): Promise<void> {
  const rand = prng(seed);
  const images: object[] = [];
  const annotations: object[] = [];
  for (let i = 1; i <= count; i++) {
    const file = `${split}_${String(i).padStart(3, "0")}.png`;
    const { png, boxes } = scene(rand);
    await writeFile(join(out, "images", file), png);
    images.push({ id: i, file_name: file, width: WIDTH, height: HEIGHT });
    for (const b of boxes) {
      annotations.push({
        id: annotations.length + 1,
        image_id: i,
        category_id: b.category,
        bbox: [b.x, b.y, b.w, b.h],
        area: b.w * b.h,
        iscrowd: 0,
      });
    }
  }
  const categories = CLASSES.map((name, i) => ({ id: i + 1, name }));
  await writeFile(
    join(out, "annotations", `${split}.json`),
    // Formatted as `npm run format:check` expects committed files to be.
    await format(JSON.stringify({ images, annotations, categories }), { parser: "json" }),
  );
}

const out = process.argv[2] ?? "examples/data/quickstart";
await rm(out, { recursive: true, force: true });
await mkdir(join(out, "images"), { recursive: true });
await mkdir(join(out, "annotations"), { recursive: true });
await writeSplit(out, "train", TRAIN_IMAGES, 7);
await writeSplit(out, "val", VAL_IMAGES, 11);
process.stdout.write(`wrote ${TRAIN_IMAGES} train and ${VAL_IMAGES} val images to ${out}\n`);
