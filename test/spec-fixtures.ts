/** Spec builders shared by tests: a valid base and deep patches of it. */
import { stringify } from "yaml";

export const baseSpec = (): Record<string, unknown> => ({
  version: 1,
  name: "unit-test",
  model: { config: "mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py", pretrained: "coco" },
  dataset: {
    uri: "s3://bucket/datasets/x/",
    train: { annotations: "annotations/train.json", images: "train/" },
    val: { annotations: "annotations/val.json", images: "val/" },
    classes: ["行人", "车辆", "交通灯"],
  },
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json | undefined };

/** Deep-merge a patch; `undefined` deletes a key. */
export function patched(patch: Record<string, unknown>): Record<string, unknown> {
  const merge = (a: unknown, b: unknown): unknown => {
    if (b === undefined) return undefined;
    if (
      a &&
      b &&
      typeof a === "object" &&
      typeof b === "object" &&
      !Array.isArray(a) &&
      !Array.isArray(b)
    ) {
      const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
      for (const [k, v] of Object.entries(b as Record<string, unknown>)) {
        const m = merge(out[k], v);
        if (m === undefined) delete out[k];
        else out[k] = m;
      }
      return out;
    }
    return b;
  };
  return merge(baseSpec(), patch) as Record<string, unknown>;
}

// No block scalars: yaml 2.x writes a string whose first line is only spaces (" \n") as
// `|+` and reads it back without them (eemeli/yaml#692), which the property tests found.
export const specYaml = (spec: Record<string, unknown> | Json): string =>
  stringify(spec, { blockQuote: false });
