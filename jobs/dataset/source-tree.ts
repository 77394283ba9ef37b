/**
 * The files of a labelled folder, as posix paths relative to it, sorted (so every run sees
 * them in the same order). Names are kept exactly: Chinese, spaces, full-width characters.
 * A name that is not valid UTF-8 (a zip made on a Chinese Windows machine stores GBK bytes)
 * cannot be opened by name from Node or Python reliably, so it is reported with the fix.
 */
import { readdir } from "node:fs/promises";
import { join, posix } from "node:path";
import iconv from "iconv-lite";
import type { DatasetProblem } from "./problems.ts";

export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"];

export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(posix.extname(name).toLowerCase());
}

export interface SourceTree {
  readonly root: string;
  /** Every regular file, relative posix path, sorted by code point. */
  readonly files: readonly string[];
  readonly images: readonly string[];
  readonly problems: readonly DatasetProblem[];
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Walks `root`; skips hidden entries and the folders in `exclude` (absolute paths). */
export async function scanSourceTree(
  root: string,
  exclude: readonly string[] = [],
): Promise<SourceTree> {
  const files: string[] = [];
  const problems: DatasetProblem[] = [];
  const walk = async (rel: string): Promise<void> => {
    const dir = Buffer.from(join(root, rel));
    const entries = await readdir(dir, { withFileTypes: true, encoding: "buffer" });
    for (const e of entries) {
      let name: string;
      try {
        name = utf8.decode(e.name);
      } catch {
        problems.push({
          file: posix.join(rel, iconv.decode(e.name, "gb18030")),
          message: "this name is not UTF-8 (it looks like GBK, from a zip made on Windows)",
          fix: `rename the files to UTF-8, e.g. convmv -f gbk -t utf-8 -r --notest ${JSON.stringify(root)}, or unzip with: unzip -O gbk`,
        });
        continue;
      }
      if (name.startsWith(".")) continue;
      const childRel = rel === "" ? name : `${rel}/${name}`;
      if (e.isDirectory()) {
        if (exclude.includes(join(root, childRel))) continue;
        await walk(childRel);
      } else if (e.isFile()) files.push(childRel);
    }
  };
  await walk("");
  files.sort(comparePaths);
  return { root, files, images: files.filter(isImageName), problems };
}

/** Code-point order, independent of locale, so ids and splits never depend on the machine. */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Finds the picture an annotation file refers to. Tries, in order: the named file beside
 * the annotation; the VOC devkit layout (Annotations/ beside JPEGImages/); a picture with
 * the annotation's own stem beside it; then the named file anywhere in the tree when that
 * name is unique. Returns the relative path, or the candidates when it is ambiguous.
 */
export class ImageIndex {
  private readonly byPath: Set<string>;
  private readonly byBase = new Map<string, string[]>();

  constructor(images: readonly string[]) {
    this.byPath = new Set(images);
    for (const p of images) {
      const base = posix.basename(p);
      this.byBase.set(base, [...(this.byBase.get(base) ?? []), p]);
    }
  }

  has(rel: string): boolean {
    return this.byPath.has(rel);
  }

  resolve(
    annotationRel: string,
    names: readonly string[],
  ): { found: string } | { ambiguous: string[] } | undefined {
    const dir = posix.dirname(annotationRel) === "." ? "" : posix.dirname(annotationRel);
    const stem = posix.basename(annotationRel, posix.extname(annotationRel));
    const inDir = (n: string): string => (dir === "" ? n : `${dir}/${n}`);
    const candidates: string[] = [];
    for (const n of names) {
      candidates.push(inDir(n));
      candidates.push(posix.join(dir, "..", "JPEGImages", n));
    }
    for (const ext of IMAGE_EXTENSIONS) {
      candidates.push(inDir(stem + ext), inDir(stem + ext.toUpperCase()));
      candidates.push(posix.join(dir, "..", "JPEGImages", stem + ext));
    }
    for (const c of candidates) {
      const norm = posix.normalize(c);
      if (this.byPath.has(norm)) return { found: norm };
    }
    for (const n of names) {
      const hits = this.byBase.get(n) ?? [];
      if (hits.length === 1 && hits[0] !== undefined) return { found: hits[0] };
      if (hits.length > 1) return { ambiguous: hits };
    }
    return undefined;
  }
}
