/** The split is a pure function of (seed, path): stable, machine-independent, near the fraction. */
import { describe, expect, it } from "vitest";
import { splitKey, subsetOf } from "../../jobs/dataset/split.ts";

const paths = Array.from({ length: 5000 }, (_, i) => `路口 ${i % 7}/图片 ${i}.jpg`);

describe("split", () => {
  it("puts close to the requested share in val", () => {
    const val = paths.filter((p) => subsetOf(0, p, 0.2) === "val").length / paths.length;
    expect(val).toBeGreaterThan(0.18);
    expect(val).toBeLessThan(0.22);
  });

  it("is fixed by (seed, path): the same on every call and machine", () => {
    // Pinned values: a change here would reshuffle every user's dataset.
    expect(splitKey(0, "路口 一/图片 01.jpg")).toBeCloseTo(splitKey(0, "路口 一/图片 01.jpg"), 15);
    expect(splitKey(0, "a.jpg").toFixed(6)).toBe(SPLIT_A0);
    expect(splitKey(7, "a.jpg").toFixed(6)).not.toBe(SPLIT_A0);
  });

  it("a larger val share only moves pictures from train to val, never back", () => {
    for (const p of paths)
      if (subsetOf(3, p, 0.1) === "val") expect(subsetOf(3, p, 0.3), p).toBe("val");
  });

  it("another seed gives another split", () => {
    const a = paths.map((p) => subsetOf(1, p, 0.2));
    const b = paths.map((p) => subsetOf(2, p, 0.2));
    expect(a.filter((s, i) => s !== b[i]).length).toBeGreaterThan(500);
  });
});

const SPLIT_A0 = "0.891508";
