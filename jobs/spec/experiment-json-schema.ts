/**
 * The JSON Schema editors use to complete exp.yaml, generated from the zod schema (the
 * input side: defaults are optional to write). Committed as jobs/experiment.schema.json;
 * test/experiment-json-schema.test.ts fails when the committed file drifts.
 */
import { z } from "zod";
import { ExperimentSchema } from "./experiment.ts";

export const SCHEMA_FILE = "jobs/experiment.schema.json";

export function experimentJsonSchema(): string {
  const schema = z.toJSONSchema(ExperimentSchema, { io: "input", unrepresentable: "any" });
  const doc = {
    ...schema,
    $id: "https://github.com/yunshi/yunshi/jobs/experiment.schema.json",
    title: "yunshi experiment (exp.yaml)",
    description:
      "An MMDetection 3.x training run on Kubernetes: model, dataset, training knobs, resources, checkpoints.",
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
