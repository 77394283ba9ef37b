/**
 * A short content hash of an image's build context, used as its tag. ECR tags are immutable,
 * so a tag must change exactly when what Docker builds from changes, and the same content
 * must keep its tag. "What Docker builds from" is the build context as the client sends it:
 * every file not excluded by the context's `.dockerignore` (Docker's own matching rules, via
 * @balena/dockerignore, the library docker-modem uses), plus the Dockerfile and
 * `.dockerignore` themselves (always sent), with their executable bits and symlink targets.
 */
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative, sep } from "node:path";
import type { Ignore } from "@balena/dockerignore";

/** The package is CommonJS (`module.exports = factory`) while its typings declare an ES
 * default export, which `nodenext` then refuses to call: load it the CommonJS way. */
const dockerignore = createRequire(import.meta.url)("@balena/dockerignore") as (options?: {
  ignorecase?: boolean;
}) => Ignore;

/** Every path under `dir`, relative with `/` separators (directories not listed). */
function walk(root: string, dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) walk(root, full, out);
    else out.push(relative(root, full).split(sep).join("/"));
  }
}

/** The files the Docker client would send for this context (sorted). */
export function contextFiles(dir: string): string[] {
  const all: string[] = [];
  walk(dir, dir, all);
  const ignoreFile = join(dir, ".dockerignore");
  if (!existsSync(ignoreFile)) return all.sort();
  const rules = dockerignore({ ignorecase: false }).add(
    readFileSync(ignoreFile, "utf8")
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#")),
  );
  const alwaysSent = new Set(["Dockerfile", ".dockerignore"]);
  return all.filter((f) => alwaysSent.has(f) || !rules.ignores(f)).sort();
}

/** sha256 over (path, kind, executable bit, contents or link target) of each sent file. */
export function contextHash(dir: string): string {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new Error(
      `Image build context ${dir} does not exist (expected a folder with a Dockerfile)`,
    );
  const h = createHash("sha256");
  for (const file of contextFiles(dir)) {
    const full = join(dir, file);
    const st = lstatSync(full);
    h.update(file);
    h.update("\0");
    if (st.isSymbolicLink()) h.update(`link:${readlinkSync(full)}`);
    else {
      h.update((st.mode & 0o111) !== 0 ? "x" : "-");
      h.update(readFileSync(full));
    }
    h.update("\0");
  }
  return h.digest("hex").slice(0, 12);
}
