/** Process entry of the yunshi CLI (`npm run yunshi -- ...`, `npx yunshi ...`). */
import { processIo } from "./io.ts";
import { run } from "./program.ts";

// No top-level await: the bundle is CommonJS (scripts/build-cli.js says why), which has none.
void run(process.argv.slice(2), processIo).then((code) => {
  process.exitCode = code;
});
