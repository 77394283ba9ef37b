/**
 * labelme JSON: one file per picture with `imagePath` (relative to the JSON, sometimes with
 * Windows backslashes) and `shapes`. Rectangles become boxes; a polygon becomes its
 * bounding box (reported); points, lines and circles are not boxes and are reported and
 * left out. Coordinates are 0-based continuous pixels already.
 */
import { readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { lineAt, type DatasetProblem } from "./problems.ts";
import type { SourceBox, SourceImage, SourceRead } from "./source-annotation.ts";
import { ImageIndex, type SourceTree } from "./source-tree.ts";
import { decodeAnnotationText } from "./text-decoding.ts";

interface LabelmeShape {
  label?: unknown;
  points?: unknown;
  shape_type?: unknown;
}

/** Where JSON.parse stopped, from V8's message ("... at position 123" / "(line 4 column 2)"). */
function jsonErrorLine(text: string, message: string): number | undefined {
  const line = /line (\d+) column/.exec(message)?.[1];
  if (line !== undefined) return Number(line);
  const pos = /position (\d+)/.exec(message)?.[1];
  return pos === undefined ? undefined : lineAt(text, Number(pos));
}

function labelLines(text: string): number[] {
  const out: number[] = [];
  const re = /"label"\s*:/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(lineAt(text, m.index));
  return out;
}

export async function readLabelme(tree: SourceTree): Promise<SourceRead> {
  const index = new ImageIndex(tree.images);
  const images: SourceImage[] = [];
  const problems: DatasetProblem[] = [];
  const notes: DatasetProblem[] = [];
  const annotated = new Set<string>();
  for (const file of tree.files.filter((f) => f.toLowerCase().endsWith(".json"))) {
    const decoded = decodeAnnotationText(await readFile(join(tree.root, file)));
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(decoded.text) as Record<string, unknown>;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const line = jsonErrorLine(decoded.text, msg);
      problems.push({
        file,
        ...(line === undefined ? {} : { line }),
        message: `malformed JSON: ${msg}`,
        fix: "open it in labelme and save it again",
      });
      continue;
    }
    if (typeof doc !== "object" || doc === null || !Array.isArray(doc["shapes"])) continue;
    const imagePath = typeof doc["imagePath"] === "string" ? doc["imagePath"] : "";
    const rel = imagePath.replaceAll("\\", "/");
    const dir = posix.dirname(file);
    const direct = posix.normalize(dir === "." ? rel : `${dir}/${rel}`);
    const found = index.has(direct)
      ? { found: direct }
      : index.resolve(
          file,
          [posix.basename(rel)].filter((n) => n !== ""),
        );
    if (found === undefined || "ambiguous" in found) {
      problems.push({
        file,
        line: lineAt(decoded.text, decoded.text.indexOf('"imagePath"')),
        message:
          found === undefined
            ? `picture ${JSON.stringify(imagePath)} not found`
            : `picture ${JSON.stringify(imagePath)} is ambiguous: ${found.ambiguous.join(", ")}`,
        fix: "keep the picture where imagePath says (relative to the JSON)",
      });
      continue;
    }
    annotated.add(found.found);
    const lines = labelLines(decoded.text);
    const boxes: SourceBox[] = [];
    let polygons = 0;
    (doc["shapes"] as LabelmeShape[]).forEach((shape, i) => {
      const line = lines[i];
      const at = line === undefined ? {} : { line };
      const label = typeof shape.label === "string" ? shape.label : "";
      const type = typeof shape.shape_type === "string" ? shape.shape_type : "polygon";
      const points = Array.isArray(shape.points) ? (shape.points as unknown[]) : [];
      const xy = points.filter(
        (p): p is [number, number] =>
          Array.isArray(p) && typeof p[0] === "number" && typeof p[1] === "number",
      );
      if (type !== "rectangle" && type !== "polygon") {
        notes.push({
          file,
          ...at,
          message: `shape ${JSON.stringify(label)} is a ${type}, not a box; left out`,
        });
        return;
      }
      if (xy.length < 2 || xy.length !== points.length) {
        problems.push({ file, ...at, message: `shape ${JSON.stringify(label)}: bad points` });
        return;
      }
      if (type === "polygon") polygons++;
      const xs = xy.map((p) => p[0]);
      const ys = xy.map((p) => p[1]);
      boxes.push({
        label,
        x1: Math.min(...xs),
        y1: Math.min(...ys),
        x2: Math.max(...xs),
        y2: Math.max(...ys),
        units: "pixels",
        difficult: false,
        ...at,
      });
    });
    if (polygons > 0)
      notes.push({
        file,
        message: `${polygons} polygon${polygons === 1 ? "" : "s"} converted to bounding boxes`,
      });
    const w = doc["imageWidth"];
    const h = doc["imageHeight"];
    images.push({
      image: found.found,
      annotation: file,
      imageLine: lineAt(decoded.text, decoded.text.indexOf('"imagePath"')),
      boxes,
      ...(typeof w === "number" && typeof h === "number" && w > 0 && h > 0
        ? { declaredSize: { width: w, height: h } }
        : {}),
    });
  }
  return {
    images,
    problems,
    notes,
    unlabeled: tree.images.filter((i) => !annotated.has(i)),
    // labelme applies the EXIF orientation before showing a picture (utils.apply_exif_orientation).
    frame: "upright",
  };
}
