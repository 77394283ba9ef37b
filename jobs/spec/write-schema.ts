/** `npm run schema`: regenerate jobs/experiment.schema.json from the zod schema. */
import { writeFile } from "node:fs/promises";
import { experimentJsonSchema, SCHEMA_FILE } from "./experiment-json-schema.ts";

await writeFile(SCHEMA_FILE, experimentJsonSchema(), "utf8");
process.stderr.write(`wrote ${SCHEMA_FILE}\n`);
