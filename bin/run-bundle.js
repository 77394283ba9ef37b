// @ts-check
/**
 * Runs the CLI bundle (dist/cli/cli-<hash>.cjs, scripts/build-cli.js) in this process with
 * a V8 code cache, so that a command's start does not parse and compile the code it ran
 * the last time (issue 15).
 *
 * Node's own compile cache (module.enableCompileCache) stores a module's code as compiled
 * before it runs, which is only its top level: every function a command calls is still
 * compiled on each start. Here the cache is taken when the process exits
 * (vm.Script#createCachedData), so it holds the functions that ran. One cache per command
 * (`validate`, `render`, `--help`, …): --help does not pay to load validate's code.
 *
 * The cache is a file per bundle, Node version, architecture and command in
 * $YUNSHI_CODE_CACHE_DIR, else $XDG_CACHE_HOME/yunshi/code-cache, else
 * ~/.cache/yunshi/code-cache. V8 checks that a cache matches its own version and flags and
 * rejects it otherwise; it checks the source only by length, so the bundle's name carries
 * its content hash and the cache is named after it. The first run of a command after a
 * build writes its cache (a few ms); one that cannot (unwritable, full) runs the same,
 * without. YUNSHI_CODE_CACHE=0 turns it off (`npm run bench:cli` measures both).
 */
"use strict";
const fs = require("node:fs");
const { createRequire } = require("node:module");
const { basename, dirname, join } = require("node:path");
const vm = require("node:vm");
const { lazyRequire } = require("./lazy-require.js");

/** Caches of another bundle older than this are removed when a cache is written. */
const STALE_AFTER_MS = 60 * 60 * 1000;

/**
 * @param {NodeJS.ProcessEnv} env
 * @returns {string | undefined}
 */
function codeCacheDir(env) {
  if (env.YUNSHI_CODE_CACHE === "0") return undefined;
  if (env.YUNSHI_CODE_CACHE_DIR) return env.YUNSHI_CODE_CACHE_DIR;
  // HOME before os.homedir(): node:os is not loaded yet at this point of a start.
  const home = env.HOME || require("node:os").homedir();
  return join(env.XDG_CACHE_HOME || join(home, ".cache"), "yunshi", "code-cache");
}

/**
 * Which cache a command line uses: its first word when that looks like a command or a
 * flag (`validate`, `--help`), else "other". Never a path or a value a user wrote.
 * @param {readonly string[]} argv
 */
function cacheKeyOf(argv) {
  const first = argv[0] ?? "";
  return /^-{0,2}[a-z][a-z-]{0,39}$/.test(first) ? first : "other";
}

/**
 * Writes the cache through a temporary name (CLIs may run side by side) and removes old
 * caches of other bundles. Best effort: failing leaves the command's result untouched.
 * @param {vm.Script} script
 * @param {string} dir
 * @param {string} file
 * @param {string} bundleName
 */
function saveCodeCache(script, dir, file, bundleName) {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
    fs.renameSync(tmp, file);
    const now = Date.now();
    for (const name of fs.readdirSync(dir)) {
      if (name.startsWith(`${bundleName}.`)) continue;
      const path = join(dir, name);
      const st = fs.statSync(path, { throwIfNoEntry: false });
      if (st !== undefined && now - st.mtimeMs > STALE_AFTER_MS) fs.rmSync(path, { force: true });
    }
  } catch {
    // An unwritable cache directory costs the next start its cache, nothing else.
  }
}

/**
 * Runs the bundle as Node runs a CommonJS module (same wrapper arguments, a require()
 * resolving from the bundle's folder, some modules loaded on first use: ./lazy-require.js),
 * compiled with this command's code cache.
 * @param {string} bundle absolute path of dist/cli/cli-<hash>.cjs
 * @param {readonly string[]} argv the command line after `yunshi`
 * @param {NodeJS.ProcessEnv} env
 * @returns {{ cacheFile: string | undefined, cacheUsed: boolean }}
 */
function runBundle(bundle, argv, env) {
  // ASCII only (scripts/build-cli.js asciiOnly): latin1 reads it without decoding.
  const source = fs.readFileSync(bundle, "latin1");
  const dir = codeCacheDir(env);
  const bundleName = basename(bundle, ".cjs");
  const cacheFile =
    dir && join(dir, `${bundleName}.${process.version}-${process.arch}.${cacheKeyOf(argv)}.bin`);
  /** @type {Buffer | undefined} */
  let cachedData;
  try {
    if (cacheFile !== undefined) cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname) {${source}\n})`,
    {
      filename: bundle,
      ...(cachedData === undefined ? {} : { cachedData }),
      // `await import("node:…")` inside the bundle resolves like in any module (Node ≥ 20.12;
      // older ones run the bundle the same, only such an import() fails).
      ...(vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER === undefined
        ? {}
        : { importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER }),
    },
  );
  const cacheUsed = cachedData !== undefined && !script.cachedDataRejected;
  if (dir !== undefined && cacheFile !== undefined && !cacheUsed)
    process.once("exit", () => saveCodeCache(script, dir, cacheFile, bundleName));
  const module = { exports: {} };
  const req = lazyRequire(createRequire(bundle));
  script.runInThisContext()(module.exports, req, module, bundle, dirname(bundle));
  return { cacheFile, cacheUsed };
}

module.exports = { runBundle, cacheKeyOf, codeCacheDir };
