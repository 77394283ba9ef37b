/**
 * What convert and check print: pictures and boxes per class for train and val, empty
 * pictures, what was dropped and why. A table a person reads, aligned for Chinese names
 * (CJK characters take two terminal columns).
 */
import type { CheckReport } from "./check.ts";
import type { ConvertReport } from "./convert.ts";
import { formatProblem } from "./problems.ts";

/** Terminal columns of a string: East Asian wide and full-width characters count 2. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    const wide =
      (c >= 0x1100 && c <= 0x115f) ||
      (c >= 0x2e80 && c <= 0xa4cf) ||
      (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) ||
      (c >= 0xfe30 && c <= 0xfe4f) ||
      (c >= 0xff00 && c <= 0xff60) ||
      (c >= 0xffe0 && c <= 0xffe6) ||
      (c >= 0x20000 && c <= 0x3fffd);
    w += wide ? 2 : 1;
  }
  return w;
}

const padEnd = (s: string, n: number): string => s + " ".repeat(Math.max(0, n - displayWidth(s)));
const padStart = (s: string, n: number): string => " ".repeat(Math.max(0, n - displayWidth(s))) + s;

interface Counts {
  readonly pictures: number;
  readonly boxesPerClass: readonly number[];
  readonly difficult: number;
  readonly empty: number;
}

/** The class histogram: one row per class, columns train, val, total. */
export function histogram(classes: readonly string[], train: Counts, val: Counts): string[] {
  const rows: [string, number, number][] = [
    ["pictures", train.pictures, val.pictures],
    ...classes.map((c, i): [string, number, number] => [
      `  ${c}`,
      train.boxesPerClass[i] ?? 0,
      val.boxesPerClass[i] ?? 0,
    ]),
    ["  of which difficult (ignored in training)", train.difficult, val.difficult],
    ["empty pictures (no boxes)", train.empty, val.empty],
  ];
  const first = Math.max(...rows.map((r) => displayWidth(r[0])), 8) + 2;
  const head = `${padEnd("", first)}${padStart("train", 8)}${padStart("val", 8)}${padStart("total", 8)}`;
  return [
    head,
    ...rows.map(
      ([k, t, v]) =>
        `${padEnd(k, first)}${padStart(String(t), 8)}${padStart(String(v), 8)}${padStart(String(t + v), 8)}`,
    ),
  ];
}

export function formatConvertReport(r: ConvertReport, out: string): string {
  const lines = [
    `✓ converted into ${out}`,
    `classes: ${r.classes.join(", ")}${r.classesInferred ? "  (taken from the labels: put them in exp.yaml dataset.classes in this order, or pass --classes/--spec)" : ""}`,
    ...histogram(r.classes, r.train, r.val),
  ];
  if (r.dropped.length > 0) {
    lines.push(`dropped ${r.dropped.length} box${r.dropped.length === 1 ? "" : "es"}:`);
    for (const d of r.dropped.slice(0, 20))
      lines.push(
        `  ${d.line === undefined ? d.file : `${d.file}:${d.line}`}: ${d.label}, ${d.reason}`,
      );
    if (r.dropped.length > 20) lines.push(`  … and ${r.dropped.length - 20} more`);
  }
  if (r.clipped > 0)
    lines.push(
      `clipped to the picture: ${r.clipped} box${r.clipped === 1 ? "" : "es"} reaching past its edge`,
    );
  if (r.turned > 0)
    lines.push(
      `turned upright with their EXIF orientation: the boxes of ${r.turned} picture(s) (phone photos; MMDetection turns them on load, LabelImg does not)`,
    );
  if (r.unlabeled > 0)
    lines.push(
      r.includeUnlabeled
        ? `${r.unlabeled} picture(s) without an annotation file included as background`
        : `${r.unlabeled} picture(s) without an annotation file left out (--include-unlabeled uses them as background)`,
    );
  lines.push(
    `wrote ${r.written.join(", ")}; ${r.copied} picture(s) copied, ${r.unchanged} unchanged`,
  );
  return `${lines.join("\n")}\n`;
}

export function formatNotes(notes: ConvertReport["notes"]): string {
  if (notes.length === 0) return "";
  const shown = notes.slice(0, 30).map((n) => `⚠ ${formatProblem(n)}`);
  if (notes.length > 30) shown.push(`⚠ … and ${notes.length - 30} more notes`);
  return `${shown.join("\n")}\n`;
}

export function formatCheckReport(r: CheckReport, dir: string): string {
  return `${[`✓ ${dir}: a valid COCO dataset (${r.train.annotations}, ${r.val.annotations})`, `classes: ${r.classes.join(", ")}`, ...histogram(r.classes, r.train, r.val)].join("\n")}\n`;
}
