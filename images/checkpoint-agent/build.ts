/**
 * Bundle the agent into one CommonJS file (no node_modules needed at run time): used by
 * the image's build stage (`node build.ts OUT`, Node 22 strips the types) and by
 * scripts/bench-checkpoint.ts, so the benchmark measures what the image runs.
 */
import { resolve } from "node:path";
import { build } from "esbuild";

export async function bundleAgent(outfile: string): Promise<void> {
  await build({
    ...common,
    entryPoints: [resolve(import.meta.dirname, "src/main.ts")],
    outfile,
    // The range workers' code, inlined so the image still ships one file (range-receiver.ts).
    define: { YUNSHI_RANGE_WORKER_SOURCE: JSON.stringify(await bundleRangeWorker()) },
    // import.meta is read only when the agent runs from source, never in this bundle.
    logOverride: { "empty-import-meta": "silent" },
  });
}

/** The range worker (src/range-worker.ts) as one CommonJS script for `new Worker(code, { eval: true })`. */
async function bundleRangeWorker(): Promise<string> {
  const out = await build({
    ...common,
    entryPoints: [resolve(import.meta.dirname, "src/range-worker.ts")],
    write: false,
  });
  const file = out.outputFiles[0];
  if (file === undefined) throw new Error("esbuild produced no range worker");
  return file.text;
}

const common = {
  bundle: true,
  platform: "node",
  target: "node22",
  format: "cjs",
  minify: false,
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
} as const;

if (process.argv[1] !== undefined && resolve(process.argv[1]) === import.meta.filename) {
  await bundleAgent(resolve(process.argv[2] ?? "dist/yunshi-checkpoint-agent.cjs"));
}
