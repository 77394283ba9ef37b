/**
 * Labels → categories. MMDetection matches classes by name, character for character, so a
 * label with a stray space ("行人 ") would silently become a class of its own. Labels equal
 * to a class after trimming (ASCII and full-width spaces) are mapped to it and reported;
 * labels that match nothing are errors naming the file and line, with the nearest class.
 */
import { closest, distance } from "fastest-levenshtein";
import type { DatasetProblem } from "./problems.ts";
import type { SourceImage } from "./source-annotation.ts";

export interface ClassResolution {
  readonly classes: readonly string[];
  /** True when no class list was given and the list was taken from the labels. */
  readonly inferred: boolean;
  readonly problems: readonly DatasetProblem[];
  readonly notes: readonly DatasetProblem[];
}

/** Splits `--classes 行人,车辆` (ASCII or full-width commas). */
export function parseClassList(value: string): string[] {
  return value
    .split(/[,，]/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export function checkClassList(classes: readonly string[], field: string): DatasetProblem[] {
  const problems: DatasetProblem[] = [];
  if (classes.length === 0)
    problems.push({ file: field, message: "no classes given", fix: "list them, e.g. 行人,车辆" });
  const seen = new Set<string>();
  for (const c of classes) {
    if (seen.has(c))
      problems.push({ file: field, message: `class ${JSON.stringify(c)} is listed twice` });
    seen.add(c);
    if (c !== c.trim())
      problems.push({
        file: field,
        message: `class ${JSON.stringify(c)} has leading or trailing spaces`,
        fix: `write ${JSON.stringify(c.trim())}`,
      });
  }
  return problems;
}

export function resolveClasses(
  images: readonly SourceImage[],
  given: readonly string[] | undefined,
  classOrder: readonly string[] | undefined,
  classesField: string,
): ClassResolution {
  const labels = images.flatMap((img) => img.boxes.map((b) => ({ img, box: b })));
  let classes: readonly string[];
  let inferred = false;
  if (given !== undefined) classes = given;
  else {
    inferred = true;
    const found = new Set(labels.map(({ box }) => box.label.trim()).filter((l) => l !== ""));
    const ordered = (classOrder ?? []).map((c) => c.trim()).filter((c) => found.has(c));
    const rest = [...found].filter((c) => !ordered.includes(c)).sort();
    classes = [...ordered, ...rest];
  }
  const known = new Set(classes);
  const problems: DatasetProblem[] = [];
  const strays = new Map<string, { count: number; first: DatasetProblem }>();
  for (const { img, box } of labels) {
    if (known.has(box.label)) continue;
    const file = img.annotation ?? img.image;
    const trimmed = box.label.trim();
    if (known.has(trimmed)) {
      const s = strays.get(box.label);
      if (s !== undefined) s.count++;
      else
        strays.set(box.label, {
          count: 1,
          first: { file, ...(box.line === undefined ? {} : { line: box.line }), message: "" },
        });
      continue;
    }
    const near = classes.length > 0 ? closest(trimmed, [...classes]) : undefined;
    const hint =
      near !== undefined && distance(trimmed, near) <= Math.max(1, Math.floor(near.length / 2))
        ? `; did you mean ${JSON.stringify(near)}?`
        : "";
    problems.push({
      file,
      ...(box.line === undefined ? {} : { line: box.line }),
      message: `unknown class ${JSON.stringify(box.label)}${hint} (classes: ${classes.join(", ")})`,
      fix: `correct the label, or add it to ${classesField}`,
    });
  }
  const notes: DatasetProblem[] = [...strays.entries()].map(([raw, s]) => ({
    ...s.first,
    message: `label ${JSON.stringify(raw)} has stray spaces; counted as ${JSON.stringify(raw.trim())} (${s.count} box${s.count === 1 ? "" : "es"}, first here)`,
    fix: "fix the label in LabelImg, or leave it: the converted dataset uses the trimmed name",
  }));
  return { classes, inferred, problems, notes };
}
