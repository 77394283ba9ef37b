/** Pure parts of the agent: URI parsing, S3 settings, names, manifest rules, backoff. */
import { describe, expect, it } from "vitest";
import {
  bestFilePrefix,
  isAfter,
  isBestFile,
  parseStep,
} from "../../images/checkpoint-agent/src/checkpoint-names.ts";
import { InputError } from "../../images/checkpoint-agent/src/errors.ts";
import { resolveNamed } from "../../images/checkpoint-agent/src/last-checkpoint.ts";
import {
  commitBest,
  commitCheckpoint,
  CorruptManifestError,
  emptyManifest,
  parseManifest,
  parseManifestChecked,
  type ManifestEntry,
} from "../../images/checkpoint-agent/src/manifest.ts";
import {
  MAX_SEGMENT_BYTES,
  safeJoin,
  safeObjectKey,
  UnsafePathError,
} from "../../images/checkpoint-agent/src/safe-path.ts";
import { backoffMs } from "../../images/checkpoint-agent/src/retry.ts";
import { classifyError } from "../../images/checkpoint-agent/src/s3-store.ts";
import { resolveS3Config } from "../../images/checkpoint-agent/src/s3-config.ts";
import { parseS3Uri } from "../../images/checkpoint-agent/src/s3-uri.ts";
import { partSizeFor } from "../../images/checkpoint-agent/src/transfer-options.ts";

describe("parseS3Uri", () => {
  it("splits bucket and prefix and tells prefixes from single objects", () => {
    expect(parseS3Uri("s3://b-1/team/exp/")).toEqual({
      bucket: "b-1",
      prefix: "team/exp/",
      exact: false,
    });
    expect(parseS3Uri("s3://b-1/models/w.pth")).toEqual({
      bucket: "b-1",
      prefix: "models/w.pth",
      exact: true,
    });
    expect(parseS3Uri("s3://b-1")).toEqual({ bucket: "b-1", prefix: "", exact: false });
  });
  it.each(["b/x", "s3:/b/x", "s3://B/x", "s3://b/x//y", "s3://b/./x", "s3://ab/x\ny"])(
    "rejects %j",
    (uri) => {
      expect(() => parseS3Uri(uri)).toThrow(InputError);
    },
  );
});

describe("resolveS3Config", () => {
  it("prefers AWS_ENDPOINT_URL_S3 and defaults the region for custom endpoints", () => {
    const c = resolveS3Config({
      AWS_ENDPOINT_URL: "http://a:1",
      AWS_ENDPOINT_URL_S3: "http://b:2",
    });
    expect(c).toMatchObject({ endpoint: "http://b:2", region: "us-east-1", forcePathStyle: false });
  });
  it("leaves the region to the SDK for AWS S3 and reads path style from env or flag", () => {
    expect(resolveS3Config({}).region).toBeUndefined();
    expect(resolveS3Config({ AWS_REGION: "eu-west-1" }).region).toBe("eu-west-1");
    expect(resolveS3Config({ YUNSHI_S3_FORCE_PATH_STYLE: "true" }).forcePathStyle).toBe(true);
    expect(resolveS3Config({}, { pathStyle: true }).forcePathStyle).toBe(true);
    expect(() => resolveS3Config({ YUNSHI_S3_FORCE_PATH_STYLE: "yes please" })).toThrow(
      /not a boolean/,
    );
  });
});

describe("checkpoint names", () => {
  it("parses MMEngine's names and save_best's", () => {
    expect(parseStep("epoch_12.pth")).toEqual({ unit: "epoch", n: 12 });
    expect(parseStep("best_coco_bbox_mAP_iter_500.pth")).toEqual({ unit: "iter", n: 500 });
    expect(parseStep("model_final.pth")).toBeUndefined();
    expect(bestFilePrefix("coco/bbox_mAP")).toBe("best_coco_bbox_mAP_");
    expect(isBestFile("best_coco_bbox_mAP_epoch_3.pth", "coco/bbox_mAP")).toBe(true);
    expect(isBestFile("best_coco_bbox_mAP_50_epoch_3.pth", "coco/bbox_mAP")).toBe(false);
    expect(isAfter({ unit: "epoch", n: 4 }, { unit: "epoch", n: 3 })).toBe(true);
    expect(isAfter({ unit: "iter", n: 4 }, { unit: "epoch", n: 3 })).toBe(false);
  });
  it("maps last_checkpoint to a path relative to the work dir", () => {
    expect(resolveNamed("/w", "/w/epoch_1.pth")).toEqual({
      path: "/w/epoch_1.pth",
      relPath: "epoch_1.pth",
      file: "epoch_1.pth",
    });
    expect(resolveNamed("/w", "sub/iter_2.pth")?.relPath).toBe("sub/iter_2.pth");
  });
  it("names nothing outside the work dir: such a checkpoint is never uploaded", () => {
    expect(resolveNamed("/w", "/elsewhere/epoch_1.pth")).toBeUndefined();
    expect(resolveNamed("/w", "../w2/epoch_1.pth")).toBeUndefined();
    expect(resolveNamed("/w", "/w")).toBeUndefined();
  });
});

const entry = (n: number, prefix = "epoch"): ManifestEntry => ({
  file: `${prefix}_${n}.pth`,
  key: `checkpoints/${prefix}_${n}.pth`,
  relPath: `${prefix}_${n}.pth`,
  path: `/w/${prefix}_${n}.pth`,
  bytes: n,
  sha256: "0".repeat(64),
  epoch: n,
  time: "t",
});

describe("manifest rules", () => {
  it("keeps the newest `keep` committed checkpoints, newest first, and names what to prune", () => {
    let m = emptyManifest("t");
    const pruned: string[] = [];
    for (let n = 1; n <= 5; n++) {
      const c = commitCheckpoint(m, entry(n), 2, "t");
      m = c.manifest;
      pruned.push(...c.pruned.map((e) => e.file));
    }
    expect(m.history.map((e) => e.file)).toEqual(["epoch_5.pth", "epoch_4.pth"]);
    expect(m.latest?.file).toBe("epoch_5.pth");
    expect(pruned).toEqual(["epoch_1.pth", "epoch_2.pth", "epoch_3.pth"]);
  });
  it("replaces the best without pruning it with the regular checkpoints", () => {
    let m = commitBest(emptyManifest("t"), entry(1, "best_coco_bbox_mAP_epoch"), "t").manifest;
    const c = commitBest(m, entry(3, "best_coco_bbox_mAP_epoch"), "t");
    expect(c.pruned.map((e) => e.file)).toEqual(["best_coco_bbox_mAP_epoch_1.pth"]);
    m = c.manifest;
    for (let n = 1; n <= 4; n++) m = commitCheckpoint(m, entry(n), 1, "t").manifest;
    expect(m.best?.file).toBe("best_coco_bbox_mAP_epoch_3.pth");
  });
  it("drops the older entry when a key is committed again (the object was overwritten)", () => {
    let m = commitCheckpoint(emptyManifest("t"), entry(3), 3, "t").manifest;
    m = commitCheckpoint(m, { ...entry(3), bytes: 99 }, 3, "t").manifest;
    expect(m.history.map((e) => e.bytes)).toEqual([99]);
  });
  it("round-trips through JSON and reports a broken manifest clearly", () => {
    const m = commitCheckpoint(emptyManifest("t"), entry(1), 2, "t").manifest;
    expect(parseManifest(JSON.stringify(m), "x")).toEqual(m);
    expect(() => parseManifest("{", "s3://b/LATEST.json")).toThrow(
      /s3:\/\/b\/LATEST.json is not valid JSON/,
    );
    expect(() => parseManifest('{"version":2}', "m")).toThrow(/not a yunshi manifest/);
    // Exit 2, not 1: a retry reads the same bytes (SECURITY.md, "The object store").
    expect(() => parseManifest("{", "m")).toThrow(CorruptManifestError);
    expect(new CorruptManifestError("x")).toBeInstanceOf(InputError);
  });
  it("rejects entries whose relPath, key or file could leave their place, and keeps the rest in order", () => {
    const bad: Partial<ManifestEntry>[] = [
      { relPath: "../../escaped.pth" },
      { relPath: "/etc/cron.d/x" },
      { relPath: "a/./b.pth" },
      { relPath: "a\\..\\b.pth" },
      { relPath: `${"x".repeat(MAX_SEGMENT_BYTES + 1)}.pth` },
      { key: "checkpoints/../../other-team/exp/checkpoints/epoch_1.pth" },
      { key: "/abs/epoch_1.pth" },
      { key: "logs/epoch_1.pth" },
      { file: "../epoch_1.pth" },
    ];
    const m = {
      version: 1,
      latest: null,
      history: [...bad.map((b, i) => ({ ...entry(10 + i), ...b })), entry(2), entry(1)],
      best: null,
      updated: "t",
    };
    const parsed = parseManifestChecked(JSON.stringify(m), "m");
    expect(parsed.rejected.map((r) => r.index)).toEqual(bad.map((_, i) => i));
    expect(parsed.rejected[0]?.reason).toMatch(/relPath: it has a '\.\.' segment/);
    expect(parsed.rejected[1]?.reason).toMatch(/relPath: it is an absolute path/);
    expect(parsed.rejected[5]?.reason).toMatch(/key: it has a '\.\.' segment/);
    expect(parsed.rejected[7]?.reason).toMatch(/key: must lie under checkpoints\//);
    expect(parsed.manifest.history.map((e) => e.file)).toEqual(["epoch_2.pth", "epoch_1.pth"]);
    expect(parsed.manifest.latest?.file).toBe("epoch_2.pth");
    expect(parsed.candidates.map((c) => ("entry" in c ? c.entry.file : "rejected"))).toEqual([
      ...bad.map(() => "rejected"),
      "epoch_2.pth",
      "epoch_1.pth",
    ]);
  });
});

describe("safe paths: one join for every name from the bucket", () => {
  it("joins safe relative paths under the root", () => {
    expect(safeJoin("/w", "epoch_1.pth", "x")).toBe("/w/epoch_1.pth");
    expect(safeJoin("/w", "20260101_000000/vis_data/scalars.json", "x")).toBe(
      "/w/20260101_000000/vis_data/scalars.json",
    );
    expect(safeObjectKey("ns/exp/", "checkpoints/epoch_1.pth", "key")).toBe(
      "ns/exp/checkpoints/epoch_1.pth",
    );
  });
  it("refuses climbing, absolute, empty, control-character and over-long names, naming them", () => {
    const cases: [string, RegExp][] = [
      ["../x", /'\.\.' segment/],
      ["a/../../x", /'\.\.' segment/],
      ["/etc/passwd", /absolute path/],
      ["", /empty/],
      ["a//b", /empty or '\.' segment/],
      ["./a", /empty or '\.' segment/],
      ["a\nb", /control character/],
      ["a\u0000b", /control character/],
      ["..\\x", /backslash/],
      ["y".repeat(MAX_SEGMENT_BYTES + 1), /at most 240/],
    ];
    for (const [rel, message] of cases) {
      expect(() => safeJoin("/w", rel, "log object"), rel).toThrow(UnsafePathError);
      expect(() => safeJoin("/w", rel, "log object"), rel).toThrow(message);
      expect(() => safeObjectKey("p/", rel, "manifest key"), rel).toThrow(UnsafePathError);
    }
    // A multi-byte name counts bytes, not characters: 81 CJK characters are 243 bytes.
    expect(() => safeJoin("/w", "云".repeat(81), "x")).toThrow(/243 bytes/);
    const deep = Array.from({ length: 17 }, () => "d".repeat(240)).join("/");
    expect(() => safeJoin("/w", deep, "object path")).toThrow(/Linux allows 4095/);
  });
});

describe("transfers and retries", () => {
  it("grows parts past S3's 10,000-part limit", () => {
    expect(partSizeFor(1 << 30, 16 << 20)).toBe(16 << 20);
    expect(partSizeFor(400 * 2 ** 30, 16 << 20)).toBeGreaterThanOrEqual(
      Math.ceil((400 * 2 ** 30) / 10_000),
    );
  });
  it("backs off exponentially with jitter, capped", () => {
    expect(backoffMs(0, 250, 10_000, () => 0)).toBe(125);
    expect(backoffMs(3, 250, 10_000, () => 1)).toBe(2000);
    expect(backoffMs(20, 250, 10_000, () => 1)).toBe(10_000);
  });
  it("classifies S3 and socket errors as retryable or not", () => {
    const sdk = (name: string, status: number): unknown => ({
      name,
      message: name,
      $metadata: { httpStatusCode: status },
    });
    expect(classifyError(sdk("SlowDown", 503), "x").retryable).toBe(true);
    expect(classifyError(sdk("InternalError", 500), "x").retryable).toBe(true);
    expect(
      classifyError(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), "x")
        .retryable,
    ).toBe(true);
    expect(classifyError(sdk("AccessDenied", 403), "x").retryable).toBe(false);
    expect(classifyError(sdk("NoSuchKey", 404), "x").retryable).toBe(false);
  });
});
