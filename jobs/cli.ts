/** Process entry of the yunshi CLI (`npm run yunshi -- ...`, `npx yunshi ...`). */
import { processIo } from "./io.ts";
import { run } from "./program.ts";

process.exitCode = await run(process.argv.slice(2), processIo);
