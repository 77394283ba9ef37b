/**
 * Pascal VOC XML as LabelImg writes it (one .xml per picture, beside it or in a VOC devkit
 * Annotations/ folder). Coordinates are 1-based and inclusive: <xmin>1</xmin><xmax>10</xmax>
 * covers the first ten pixel columns, i.e. 0-based edges x1 = 0, x2 = 10. Parsing is
 * fast-xml-parser's; lines are found in the text so errors point at the right place.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { lineAt, type DatasetProblem } from "./problems.ts";
import type { SourceBox, SourceImage, SourceRead } from "./source-annotation.ts";
import { ImageIndex, type SourceTree } from "./source-tree.ts";
import { decodeAnnotationText } from "./text-decoding.ts";

type XmlNode = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: true,
  // Keep every value a string, spaces included: " 行人" must be seen to be reported.
  parseTagValue: false,
  trimValues: false,
  isArray: (name) => name === "object",
});

const text = (v: unknown): string | undefined => {
  if (typeof v === "string") return v;
  if (typeof v === "object" && v !== null && typeof (v as XmlNode)["#text"] === "string")
    return (v as XmlNode)["#text"] as string;
  return undefined;
};
const node = (v: unknown): XmlNode | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as XmlNode) : undefined;

/** Offsets of each `<tag` opening in `xml`, in document order. */
function tagOffsets(xml: string, tag: string, from = 0, to = xml.length): number[] {
  const re = new RegExp(`<${tag}[\\s>/]`, "g");
  re.lastIndex = from;
  const out: number[] = [];
  for (let m = re.exec(xml); m !== null && m.index < to; m = re.exec(xml)) out.push(m.index);
  return out;
}

export async function readVoc(tree: SourceTree): Promise<SourceRead> {
  const index = new ImageIndex(tree.images);
  const images: SourceImage[] = [];
  const problems: DatasetProblem[] = [];
  const notes: DatasetProblem[] = [];
  const annotated = new Set<string>();
  for (const file of tree.files.filter((f) => f.toLowerCase().endsWith(".xml"))) {
    const decoded = decodeAnnotationText(await readFile(join(tree.root, file)));
    if (decoded.guessed)
      notes.push({ file, message: "not UTF-8; read as GBK (LabelImg itself writes UTF-8)" });
    const xml = decoded.text;
    const valid = XMLValidator.validate(xml);
    if (valid !== true) {
      // Unclosed elements are reported at line 1 with a JSON list of their names: the file
      // was cut short (LabelImg or the machine stopped while saving). Say that, at its end.
      const open = /^Invalid '\[(.*)\]' found/s.exec(valid.err.msg)?.[1];
      const names = open === undefined ? [] : [...open.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
      problems.push({
        file,
        line: open === undefined ? valid.err.line : lineAt(xml, xml.trimEnd().length),
        message:
          open === undefined
            ? `malformed XML: ${valid.err.msg} (column ${valid.err.col})`
            : `malformed XML: the file ends inside <${names.join("> <")}> (cut short while saving?)`,
        fix: "open it in LabelImg and save it again, or fix the XML by hand",
      });
      continue;
    }
    const doc = node(node(parser.parse(xml) as unknown)?.["annotation"]);
    if (doc === undefined) {
      problems.push({
        file,
        line: 1,
        message: "not a Pascal VOC annotation (no <annotation> root element)",
        fix: "use --from yolo or --from labelme if this folder holds another format",
      });
      continue;
    }
    const filename = text(doc["filename"])?.trim();
    const labelledPath = text(doc["path"])?.trim();
    // LabelImg's <path> is absolute on the labeller's machine (often C:\...): its last part
    // is a second name to look for.
    const names = [filename, labelledPath?.split(/[\\/]/).pop()].filter(
      (n): n is string => n !== undefined && n !== "",
    );
    const found = index.resolve(file, names);
    const filenameLine = lineAt(xml, tagOffsets(xml, "filename")[0] ?? 0);
    if (found === undefined || "ambiguous" in found) {
      problems.push({
        file,
        line: filenameLine,
        message:
          found === undefined
            ? `picture ${JSON.stringify(filename ?? "")} not found (looked beside the XML, in ../JPEGImages/ and by name in the whole folder)`
            : `picture ${JSON.stringify(filename ?? "")} is ambiguous: ${found.ambiguous.join(", ")}`,
        fix: "put the picture beside its XML with the name in <filename>, or remove the XML",
      });
      continue;
    }
    annotated.add(found.found);
    const size = node(doc["size"]);
    const w = Number(text(size?.["width"])?.trim());
    const h = Number(text(size?.["height"])?.trim());
    const objects = Array.isArray(doc["object"]) ? (doc["object"] as unknown[]) : [];
    const objectAt = tagOffsets(xml, "object");
    const boxes: SourceBox[] = [];
    objects.forEach((raw, i) => {
      const start = objectAt[i] ?? 0;
      const end = objectAt[i + 1] ?? xml.length;
      const line = lineAt(xml, tagOffsets(xml, "name", start, end)[0] ?? start);
      const obj = node(raw) ?? {};
      const label = text(obj["name"]) ?? "";
      const bnd = node(obj["bndbox"]);
      if (bnd === undefined) {
        problems.push({ file, line, message: `object ${JSON.stringify(label)} has no <bndbox>` });
        return;
      }
      const coords = (["xmin", "ymin", "xmax", "ymax"] as const).map((k) =>
        Number(text(bnd[k])?.trim() ?? "NaN"),
      );
      const [xmin, ymin, xmax, ymax] = coords as [number, number, number, number];
      const boxLine = lineAt(xml, tagOffsets(xml, "bndbox", start, end)[0] ?? start);
      if (coords.some((c) => !Number.isFinite(c))) {
        problems.push({
          file,
          line: boxLine,
          message: `object ${JSON.stringify(label)}: <bndbox> needs numbers xmin, ymin, xmax, ymax`,
        });
        return;
      }
      // xmax = xmin - 1 is a zero-width box (LabelImg writes xmin 1, xmax 0 for a sliver at
      // the left edge): degenerate, dropped later. Anything less is inverted.
      if (xmax < xmin - 1 || ymax < ymin - 1) {
        problems.push({
          file,
          line: boxLine,
          message: `object ${JSON.stringify(label)}: inverted box (xmin ${xmin}, ymin ${ymin}, xmax ${xmax}, ymax ${ymax})`,
          fix: "draw the box again in LabelImg; xmax must be ≥ xmin and ymax ≥ ymin (1-based, inclusive)",
        });
        return;
      }
      const difficult = ["1", "true"].includes((text(obj["difficult"]) ?? "0").trim());
      boxes.push({
        label,
        x1: xmin - 1,
        y1: ymin - 1,
        x2: xmax,
        y2: ymax,
        units: "pixels",
        difficult,
        line,
      });
    });
    images.push({
      image: found.found,
      annotation: file,
      imageLine: filenameLine,
      boxes,
      ...(w > 0 && h > 0 ? { declaredSize: { width: w, height: h } } : {}),
    });
  }
  return {
    images,
    problems,
    notes,
    unlabeled: tree.images.filter((i) => !annotated.has(i)),
    // LabelImg shows pictures as stored (QImage ignores EXIF orientation).
    frame: "stored",
  };
}
