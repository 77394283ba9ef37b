/**
 * The embedded object store of local runs (jobs/local/embedded-s3.ts) must survive any key
 * a client sends: s3rver keeps keys as file paths, so a long segment crashed the whole run
 * (ENAMETOOLONG thrown from a stream) and a '..' segment reached outside its directory.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32Base64 } from "../../images/checkpoint-agent/src/checksum.ts";
import type { ObjectStore } from "../../images/checkpoint-agent/src/object-store.ts";
import { createS3Store } from "../../images/checkpoint-agent/src/s3-store.ts";
import {
  EMBEDDED_CREDENTIALS,
  MAX_EMBEDDED_KEY_SEGMENT_BYTES,
  startEmbeddedS3,
  type EmbeddedS3,
} from "../../jobs/local/embedded-s3.ts";

const BUCKET = "yunshi-local";
let root: string;
let server: EmbeddedS3;
let store: ObjectStore;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "yunshi-embedded-s3-"));
  server = await startEmbeddedS3({ directory: join(root, "s3"), port: 0, bucket: BUCKET });
  store = createS3Store({
    bucket: BUCKET,
    config: {
      endpoint: server.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      maxAttempts: 1,
      maxBackoffMs: 100,
    },
    maxSockets: 4,
    log: () => undefined,
    credentials: { ...EMBEDDED_CREDENTIALS },
  });
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

const put = (key: string, text: string): Promise<void> => {
  const body = Buffer.from(text);
  return store.putObject(key, body, { crc32Base64: crc32Base64(body) });
};

describe("embedded S3: keys it cannot store as files are refused with an S3 error, not a crash", () => {
  it("stores a segment at the limit and refuses one byte more, then keeps serving", async () => {
    const ok = `exp/logs/${"a".repeat(MAX_EMBEDDED_KEY_SEGMENT_BYTES)}`;
    await put(ok, "fits");
    expect(await store.getText(ok)).toBe("fits");
    const long = `exp/logs/${"b".repeat(MAX_EMBEDDED_KEY_SEGMENT_BYTES + 1)}`;
    await expect(put(long, "too long")).rejects.toThrow(
      /KeyTooLongError \(HTTP 400\): key segment of 234 bytes is longer than the embedded store's limit of 233.*--s3-endpoint/,
    );
    // Multi-byte names count in bytes: 78 CJK characters are 234 bytes.
    await expect(put(`exp/${"云".repeat(78)}`, "x")).rejects.toThrow(/234 bytes/);
    // HEAD has no body to carry the error code; the status still says no.
    await expect(store.head(long)).rejects.toThrow(/HTTP 400/);
    // Still alive and serving.
    expect(await store.getText(ok)).toBe("fits");
  });

  it("refuses '.' and '..' segments, in keys and in list prefixes, and writes nothing outside", async () => {
    await expect(put("exp/../../../escaped", "x")).rejects.toThrow(
      /InvalidArgument \(HTTP 400\): key .* has a '\.\.' segment/,
    );
    await expect(put("exp/./x", "x")).rejects.toThrow(/has a '\.' segment/);
    await expect(store.list("exp/../")).rejects.toThrow(/'\.\.' segment/);
    expect(await readdir(root)).toEqual(["s3"]);
    expect((await readdir(join(root, "s3"))).sort()).toEqual([BUCKET]);
  });
});
