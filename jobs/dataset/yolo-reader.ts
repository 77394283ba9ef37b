/**
 * YOLO txt as LabelImg writes it in YOLO mode: one `<stem>.txt` per picture with lines
 * `class cx cy w h` (fractions of the picture's size) and a `classes.txt` naming the class
 * indices, in the save folder. The class list comes from the nearest classes.txt above a
 * label file, else from --classes (index i is the i-th class).
 */
import { readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import type { DatasetProblem } from "./problems.ts";
import type { SourceBox, SourceImage, SourceRead } from "./source-annotation.ts";
import { IMAGE_EXTENSIONS, ImageIndex, type SourceTree } from "./source-tree.ts";
import { decodeAnnotationText } from "./text-decoding.ts";

const CLASSES_FILE = "classes.txt";

async function readLines(root: string, file: string): Promise<{ lines: string[]; gbk: boolean }> {
  const d = decodeAnnotationText(await readFile(join(root, file)));
  return { lines: d.text.split(/\r?\n/), gbk: d.guessed };
}

/** The classes.txt governing `file`: in its folder or the nearest one above. */
function classesFileFor(file: string, present: ReadonlySet<string>): string | undefined {
  for (let dir = posix.dirname(file); ; dir = posix.dirname(dir)) {
    const candidate = dir === "." ? CLASSES_FILE : `${dir}/${CLASSES_FILE}`;
    if (present.has(candidate)) return candidate;
    if (dir === "." || dir === "/" || dir === "") return undefined;
  }
}

export async function readYolo(
  tree: SourceTree,
  given: readonly string[] | undefined,
): Promise<SourceRead> {
  const index = new ImageIndex(tree.images);
  const images: SourceImage[] = [];
  const problems: DatasetProblem[] = [];
  const notes: DatasetProblem[] = [];
  const annotated = new Set<string>();
  const present = new Set(tree.files.filter((f) => posix.basename(f) === CLASSES_FILE));
  const classLists = new Map<string, string[]>();
  for (const f of present) {
    const { lines, gbk } = await readLines(tree.root, f);
    if (gbk) notes.push({ file: f, message: "not UTF-8; read as GBK" });
    classLists.set(
      f,
      lines.filter((l) => l.trim() !== ""),
    );
  }
  let classOrder: string[] | undefined;
  for (const file of tree.files.filter(
    (f) => f.toLowerCase().endsWith(".txt") && posix.basename(f) !== CLASSES_FILE,
  )) {
    const classesFile = classesFileFor(file, present);
    const names = classesFile === undefined ? given : classLists.get(classesFile);
    if (names === undefined) {
      problems.push({
        file,
        message: `no ${CLASSES_FILE} beside it or above it, so its class numbers mean nothing`,
        fix: `copy LabelImg's ${CLASSES_FILE} into the folder, or pass --classes in LabelImg's order`,
      });
      continue;
    }
    classOrder ??= names === given ? undefined : [...names];
    const stem = posix.basename(file, posix.extname(file));
    const found = index.resolve(
      file,
      IMAGE_EXTENSIONS.map((e) => stem + e),
    );
    if (found === undefined || "ambiguous" in found) {
      problems.push({
        file,
        message:
          found === undefined
            ? `no picture named ${stem}.jpg/.png/… beside it or elsewhere in the folder`
            : `picture for ${stem} is ambiguous: ${found.ambiguous.join(", ")}`,
        fix: "put the picture beside its .txt with the same name, or remove the .txt",
      });
      continue;
    }
    annotated.add(found.found);
    const { lines, gbk } = await readLines(tree.root, file);
    if (gbk) notes.push({ file, message: "not UTF-8; read as GBK" });
    const boxes: SourceBox[] = [];
    lines.forEach((raw, i) => {
      const line = i + 1;
      if (raw.trim() === "") return;
      const fields = raw.trim().split(/\s+/);
      const nums = fields.map(Number);
      if (fields.length !== 5 || nums.some((n) => !Number.isFinite(n))) {
        problems.push({
          file,
          line,
          message: `expected "class cx cy w h" (5 numbers), got ${JSON.stringify(raw)}`,
        });
        return;
      }
      const [cls, cx, cy, w, h] = nums as [number, number, number, number, number];
      const label = Number.isInteger(cls) ? names[cls] : undefined;
      if (label === undefined) {
        problems.push({
          file,
          line,
          message: `class number ${fields[0]} is not in ${classesFile ?? "--classes"} (${names.length} classes, numbered from 0)`,
          fix: `use the ${CLASSES_FILE} LabelImg saved with these labels`,
        });
        return;
      }
      if (w < 0 || h < 0) {
        problems.push({ file, line, message: `negative width or height (${w}, ${h})` });
        return;
      }
      boxes.push({
        label,
        x1: cx - w / 2,
        y1: cy - h / 2,
        x2: cx + w / 2,
        y2: cy + h / 2,
        units: "normalized",
        difficult: false,
        line,
      });
    });
    images.push({ image: found.found, annotation: file, boxes });
  }
  return {
    images,
    problems,
    notes,
    unlabeled: tree.images.filter((i) => !annotated.has(i)),
    // LabelImg shows pictures as stored (QImage ignores EXIF orientation).
    frame: "stored",
    ...(classOrder === undefined ? {} : { classOrder }),
  };
}
