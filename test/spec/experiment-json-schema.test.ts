import { readFile } from "node:fs/promises";
import { readdirSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { experimentJsonSchema, SCHEMA_FILE } from "../../jobs/spec/experiment-json-schema.ts";

describe("the committed JSON Schema", () => {
  it("is what the zod schema generates (run `npm run schema` after changing jobs/experiment.ts)", async () => {
    expect(await readFile(SCHEMA_FILE, "utf8")).toBe(experimentJsonSchema());
  });

  const examples = readdirSync("examples").filter((f) => f.endsWith(".yaml"));
  it.each(examples)("accepts examples/%s, which points editors at it", async (file) => {
    const text = await readFile(`examples/${file}`, "utf8");
    expect(text.split("\n")[0]).toBe(
      "# yaml-language-server: $schema=../jobs/experiment.schema.json",
    );
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addFormat("uri", /^https:\/\//);
    const validate = ajv.compile(JSON.parse(await readFile(SCHEMA_FILE, "utf8")) as object);
    const ok = validate(parse(text));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it("rejects an unknown key, as the loader does", async () => {
    const ajv = new Ajv2020({ strict: false });
    ajv.addFormat("uri", /^https:\/\//);
    const validate = ajv.compile(JSON.parse(await readFile(SCHEMA_FILE, "utf8")) as object);
    const spec = parse(await readFile("examples/quickstart.yaml", "utf8")) as Record<
      string,
      unknown
    >;
    expect(validate({ ...spec, epochs: 3 })).toBe(false);
  });
});
