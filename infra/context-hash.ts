/**
 * A short content hash of an image's build context, used as its tag. ECR tags are immutable,
 * so a tag must change exactly when the content does; the same content keeps its tag.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

/** Build outputs and caches that never belong in an image context. */
const SKIP = new Set(["node_modules", ".git", "__pycache__", ".pytest_cache", ".venv", "dist"]);

function files(root: string, dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) files(root, full, out);
    else if (entry.isFile()) out.push(full);
  }
}

/** sha256 over (relative path, contents) of every file, in sorted order; first 12 hex chars. */
export function contextHash(dir: string): string {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new Error(
      `Image build context ${dir} does not exist (expected a folder with a Dockerfile)`,
    );
  const list: string[] = [];
  files(dir, dir, list);
  list.sort();
  const h = createHash("sha256");
  for (const f of list) {
    h.update(relative(dir, f).split(sep).join("/"));
    h.update("\0");
    h.update(readFileSync(f));
    h.update("\0");
  }
  return h.digest("hex").slice(0, 12);
}
