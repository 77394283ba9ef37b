/** Process entry of the yunshi CLI (`npm run yunshi -- ...`, `npx yunshi ...`). */
import { processIo } from "./io.ts";
import { run } from "./program.ts";

// `yunshi ... | head`: the reader left, so nothing more is wanted. End quietly, as kubectl
// and git do, instead of a stack trace for an unhandled EPIPE.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
  process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
});

// No top-level await: the bundle is CommonJS (scripts/build-cli.js says why), which has none.
void run(process.argv.slice(2), processIo).then((code) => {
  process.exitCode = code;
});
