#!/usr/bin/env node
// @ts-check
/**
 * `npx yunshi`, `npm run yunshi`: runs the bundle in dist/cli/ (scripts/build-cli.js;
 * `npm ci` builds it through `prepare`) with a code cache (./run-bundle.js), so no
 * TypeScript is transpiled or compiled again at start (issue 15).
 * When a source changed since the last build, rebuilds first (~0.5 s, once per edit) so a
 * developer's edit is never silently ignored; only when esbuild is missing (an install
 * without devDependencies) does it run the sources through tsx instead, which is slow.
 *
 * CommonJS (bin/package.json), like everything it loads on a start with a fresh build:
 * an ES module entry would start Node's ES module loader, a few ms of a start that the
 * goals measure against `node -e 0`.
 */
"use strict";
const { cliBuildStatus, readBuildInfo, CLI_DIST_DIR } = require("../scripts/cli-build-status.cjs");
const { runBundle } = require("./run-bundle.js");
const { join } = require("node:path");

const argv = process.argv.slice(2);

/** Rebuilds a stale bundle; the bundle's path, or undefined when that is impossible here. */
async function rebuild(/** @type {string} */ reason) {
  try {
    const { buildCli } = await import("../scripts/build-cli.js");
    await buildCli({ clean: false });
    const info = readBuildInfo();
    if (info === undefined)
      throw new Error(`${CLI_DIST_DIR} has no build-info.json after the build`);
    return join(CLI_DIST_DIR, info.bundle);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    process.stderr.write(
      `yunshi: ${reason} and rebuilding failed (${why}); running the sources through tsx (slow)\n`,
    );
    return undefined;
  }
}

async function runStale(/** @type {string} */ reason) {
  const bundle = await rebuild(reason);
  if (bundle !== undefined) {
    runBundle(bundle, argv, process.env);
    return;
  }
  const { register } = await import("tsx/esm/api");
  register();
  await import("../jobs/cli.ts");
}

/**
 * Runs a fresh build's bundle. A build in another process removes bundles it replaced
 * (scripts/build-cli.js removeOldBundles): when ours went between reading build-info.json
 * and reading the bundle, the next status names the new one.
 */
function runFresh(/** @type {string} */ bundle, retries = 1) {
  try {
    runBundle(bundle, argv, process.env);
  } catch (err) {
    const gone =
      err instanceof Error &&
      "code" in err &&
      err.code === "ENOENT" &&
      "path" in err &&
      err.path === bundle;
    if (!gone || retries === 0) throw err;
    const again = cliBuildStatus();
    if (again.fresh) runFresh(again.bundle, retries - 1);
    else void runStale(again.reason);
  }
}

const status = cliBuildStatus();
if (status.fresh) runFresh(status.bundle);
else void runStale(status.reason);
