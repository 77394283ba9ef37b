/** The dataset manifest read from the bucket is untrusted: its shape is checked field by field. */
import { describe, expect, it } from "vitest";
import {
  buildDatasetManifest,
  parseDatasetManifest,
  serializeDatasetManifest,
} from "../../images/checkpoint-agent/src/dataset-manifest.ts";

const sha = "a".repeat(64);

describe("dataset manifest", () => {
  it("round-trips, sorted by path, with the total size", () => {
    const m = buildDatasetManifest(
      [
        { path: "val/路口 一/图片 2.jpg", size: 5, sha256: sha },
        { path: "annotations/train.json", size: 7, sha256: sha, etag: '"e1"' },
      ],
      new Date(0),
    );
    const back = parseDatasetManifest(serializeDatasetManifest(m).toString("utf8"), "m");
    expect(back.files.map((f) => f.path)).toEqual([
      "annotations/train.json",
      "val/路口 一/图片 2.jpg",
    ]);
    expect(back.totalBytes).toBe(12);
    expect(back.files[0]?.etag).toBe('"e1"');
  });

  it.each([
    ["../etc/passwd", "unsafe"],
    ["/abs", "unsafe"],
    ["a//b", "unsafe"],
    ["a/./b", "unsafe"],
    ["a\\b", "unsafe"],
    ["a\nb", "unsafe"],
  ])("refuses the path %j", (path, why) => {
    const text = JSON.stringify({
      format: "yunshi-dataset/v1",
      files: [{ path, size: 1, sha256: sha }],
    });
    expect(() => parseDatasetManifest(text, "s3://b/m")).toThrow(why);
  });

  it("refuses bad sizes, hashes, duplicates and other formats", () => {
    const doc = (files: unknown[], format = "yunshi-dataset/v1"): string =>
      JSON.stringify({ format, files });
    expect(() => parseDatasetManifest(doc([{ path: "a", size: -1, sha256: sha }]), "m")).toThrow(
      "bad size",
    );
    expect(() => parseDatasetManifest(doc([{ path: "a", size: 1, sha256: "xyz" }]), "m")).toThrow(
      "bad sha256",
    );
    expect(() =>
      parseDatasetManifest(
        doc([
          { path: "a", size: 1, sha256: sha },
          { path: "a", size: 1, sha256: sha },
        ]),
        "m",
      ),
    ).toThrow("listed twice");
    expect(() => parseDatasetManifest(doc([], "other"), "m")).toThrow(
      "format is not yunshi-dataset/v1",
    );
    expect(() => parseDatasetManifest("{", "m")).toThrow("push the dataset again");
  });
});
