// @ts-check
/**
 * Builds the yunshi CLI into dist/cli/ with esbuild: jobs/cli.ts and everything it imports,
 * our code and the small packages in BUNDLED_PACKAGES, as one CommonJS file
 * `cli-<content hash>.cjs`. No TypeScript is transpiled when the CLI starts (issue 15).
 *
 *   node scripts/build-cli.js            clean build (npm run build; `prepare` on npm ci)
 *   node scripts/build-cli.js --if-stale build only when a source changed
 *   node scripts/build-cli.js --check    exit 1 when dist/cli is missing or stale
 *
 * Why one CommonJS file (measured with `npm run bench:cli`, README "Speed"):
 * - Node's ES module loader costs per module (resolve, link, evaluate): the code-split ES
 *   build loaded about 20 chunks for `validate`; one file loads none through it.
 * - bin/run-bundle.cjs compiles the file with a V8 code cache taken after a run, so the
 *   functions a command ran are not parsed or compiled again; ES modules cannot be given one.
 * What a command imports inside its action with `await import()` stays lazy: esbuild wraps
 * such modules in an initializer that runs on the first import, and packages that are not
 * bundled (the cluster client, the S3 SDK) are require()d only there.
 *
 * Plain JavaScript on purpose: bin/yunshi.js runs scripts/cli-build-status.cjs on every
 * start, and Node 20 cannot run TypeScript without a transpiler, which is the cost we remove.
 *
 * Incremental builds write every file through a temporary name and rename, and never
 * delete: the bundle's name carries its content hash, so a CLI already running keeps its
 * file while another process rebuilds, and a code cache is never used for other bytes.
 */
import { createHash } from "node:crypto";
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import process from "node:process";
import { fileURLToPath } from "node:url";
import buildStatus from "./cli-build-status.cjs";

export const { REPO_ROOT, CLI_DIST_DIR, cliBuildStatus } = buildStatus;
const { BUILD_INFO, sha256Of } = buildStatus;
const ENTRY = "jobs/cli.ts";

/**
 * Packages bundled into the CLI: small, pure JavaScript, and needed by the commands that
 * must answer at once (validate, render, config, --help). Every other package stays a
 * require() of node_modules, run only when a command's action imports it.
 */
export const BUNDLED_PACKAGES = ["commander", "zod", "yaml", "fastest-levenshtein"];

/**
 * @param {string} path
 * @returns {import("./cli-build-status.cjs").InputStamp}
 */
function stampOf(path) {
  const st = statSync(path);
  return { sha256: sha256Of(path), size: st.size, mtimeMs: st.mtimeMs };
}

/** @param {string} path @param {string | Uint8Array} contents */
function writeAtomically(path, contents) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
}

/**
 * The bundle with every character above U+007F written as a \u escape. V8 keeps an ASCII
 * source as one byte per character and bin/run-bundle.js reads it as latin1 without
 * decoding; one non-ASCII character (a comment or a regular expression that esbuild's
 * charset option leaves alone) made the whole 1 MB source UTF-16 and its read 5-20 ms.
 * Outside comments (minified away), non-ASCII can only be in string, template and regular
 * expression literals and identifiers, where \uXXXX means the same character (an astral one
 * becomes its surrogate pair, which these read as the same code point).
 * @param {string} text
 */
function asciiOnly(text) {
  // Every UTF-16 code unit above ASCII, so an astral character's surrogates one by one.
  const nonAscii = /[\u0080-\uffff]/g;
  const escaped = text.replace(
    nonAscii,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  if (/[\u0080-\uffff]/.test(escaped))
    throw new Error("the CLI bundle is not ASCII after escaping");
  return escaped;
}

/**
 * Bundle jobs/cli.ts into outDir. `clean` removes outDir first (a full build); without it,
 * files are added and replaced atomically, never removed. `entry` (a path from the
 * repository root) bundles another entry the same way; tests use it.
 * @param {{ outDir?: string, clean?: boolean, entry?: string }} [options]
 * @returns {Promise<import("esbuild").Metafile>}
 */
export async function buildCli({ outDir = CLI_DIST_DIR, clean = true, entry = ENTRY } = {}) {
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
  /** @type {Record<string, import("./cli-build-status.cjs").InputStamp>} */
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
  // The checkpoint agent's range workers run from code inlined as a string
  // (images/checkpoint-agent/src/range-receiver.ts), as in the agent's own bundle (its build.ts).
  const rangeWorker = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: ["images/checkpoint-agent/src/range-worker.ts"],
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    plugins: [stampSources],
    write: false,
    legalComments: "none",
    logLevel: "warning",
  });
  const rangeWorkerSource = rangeWorker.outputFiles[0]?.text ?? "";
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: { cli: entry },
    outdir: outDir,
    // The content hash in the name: see the header.
    entryNames: "[name]-[hash]",
    outExtension: { ".js": ".cjs" },
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    // CommonJS has no import.meta. Every module of the bundle sits in this one file, so its
    // URL is what each module's import.meta.url was in the code-split build: all of them
    // lived in dist/cli/ too. import.meta.resolve (jobs/local/run-local.ts: "tsx") resolves
    // from the same place with require.resolve; test/cli-startup.test.ts checks both.
    define: {
      "import.meta.url": "__yunshiImportMetaUrl",
      "import.meta.resolve": "__yunshiImportMetaResolve",
      YUNSHI_RANGE_WORKER_SOURCE: JSON.stringify(rangeWorkerSource),
    },
    banner: {
      js: [
        '"use strict";',
        'const __yunshiImportMetaUrl = require("node:url").pathToFileURL(__filename).href;',
        'const __yunshiImportMetaResolve = (specifier) => require("node:url").pathToFileURL(require.resolve(specifier)).href;',
      ].join("\n"),
    },
    plugins: [externalUnlessBundled, stampSources],
    // Every start reads and hashes the whole file: no comments or indentation (half the
    // bytes). Names are kept, so a --debug stack trace still names our functions.
    minifyWhitespace: true,
    minifySyntax: true,
    charset: "ascii",
    metafile: true,
    write: false,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
  });
  const bundle = result.outputFiles.find((f) => f.path.endsWith(".cjs"));
  if (bundle === undefined || result.outputFiles.length !== 1)
    throw new Error(`esbuild wrote ${result.outputFiles.length} files, expected one .cjs bundle`);
  const code = asciiOnly(bundle.text);
  if (clean) rmSync(outDir, { recursive: true, force: true });
  // The bundle first, build-info last: a reader that sees a new build-info.json finds the
  // bundle it names.
  writeAtomically(bundle.path, code);

  const ownInputs = Object.keys(result.metafile.inputs).filter((p) => !p.includes("node_modules/"));
  const buildScripts = [
    fileURLToPath(import.meta.url),
    join(REPO_ROOT, "scripts", "cli-build-status.cjs"),
  ];
  for (const p of [...ownInputs, ...buildScripts.map((f) => relative(REPO_ROOT, f))])
    inputs[p] ??= stampOf(join(REPO_ROOT, p));
  for (const pkg of BUNDLED_PACKAGES) {
    const manifest = join("node_modules", pkg, "package.json");
    inputs[manifest] = stampOf(join(REPO_ROOT, manifest));
  }
  writeAtomically(
    join(outDir, BUILD_INFO),
    JSON.stringify({ entry, bundle: basename(bundle.path), inputs }, null, 2) + "\n",
  );
  writeAtomically(join(outDir, "meta.json"), JSON.stringify(result.metafile));
  removeOldBundles(outDir, basename(bundle.path));
  return result.metafile;
}

/** Other bundles written longer ago than this are removed by a build. */
const OLD_BUNDLE_MS = 10 * 60 * 1000;

/**
 * Every edit makes a new bundle (0.7 MB) in a developer's dist/cli; older ones go. A CLI
 * reads its bundle whole when it starts, so only one that read build-info.json in the
 * same instant could still want a removed one, and bin/yunshi.js then looks again.
 * @param {string} outDir
 * @param {string} current
 */
function removeOldBundles(outDir, current) {
  const now = Date.now();
  for (const name of readdirSync(outDir)) {
    if (name === current || !/^cli-[A-Z0-9]+\.cjs$/.test(name)) continue;
    const st = statSync(join(outDir, name), { throwIfNoEntry: false });
    if (st !== undefined && now - st.mtimeMs > OLD_BUNDLE_MS)
      rmSync(join(outDir, name), { force: true });
  }
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
