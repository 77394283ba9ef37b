// @ts-check
/**
 * Builds the yunshi CLI into dist/cli/ with esbuild: jobs/cli.ts as one ES module, code-split
 * so that what a command imports inside its action with `await import()` (the cluster
 * client, the S3 SDK, the local runner) becomes a separate chunk, loaded only by that
 * command. No TypeScript is transpiled when the CLI starts (issue 15).
 *
 *   node scripts/build-cli.js            clean build (npm run build; `prepare` on npm ci)
 *   node scripts/build-cli.js --if-stale build only when a source changed
 *   node scripts/build-cli.js --check    exit 1 when dist/cli is missing or stale
 *
 * Plain JavaScript on purpose: bin/yunshi.js imports cliBuildStatus() from here on every
 * start, and Node 20 cannot run TypeScript without a transpiler, which is the cost we remove.
 *
 * Freshness: build-info.json records the size, mtime and sha256 of every source file that
 * went into the bundle (our files, this script, the package.json of each bundled package).
 * bin/yunshi.js checks them on every start (like git's index: a file whose size and mtime
 * match is not read; one whose mtime moved is hashed) and rebuilds when one changed, so an
 * edit is never ignored.
 * Incremental builds write every file through a temporary name and rename, and never
 * delete: chunk names carry a content hash, so a CLI already running keeps finding its
 * chunks while another process rebuilds.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import process from "node:process";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/**
 * Every output file (entry and chunks) sits directly in here, two levels below the
 * repository root like jobs/<area>/*.ts: modules that find the repository from
 * import.meta.url (jobs/local/run-local.ts: new URL("../../", import.meta.url)) keep working.
 */
export const CLI_DIST_DIR = join(REPO_ROOT, "dist", "cli");
const ENTRY = "jobs/cli.ts";
const BUILD_INFO = "build-info.json";

/**
 * Packages bundled into the CLI: small, pure JavaScript, and needed by the commands that
 * must answer at once (validate, render, config, --help). Every other package stays an
 * import of node_modules, resolved only when a command's action imports it.
 */
export const BUNDLED_PACKAGES = ["commander", "zod", "yaml", "fastest-levenshtein"];

/** @param {string} file */
function sha256Of(file) {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/**
 * @typedef {{ sha256: string, size: number, mtimeMs: number }} InputStamp
 * @param {string} path
 * @returns {InputStamp}
 */
function stampOf(path) {
  const st = statSync(path);
  return { sha256: sha256Of(path), size: st.size, mtimeMs: st.mtimeMs };
}

/**
 * Whether dist/cli matches the sources. Cheap enough for every start: one stat per source,
 * and a hash only for a file whose size or mtime moved.
 * @param {string} [outDir]
 * @returns {{ fresh: true } | { fresh: false, reason: string }}
 */
export function cliBuildStatus(outDir = CLI_DIST_DIR) {
  /** @type {{ inputs: Record<string, InputStamp> }} */
  let info;
  try {
    info = JSON.parse(readFileSync(join(outDir, BUILD_INFO), "utf8"));
  } catch {
    return { fresh: false, reason: `${relative(REPO_ROOT, outDir)} is not built` };
  }
  for (const [file, stamp] of Object.entries(info.inputs)) {
    const path = join(REPO_ROOT, file);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined) return { fresh: false, reason: `${file} was removed since the build` };
    if (st.size === stamp.size && st.mtimeMs === stamp.mtimeMs) continue;
    if (st.size !== stamp.size || sha256Of(path) !== stamp.sha256)
      return { fresh: false, reason: `${file} changed since the build` };
  }
  return { fresh: true };
}

/** @param {string} path @param {string | Uint8Array} contents */
function writeAtomically(path, contents) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
}

/**
 * Bundle jobs/cli.ts into outDir. `clean` removes outDir first (a full build); without it,
 * files are added and replaced atomically, never removed.
 * @param {{ outDir?: string, clean?: boolean }} [options]
 * @returns {Promise<import("esbuild").Metafile>}
 */
export async function buildCli({ outDir = CLI_DIST_DIR, clean = true } = {}) {
  // A devDependency: loaded only when building, never on a plain start.
  const { build } = await import("esbuild");
  /** @type {import("esbuild").Plugin} */
  const externalUnlessBundled = {
    name: "external-unless-bundled",
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith("node:")) return { external: true };
        const name = args.path.startsWith("@")
          ? args.path.split("/").slice(0, 2).join("/")
          : (args.path.split("/")[0] ?? args.path);
        return BUNDLED_PACKAGES.includes(name) ? undefined : { external: true };
      });
    },
  };
  // Stamps of exactly the bytes bundled: stat before read, so a file edited during the
  // build is seen as changed by the next check, never as fresh.
  /** @type {Record<string, InputStamp>} */
  const inputs = {};
  /** @type {import("esbuild").Plugin} */
  const stampSources = {
    name: "stamp-sources",
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        if (args.path.includes(`${"/"}node_modules/`)) return undefined;
        const st = statSync(args.path);
        const contents = readFileSync(args.path);
        const sha256 = createHash("sha256").update(contents).digest("hex");
        inputs[relative(REPO_ROOT, args.path)] = { sha256, size: st.size, mtimeMs: st.mtimeMs };
        return { contents, loader: "ts" };
      });
    },
  };
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: { cli: ENTRY },
    outdir: outDir,
    entryNames: "[name]",
    // No subfolder for chunks: see CLI_DIST_DIR.
    chunkNames: "[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // Bundled CommonJS (commander) calls require() for Node builtins; ES modules have none.
    banner: {
      js: 'import { createRequire as __yunshiCreateRequire } from "node:module"; const require = __yunshiCreateRequire(import.meta.url);',
    },
    plugins: [externalUnlessBundled, stampSources],
    metafile: true,
    write: false,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
  });
  if (clean) rmSync(outDir, { recursive: true, force: true });
  // Chunks first, the entry after them, build-info last: a reader that sees a new
  // build-info.json finds everything it names.
  const entry = join(outDir, "cli.js");
  const isEntry = (/** @type {{ path: string }} */ f) => Number(f.path === entry);
  const files = [...result.outputFiles].sort((a, b) => isEntry(a) - isEntry(b));
  for (const f of files) writeAtomically(f.path, f.contents);

  const ownInputs = Object.keys(result.metafile.inputs).filter((p) => !p.includes("node_modules/"));
  for (const p of [...ownInputs, relative(REPO_ROOT, fileURLToPath(import.meta.url))])
    inputs[p] ??= stampOf(join(REPO_ROOT, p));
  for (const pkg of BUNDLED_PACKAGES) {
    const manifest = join("node_modules", pkg, "package.json");
    inputs[manifest] = stampOf(join(REPO_ROOT, manifest));
  }
  writeAtomically(
    join(outDir, BUILD_INFO),
    JSON.stringify({ entry: ENTRY, inputs }, null, 2) + "\n",
  );
  writeAtomically(join(outDir, "meta.json"), JSON.stringify(result.metafile));
  return result.metafile;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const mode = process.argv[2];
  if (mode === "--check") {
    const status = cliBuildStatus();
    if (!status.fresh) {
      process.stderr.write(`dist/cli is stale: ${status.reason}; run npm run build\n`);
      process.exitCode = 1;
    }
  } else if (mode === "--if-stale") {
    if (!cliBuildStatus().fresh) await buildCli({ clean: false });
  } else if (mode === undefined) {
    const started = performance.now();
    await buildCli();
    process.stderr.write(`built dist/cli in ${Math.round(performance.now() - started)} ms\n`);
  } else {
    process.stderr.write(`usage: node scripts/build-cli.js [--if-stale|--check]\n`);
    process.exitCode = 2;
  }
}
