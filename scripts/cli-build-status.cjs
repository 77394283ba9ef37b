// @ts-check
/**
 * Where the built CLI is and whether it matches the sources: the part of scripts/build-cli.js
 * that bin/yunshi.js runs on every start. CommonJS on purpose: bin/yunshi.js is CommonJS
 * (bin/package.json), and requiring an ES module would start Node's ES module loader, a few
 * milliseconds of a start that the issue 15 goals measure against `node -e 0`.
 *
 * build-info.json names the bundle (`cli-<content hash>.cjs`) and records the size, mtime
 * and sha256 of every source file that went into it. A file whose size and mtime match is
 * not read (like git's index); one whose mtime moved is hashed.
 */
"use strict";
const { readFileSync, statSync } = require("node:fs");
const { join, relative, resolve } = require("node:path");

const REPO_ROOT = resolve(__dirname, "..");
/**
 * Every output file sits directly in here, two levels below the repository root like
 * jobs/<area>/*.ts: modules that find the repository from import.meta.url
 * (jobs/local/run-local.ts: new URL("../../", import.meta.url)) keep working.
 */
const CLI_DIST_DIR = join(REPO_ROOT, "dist", "cli");
const BUILD_INFO = "build-info.json";

/** @param {string} file */
function sha256Of(file) {
  // Required here, not at the top: node:crypto is not in Node's start-up snapshot, and a
  // fresh build (the usual case) hashes nothing.
  const { createHash } = require("node:crypto");
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/**
 * @typedef {{ sha256: string, size: number, mtimeMs: number }} InputStamp
 * @typedef {{ entry: string, bundle: string, inputs: Record<string, InputStamp> }} BuildInfo
 */

/**
 * The build's record, or undefined when outDir holds no complete build.
 * @param {string} [outDir]
 * @returns {BuildInfo | undefined}
 */
function readBuildInfo(outDir = CLI_DIST_DIR) {
  try {
    const info = JSON.parse(readFileSync(join(outDir, BUILD_INFO), "utf8"));
    return typeof info.bundle === "string" ? info : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether dist/cli matches the sources. Cheap enough for every start: one stat per source,
 * and a hash only for a file whose size or mtime moved. `bundle` is the file to run.
 * @param {string} [outDir]
 * @returns {{ fresh: true, bundle: string } | { fresh: false, reason: string }}
 */
function cliBuildStatus(outDir = CLI_DIST_DIR) {
  const info = readBuildInfo(outDir);
  if (info === undefined)
    return { fresh: false, reason: `${relative(REPO_ROOT, outDir)} is not built` };
  // `${root}/${file}`, not path.join: the keys are already normal relative paths, and
  // join's normalising was a measurable part of this loop (~110 files per start).
  const root = `${REPO_ROOT}/`;
  for (const [file, stamp] of Object.entries(info.inputs)) {
    const path = root + file;
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined) return { fresh: false, reason: `${file} was removed since the build` };
    if (st.size === stamp.size && st.mtimeMs === stamp.mtimeMs) continue;
    if (st.size !== stamp.size || sha256Of(path) !== stamp.sha256)
      return { fresh: false, reason: `${file} changed since the build` };
  }
  const bundle = join(outDir, info.bundle);
  if (!statSync(bundle, { throwIfNoEntry: false })?.isFile())
    return { fresh: false, reason: `${relative(REPO_ROOT, bundle)} is missing` };
  return { fresh: true, bundle };
}

module.exports = { REPO_ROOT, CLI_DIST_DIR, BUILD_INFO, sha256Of, readBuildInfo, cliBuildStatus };
