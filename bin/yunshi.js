#!/usr/bin/env node
// `npx yunshi`, `npm run yunshi`: runs the bundle in dist/cli/ (scripts/build-cli.js; `npm ci`
// builds it through `prepare`), so no TypeScript is transpiled at start (issue 15).
// When a source changed since the last build, rebuilds first (~0.5 s, once per edit) so a
// developer's edit is never silently ignored; only when esbuild is missing (an install
// without devDependencies) does it run the sources through tsx instead, which is slow.
import module from "node:module";
import process from "node:process";
import { buildCli, cliBuildStatus } from "../scripts/build-cli.js";

// Node ≥ 22.1 keeps V8's compiled code of the bundle on disk (checked against the file's
// contents), which saves about a fifth of validate's start; Node 20 lacks it.
module.enableCompileCache?.();

/** Rebuilds a stale bundle; false when that is impossible here. */
async function ensureBuilt() {
  const status = cliBuildStatus();
  if (status.fresh) return true;
  try {
    await buildCli({ clean: false });
    return true;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    process.stderr.write(
      `yunshi: ${status.reason} and rebuilding failed (${why}); running the sources through tsx (slow)\n`,
    );
    return false;
  }
}

if (await ensureBuilt()) {
  await import("../dist/cli/cli.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../jobs/cli.ts");
}
