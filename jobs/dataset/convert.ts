/**
 * `dataset convert`: a labelled folder (VOC, YOLO or labelme) → COCO JSON and pictures in
 * the layout the spec expects. Everything is read and checked first; only a source without
 * errors is written, pictures first and annotation files last, so a half-written output is
 * never a valid-looking dataset. Reruns copy only pictures that changed.
 */
import {
  copyFile,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { mapLimit } from "../../images/checkpoint-agent/src/limiter.ts";
import { resolveClasses } from "./class-names.ts";
import { buildCoco, type PlacedBox, type PlacedImage } from "./coco.ts";
import { displayedSize, readImageHeader } from "./image-header.ts";
import { readLabelme } from "./labelme-reader.ts";
import { boxToUpright, ORIENTATION_WORDS } from "./orientation.ts";
import { imagePathIn, subsetLayout, type DatasetLayout } from "./layout.ts";
import { DatasetError, type DatasetProblem } from "./problems.ts";
import type { SourceFormat, SourceImage, SourceRead } from "./source-annotation.ts";
import { scanSourceTree } from "./source-tree.ts";
import { subsetOf, type Subset } from "./split.ts";
import { readVoc } from "./voc-reader.ts";
import { readYolo } from "./yolo-reader.ts";

/** Written last into the output: what produced it, and which files are ours on a rerun. */
export const CONVERT_MARKER = ".yunshi-convert.json";

export interface ConvertOptions {
  readonly src: string;
  readonly out: string;
  readonly from: SourceFormat;
  readonly classes: readonly string[] | undefined;
  /** How the user gave the classes, for messages: "--classes" or "exp.yaml dataset.classes". */
  readonly classesField: string;
  readonly layout: DatasetLayout;
  readonly valFraction: number;
  readonly seed: number;
  /**
   * `hash`: the stable hash split (split.ts). `folders`: the source is already split into
   * top-level train/ and val/ folders, which are kept (and left out of the file names).
   */
  readonly split: "hash" | "folders";
  readonly includeUnlabeled: boolean;
}

export interface DroppedBox {
  readonly file: string;
  readonly line?: number;
  readonly label: string;
  readonly reason: string;
}

export interface SubsetReport {
  readonly pictures: number;
  readonly boxesPerClass: readonly number[];
  readonly difficult: number;
  readonly empty: number;
}

export interface ConvertReport {
  readonly classes: readonly string[];
  readonly classesInferred: boolean;
  readonly train: SubsetReport;
  readonly val: SubsetReport;
  readonly dropped: readonly DroppedBox[];
  readonly clipped: number;
  /** Pictures whose boxes were turned upright with their EXIF orientation. */
  readonly turned: number;
  readonly notes: readonly DatasetProblem[];
  readonly unlabeled: number;
  readonly includeUnlabeled: boolean;
  readonly copied: number;
  readonly unchanged: number;
  readonly written: readonly string[];
}

interface Marker {
  readonly tool: "yunshi dataset convert";
  readonly source: string;
  readonly from: SourceFormat;
  readonly valFraction: number;
  readonly seed: number;
  readonly split: "hash" | "folders";
  readonly classes: readonly string[];
  readonly files: readonly string[];
}

async function read(src: string, out: string, o: ConvertOptions): Promise<SourceRead> {
  const tree = await scanSourceTree(src, [out]);
  const r =
    o.from === "voc"
      ? await readVoc(tree)
      : o.from === "yolo"
        ? await readYolo(tree, o.classes)
        : await readLabelme(tree);
  return { ...r, problems: [...tree.problems, ...r.problems] };
}

/** Refuses to write into a folder that holds anything but an earlier convert's output. */
async function previousOutput(out: string): Promise<Marker | undefined> {
  const text = await readFile(join(out, CONVERT_MARKER), "utf8").catch(() => undefined);
  if (text !== undefined) return JSON.parse(text) as Marker;
  const entries = await readdir(out).catch(() => [] as string[]);
  if (entries.length > 0)
    throw new DatasetError("dataset convert", [
      {
        file: out,
        message: "the output folder is not empty and was not written by dataset convert",
        fix: "choose a new folder for -o (convert rewrites only its own output)",
      },
    ]);
  return undefined;
}

export async function convertDataset(o: ConvertOptions): Promise<ConvertReport> {
  const src = resolve(o.src);
  const out = resolve(o.out);
  if (src === out || relative(out, src) === "" || !relative(out, src).startsWith(".."))
    throw new DatasetError("dataset convert", [
      { file: out, message: "-o must not be the source folder or contain it" },
    ]);
  if (o.layout.train.annotations === o.layout.val.annotations)
    throw new DatasetError("dataset convert", [
      {
        file: o.layout.origin,
        message: `dataset.train.annotations and dataset.val.annotations are the same file (${o.layout.train.annotations})`,
        fix: "give val its own file, e.g. annotations/val.json",
      },
    ]);
  const previous = await previousOutput(out);
  const source = await read(src, out, o);
  const problems: DatasetProblem[] = [...source.problems];
  const notes: DatasetProblem[] = [...source.notes];

  const pictures: SourceImage[] = [...source.images];
  if (o.includeUnlabeled)
    pictures.push(
      ...source.unlabeled.map((image) => ({ image, annotation: undefined, boxes: [] })),
    );
  const seen = new Map<string, string>();
  for (const p of pictures) {
    const other = seen.get(p.image);
    if (other !== undefined)
      problems.push({
        file: p.annotation ?? p.image,
        message: `annotates the same picture as ${other} (${p.image})`,
        fix: "keep one annotation file per picture",
      });
    seen.set(p.image, p.annotation ?? p.image);
  }
  const classes = resolveClasses(pictures, o.classes, source.classOrder, o.classesField);
  problems.push(...classes.problems);
  notes.push(...classes.notes);
  const classIndex = new Map(classes.classes.map((c, i) => [c, i]));

  const dropped: DroppedBox[] = [];
  let clipped = 0;
  let turned = 0;
  const placed = await mapLimit(pictures, 8, async (p) => {
    const header = readImageHeader(await readFile(join(src, p.image)));
    const from =
      p.annotation === undefined
        ? ""
        : ` (named in ${p.annotation}${p.imageLine === undefined ? "" : `:${p.imageLine}`})`;
    if (!header.ok) {
      problems.push({
        file: p.image,
        message: `${header.reason}${from}`,
        fix: "replace it with the real picture, or remove the picture and its annotation",
      });
      return undefined;
    }
    // W × H: the picture as the labelling tool showed it (LabelImg: as stored; labelme:
    // upright). Boxes are checked and clipped there, then turned upright for MMDetection.
    const upright = displayedSize(header);
    const { width: W, height: H } = source.frame === "stored" ? header : upright;
    const turn = source.frame === "stored" ? header.orientation : 1;
    const file = p.annotation ?? p.image;
    if (turn !== 1) {
      turned++;
      notes.push({
        file,
        message: `${p.image} has EXIF orientation ${turn} (${ORIENTATION_WORDS[turn] ?? "?"}): MMDetection shows it upright (${upright.width}×${upright.height}), LabelImg showed it as stored (${W}×${H}); the boxes were turned with it`,
      });
    }
    const d = p.declaredSize;
    // A picture resized after labelling (phone photos shrunk to save space) keeps its
    // aspect ratio: scale the boxes with it. Any other disagreement is only reported.
    let scale = 1;
    if (d !== undefined && (d.width !== W || d.height !== H)) {
      const [fx, fy] = [W / d.width, H / d.height];
      const uniform = Math.abs(fx / fy - 1) < 0.01;
      if (uniform) scale = fx;
      notes.push({
        file,
        message: `says the picture is ${d.width}×${d.height}, the file is ${W}×${H}${uniform ? `: resized after labelling, boxes scaled by ${+fx.toFixed(4)}` : "; boxes are kept as labelled and checked against the file"}`,
      });
    }
    const boxes: PlacedBox[] = [];
    for (const b of p.boxes) {
      const sx = b.units === "normalized" ? W : scale;
      const sy = b.units === "normalized" ? H : scale;
      const [x1, y1, x2, y2] = [b.x1 * sx, b.y1 * sy, b.x2 * sx, b.y2 * sy];
      const at = b.line === undefined ? {} : { line: b.line };
      if (x1 > W || y1 > H || x2 < 0 || y2 < 0) {
        problems.push({
          file,
          ...at,
          message: `box ${JSON.stringify(b.label)} [${[x1, y1, x2, y2].map((v) => +v.toFixed(2)).join(", ")}] lies outside the ${W}×${H} picture ${p.image}`,
          fix: "draw it again on this picture (was the annotation made for another picture or size?)",
        });
        continue;
      }
      const c = [Math.max(0, x1), Math.max(0, y1), Math.min(W, x2), Math.min(H, y2)] as const;
      if (c[0] !== x1 || c[1] !== y1 || c[2] !== x2 || c[3] !== y2) clipped++;
      const [w, h] = [c[2] - c[0], c[3] - c[1]];
      // MMDetection's CocoDataset skips boxes under one pixel; say so instead.
      if (w < 1 || h < 1) {
        dropped.push({
          file,
          ...at,
          label: b.label.trim(),
          reason: `${+w.toFixed(2)}×${+h.toFixed(2)} px${c[0] !== x1 || c[2] !== x2 || c[1] !== y1 || c[3] !== y2 ? " after clipping" : ""}, under 1 pixel`,
        });
        continue;
      }
      const index = classIndex.get(b.label) ?? classIndex.get(b.label.trim());
      if (index === undefined) continue; // reported by resolveClasses
      const u = boxToUpright({ x1: c[0], y1: c[1], x2: c[2], y2: c[3] }, turn, W, H);
      boxes.push({
        classIndex: index,
        x: u.x1,
        y: u.y1,
        w: u.x2 - u.x1,
        h: u.y2 - u.y1,
        difficult: b.difficult,
      });
    }
    return { picture: p, width: upright.width, height: upright.height, boxes };
  });
  const subsets: Record<Subset, PlacedImage[]> = { train: [], val: [] };
  const copies: { from: string; to: string }[] = [];
  const targets = new Map<string, string>();
  for (const x of placed) {
    if (x === undefined) continue;
    const side = sideOf(x.picture.image, o);
    if ("problem" in side) {
      problems.push(side.problem);
      continue;
    }
    const { subset, fileName } = side;
    const to = imagePathIn(subsetLayout(o.layout, subset), fileName);
    const clash = targets.get(to);
    if (clash !== undefined)
      problems.push({
        file: x.picture.image,
        message: `would be written to ${to}, like ${clash}`,
        fix: "rename one of them (train and val share one image folder in this layout)",
      });
    targets.set(to, x.picture.image);
    subsets[subset].push({ fileName, width: x.width, height: x.height, boxes: x.boxes });
    copies.push({ from: join(src, x.picture.image), to });
  }
  if (problems.length === 0)
    for (const subset of ["train", "val"] as const)
      if (subsets[subset].length === 0)
        // mmengine cannot build an empty dataset ("need at least one array to concatenate").
        problems.push(
          o.split === "folders"
            ? {
                file: `${subset}/`,
                message: `no pictures under ${subset}/: MMDetection cannot build an empty ${subset} set`,
              }
            : {
                file: "--val",
                message: `${subset} would have no pictures (${placed.filter(Boolean).length} pictures, --val ${o.valFraction}, --seed ${o.seed}): MMDetection cannot build an empty ${subset} set`,
                fix: "add pictures, change --val, or try another --seed",
              },
        );
  problems.sort(byPlace);
  notes.sort(byPlace);
  dropped.sort(byPlace);
  if (problems.length > 0) throw new DatasetError(`dataset convert ${o.src}`, problems);

  await mkdir(out, { recursive: true });
  let copied = 0;
  await mapLimit(copies, 8, async ({ from, to }) => {
    const dest = join(out, to);
    const [a, b] = await Promise.all([stat(from), stat(dest).catch(() => undefined)]);
    // utimes rounds to about a millisecond: compare with that tolerance.
    if (b !== undefined && b.size === a.size && Math.abs(b.mtimeMs - a.mtimeMs) < 2) return;
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(from, dest);
    await utimes(dest, a.atime, a.mtime);
    copied++;
  });
  const written: string[] = [];
  for (const subset of ["train", "val"] as const) {
    const coco = buildCoco(classes.classes, subsets[subset]);
    const rel = subsetLayout(o.layout, subset).annotations;
    await writeAtomic(join(out, rel), `${JSON.stringify(coco)}\n`);
    written.push(rel);
  }
  const files = [...written, ...copies.map((c) => c.to)];
  const keep = new Set(files);
  for (const old of previous?.files ?? [])
    if (!keep.has(old)) await rm(join(out, old), { force: true });
  const marker: Marker = {
    tool: "yunshi dataset convert",
    // Relative, so a committed output (examples/data/quickstart) names no machine path.
    source: relative(out, src),
    from: o.from,
    valFraction: o.valFraction,
    seed: o.seed,
    split: o.split,
    classes: classes.classes,
    files,
  };
  await writeAtomic(join(out, CONVERT_MARKER), `${JSON.stringify(marker, null, 1)}\n`);

  const report = (images: readonly PlacedImage[]): SubsetReport => {
    const perClass = classes.classes.map(() => 0);
    let difficult = 0;
    for (const img of images)
      for (const b of img.boxes) {
        perClass[b.classIndex] = (perClass[b.classIndex] ?? 0) + 1;
        if (b.difficult) difficult++;
      }
    return {
      pictures: images.length,
      boxesPerClass: perClass,
      difficult,
      empty: images.filter((i) => i.boxes.length === 0).length,
    };
  };
  return {
    classes: classes.classes,
    classesInferred: classes.inferred,
    train: report(subsets.train),
    val: report(subsets.val),
    dropped,
    clipped,
    turned,
    notes,
    unlabeled: source.unlabeled.length,
    includeUnlabeled: o.includeUnlabeled,
    copied,
    unchanged: copies.length - copied,
    written,
  };
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.yunshi-partial`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** Problems in file and line order, whatever order the parallel reads finished in. */
function byPlace(a: { file: string; line?: number }, b: { file: string; line?: number }): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : (a.line ?? 0) - (b.line ?? 0);
}

/** Which subset a picture goes to, and its file name there. */
function sideOf(
  image: string,
  o: ConvertOptions,
): { subset: Subset; fileName: string } | { problem: DatasetProblem } {
  if (o.split === "hash")
    return { subset: subsetOf(o.seed, image, o.valFraction), fileName: image };
  const [top, ...rest] = image.split("/");
  if ((top === "train" || top === "val") && rest.length > 0)
    return { subset: top, fileName: rest.join("/") };
  return {
    problem: {
      file: image,
      message: "with --split folders every picture must be under train/ or val/",
      fix: "move it into train/ or val/, or use the hash split (--val)",
    },
  };
}
