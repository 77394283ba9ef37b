/**
 * `dataset check`: is this folder a COCO dataset MMDetection will train on, as the spec
 * describes it? Parses both annotation files, compares categories with the classes, opens
 * every picture (exists, is whole, has the size the JSON says), checks ids and boxes, and
 * counts boxes per class. Each problem names the file, the image and the annotation id.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { mapLimit } from "../../images/checkpoint-agent/src/limiter.ts";
import { displayedSize, readImageHeader } from "./image-header.ts";
import { imagePathIn, type DatasetLayout } from "./layout.ts";
import { DatasetError, type DatasetProblem } from "./problems.ts";
import type { Subset } from "./split.ts";

export interface CheckedSubset {
  readonly annotations: string;
  readonly pictures: number;
  readonly boxesPerClass: readonly number[];
  readonly difficult: number;
  readonly empty: number;
}

export interface CheckReport {
  readonly classes: readonly string[];
  readonly train: CheckedSubset;
  readonly val: CheckedSubset;
  readonly warnings: readonly DatasetProblem[];
}

interface RawImage {
  id?: unknown;
  file_name?: unknown;
  width?: unknown;
  height?: unknown;
}
interface RawAnnotation {
  id?: unknown;
  image_id?: unknown;
  category_id?: unknown;
  bbox?: unknown;
  iscrowd?: unknown;
}
interface RawCategory {
  id?: unknown;
  name?: unknown;
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
/** Boxes may touch the border; allow rounding to 1/100 pixel. */
const EPS = 0.01;

export interface CheckOptions {
  readonly dir: string;
  readonly layout: DatasetLayout;
  /** The spec's classes; without them train and val must agree with each other. */
  readonly classes: readonly string[] | undefined;
}

export async function checkDataset(o: CheckOptions): Promise<CheckReport> {
  const problems: DatasetProblem[] = [];
  const warnings: DatasetProblem[] = [];
  const results: Partial<Record<Subset, { report: CheckedSubset; names: string[] }>> = {};
  const seenPictures = new Map<string, string>();
  for (const subset of ["train", "val"] as const) {
    const layout = o.layout[subset];
    const file = layout.annotations;
    let doc: { images?: unknown; annotations?: unknown; categories?: unknown };
    try {
      doc = JSON.parse(await readFile(join(o.dir, file), "utf8")) as typeof doc;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push({
        file,
        message:
          code === "ENOENT"
            ? `missing (${subset} annotations, from ${o.layout.origin})`
            : `not valid JSON: ${(err as Error).message}`,
        fix: "convert the source again with yunshi dataset convert",
      });
      continue;
    }
    if (
      !Array.isArray(doc.images) ||
      !Array.isArray(doc.annotations) ||
      !Array.isArray(doc.categories)
    ) {
      problems.push({
        file,
        message: "not COCO detection JSON (needs images, annotations and categories arrays)",
      });
      continue;
    }
    const categories = (doc.categories as RawCategory[]).filter((c) => isNum(c.id));
    categories.sort((a, b) => (a.id as number) - (b.id as number));
    const names = categories.map((c) => String(c.name));
    const catIndex = new Map(categories.map((c, i) => [c.id as number, i]));
    if (o.classes !== undefined && names.join("\u0000") !== o.classes.join("\u0000")) {
      problems.push({
        file,
        message: `categories (by id) are [${names.join(", ")}], the classes are [${o.classes.join(", ")}]: MMDetection matches them by name, character for character, and in order`,
        fix: "convert again with the spec (--spec exp.yaml), or make dataset.classes equal the categories",
      });
    }

    if (doc.images.length === 0)
      problems.push({
        file,
        message: "no images: MMDetection cannot build an empty dataset",
        fix: "convert again with a larger --val, or add pictures",
      });
    const images = new Map<
      number,
      { name: string; width: number; height: number; boxes: number }
    >();
    for (const raw of doc.images as RawImage[]) {
      const label = `id ${String(raw.id)} (${JSON.stringify(raw.file_name)})`;
      if (
        !isNum(raw.id) ||
        typeof raw.file_name !== "string" ||
        !isNum(raw.width) ||
        !isNum(raw.height)
      ) {
        problems.push({
          file,
          image: label,
          message: "needs a numeric id, width, height and a file_name",
        });
        continue;
      }
      if (images.has(raw.id)) {
        problems.push({ file, image: label, message: `duplicate image id ${raw.id}` });
        continue;
      }
      images.set(raw.id, { name: raw.file_name, width: raw.width, height: raw.height, boxes: 0 });
      const path = imagePathIn(layout, raw.file_name);
      const other = seenPictures.get(path);
      if (other !== undefined && other !== subset)
        warnings.push({
          file,
          image: label,
          message: `also in ${other}: the same picture in train and val inflates val scores`,
        });
      else if (other === subset)
        problems.push({ file, image: label, message: `${path} is listed twice` });
      seenPictures.set(path, subset);
    }
    await mapLimit([...images.entries()], 8, async ([id, img]) => {
      const path = imagePathIn(layout, img.name);
      const label = `id ${id} (${JSON.stringify(img.name)})`;
      let bytes: Buffer;
      try {
        bytes = await readFile(join(o.dir, path));
      } catch {
        problems.push({ file, image: label, message: `picture ${path} is missing` });
        return;
      }
      const h = readImageHeader(bytes);
      if (!h.ok) {
        problems.push({ file, image: label, message: `picture ${path}: ${h.reason}` });
        return;
      }
      // MMDetection sees the picture upright (EXIF orientation applied on decode).
      const seen = displayedSize(h);
      if (seen.width !== img.width || seen.height !== img.height)
        problems.push({
          file,
          image: label,
          message:
            h.orientation >= 5 && h.width === img.width && h.height === img.height
              ? `the JSON gives the stored size ${img.width}×${img.height}, but the picture ${path} has EXIF orientation ${h.orientation}, so MMDetection turns it to ${seen.width}×${seen.height} and the boxes miss their objects`
              : `the JSON says ${img.width}×${img.height}, the picture ${path} is ${seen.width}×${seen.height}`,
          fix: "convert the source again with yunshi dataset convert (it turns boxes with the picture)",
        });
    });

    const annIds = new Set<number>();
    const perClass = names.map(() => 0);
    let difficult = 0;
    for (const a of doc.annotations as RawAnnotation[]) {
      const aid = isNum(a.id) ? a.id : undefined;
      const at = { file, ...(aid === undefined ? {} : { annotationId: aid }) };
      if (aid === undefined) {
        problems.push({
          ...at,
          message: `an annotation without a numeric id (image_id ${String(a.image_id)})`,
        });
        continue;
      }
      if (annIds.has(aid)) problems.push({ ...at, message: "duplicate annotation id" });
      annIds.add(aid);
      const img = isNum(a.image_id) ? images.get(a.image_id) : undefined;
      if (img === undefined) {
        problems.push({
          ...at,
          message: `image_id ${String(a.image_id)} is not an image in this file`,
        });
        continue;
      }
      const image = `id ${String(a.image_id)} (${JSON.stringify(img.name)})`;
      const ci = isNum(a.category_id) ? catIndex.get(a.category_id) : undefined;
      if (ci === undefined) {
        problems.push({
          ...at,
          image,
          message: `category_id ${String(a.category_id)} is not a category`,
        });
        continue;
      }
      const b = a.bbox;
      if (!Array.isArray(b) || b.length !== 4 || !b.every(isNum)) {
        problems.push({ ...at, image, message: "bbox must be [x, y, width, height]" });
        continue;
      }
      const [x, y, w, h] = b as [number, number, number, number];
      if (!(w > 0 && h > 0))
        problems.push({
          ...at,
          image,
          message: `bbox [${b.join(", ")}] has no area (width and height must be > 0)`,
        });
      else if (x < -EPS || y < -EPS || x + w > img.width + EPS || y + h > img.height + EPS)
        problems.push({
          ...at,
          image,
          message: `bbox [${b.join(", ")}] reaches outside the ${img.width}×${img.height} picture`,
          fix: "clip it to the picture (dataset convert does)",
        });
      perClass[ci] = (perClass[ci] ?? 0) + 1;
      if (a.iscrowd === 1) difficult++;
      img.boxes++;
    }
    results[subset] = {
      names,
      report: {
        annotations: file,
        pictures: images.size,
        boxesPerClass: perClass,
        difficult,
        empty: [...images.values()].filter((i) => i.boxes === 0).length,
      },
    };
  }
  const train = results.train;
  const val = results.val;
  if (
    o.classes === undefined &&
    train !== undefined &&
    val !== undefined &&
    train.names.join("\u0000") !== val.names.join("\u0000")
  )
    problems.push({
      file: val.report.annotations,
      message: `categories [${val.names.join(", ")}] differ from ${train.report.annotations}'s [${train.names.join(", ")}]`,
    });
  if (problems.length > 0 || train === undefined || val === undefined)
    throw new DatasetError(`dataset check ${o.dir}`, problems.sort(byPlace));
  return { classes: o.classes ?? train.names, train: train.report, val: val.report, warnings };
}

function byPlace(a: DatasetProblem, b: DatasetProblem): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return (
    (a.annotationId ?? 0) - (b.annotationId ?? 0) || (a.image ?? "").localeCompare(b.image ?? "")
  );
}
