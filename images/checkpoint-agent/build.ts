/**
 * Bundle the agent into one CommonJS file (no node_modules needed at run time): used by
 * the image's build stage (`node build.ts OUT`, Node 22 strips the types) and by
 * scripts/bench-checkpoint.ts, so the benchmark measures what the image runs.
 */
import { resolve } from "node:path";
import { build } from "esbuild";

export async function bundleAgent(outfile: string): Promise<void> {
  await build({
    entryPoints: [resolve(import.meta.dirname, "src/main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    minify: false,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
  });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === import.meta.filename) {
  await bundleAgent(resolve(process.argv[2] ?? "dist/yunshi-checkpoint-agent.cjs"));
}
