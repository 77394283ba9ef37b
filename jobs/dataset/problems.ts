/**
 * Problems found in a dataset, located as precisely as the source allows (file and line
 * for LabelImg/labelme sources; file, image and annotation id for COCO), and the error
 * that carries them. DatasetError is a UsageError, so the CLI exits 2 and writes nothing.
 */
import { UsageError } from "../errors.ts";

export interface DatasetProblem {
  /** Path relative to the dataset folder (posix separators), as the user sees it. */
  readonly file: string;
  /** 1-based line in `file`, when the format has lines. */
  readonly line?: number;
  /** A COCO image: `id 3 ("路口/1.jpg")`. */
  readonly image?: string;
  readonly annotationId?: number;
  readonly message: string;
  readonly fix?: string;
}

export function formatProblem(p: DatasetProblem): string {
  const where = [
    p.line === undefined ? p.file : `${p.file}:${p.line}`,
    ...(p.image === undefined ? [] : [`image ${p.image}`]),
    ...(p.annotationId === undefined ? [] : [`annotation id ${p.annotationId}`]),
  ].join(", ");
  const head = `${where}: ${p.message}`;
  return p.fix === undefined ? head : `${head}\n    fix: ${p.fix}`;
}

/** At most this many problems are printed; the count says how many there were. */
const SHOWN = 50;

export function formatProblems(title: string, problems: readonly DatasetProblem[]): string {
  const n = problems.length;
  const lines = problems.slice(0, SHOWN).map((p) => `  ${formatProblem(p)}`);
  if (n > SHOWN) lines.push(`  … and ${n - SHOWN} more`);
  return [`✖ ${title}: ${n} problem${n === 1 ? "" : "s"}`, ...lines].join("\n");
}

export class DatasetError extends UsageError {
  constructor(
    title: string,
    readonly problems: readonly DatasetProblem[],
  ) {
    super(formatProblems(title, problems));
  }
}

/** 1-based line of a character offset in a text. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
