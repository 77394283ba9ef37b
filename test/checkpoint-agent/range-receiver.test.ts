/**
 * The range workers (range-receiver.ts → range-worker.ts) against a real HTTP server that
 * misbehaves the ways a server can: a body written exactly at its offset and nowhere else;
 * a server that ignores Range and sends more (never written past the range); a body cut
 * short; an S3 XML error; a stalled socket. And the in-order read-back hash
 * (ordered-file-hash.ts) with ranges completed out of order.
 */
import { createHash, randomBytes } from "node:crypto";
import { open, readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VerificationError } from "../../images/checkpoint-agent/src/errors.ts";
import { OrderedFileHash } from "../../images/checkpoint-agent/src/ordered-file-hash.ts";
import type { SignedGet } from "../../images/checkpoint-agent/src/range-protocol.ts";
import {
  RangeReceiver,
  RangeRequestError,
  receiverThreads,
} from "../../images/checkpoint-agent/src/range-receiver.ts";
import { classifyError } from "../../images/checkpoint-agent/src/s3-store.ts";
import { tempDir } from "./helpers.ts";

const OBJECT = randomBytes(3 * 1024 * 1024 + 17);
const FILL = 0xee;

/** Serves OBJECT honouring Range, except on the paths that name a misbehaviour. */
function serve(req: IncomingMessage, res: ServerResponse): void {
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
  const [start, end] = m === null ? [0, OBJECT.length - 1] : [Number(m[1]), Number(m[2])];
  const body = OBJECT.subarray(start, end + 1);
  switch (req.url) {
    case "/ignores-range":
      res.writeHead(200, { "content-length": OBJECT.length });
      res.end(OBJECT);
      return;
    case "/cut":
      res.writeHead(206, { "content-length": body.length });
      res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
      return;
    case "/slow-down":
      res.writeHead(503, { "content-type": "application/xml" });
      res.end(
        "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
      );
      return;
    case "/stall":
      res.writeHead(206, { "content-length": body.length });
      res.write(body.subarray(0, 1024)); // then nothing, connection kept open
      return;
    default:
      res.writeHead(206, {
        "content-length": body.length,
        "x-got-auth": req.headers.authorization ?? "",
      });
      res.end(body);
  }
}

let server: Server;
let port = 0;
const receiver = new RangeReceiver(2, {
  maxSockets: 4,
  idleTimeoutMs: 1500,
  connectTimeoutMs: 5000,
});
const get = (path: string, start: number, length: number): SignedGet => ({
  protocol: "http:",
  hostname: "127.0.0.1",
  port,
  path,
  headers: {
    authorization: "AWS4-HMAC-SHA256 test",
    range: `bytes=${start}-${start + length - 1}`,
  },
});
/** Receive [start, start + length) of `path` into the file at the same offset. */
const receive = (path: string, fd: number, start: number, length: number): Promise<void> =>
  receiver.receive(get(path, start, length), fd, start, length);

beforeAll(async () => {
  server = createServer(serve);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await receiver.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** A file of OBJECT's size filled with FILL, opened read-write. */
async function filledFile(): Promise<{ path: string; fd: number; close: () => Promise<void> }> {
  const path = join(await tempDir("range"), "object.yunshi-partial");
  await writeFile(path, Buffer.alloc(OBJECT.length, FILL));
  const fh = await open(path, "r+");
  return { path, fd: fh.fd, close: () => fh.close() };
}

const failureOf = async (p: Promise<void>): Promise<RangeRequestError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RangeRequestError);
  return err as RangeRequestError;
};

describe("range workers", () => {
  it("write each range at its offset and nowhere else, in parallel on several threads", async () => {
    const f = await filledFile();
    const ranges: [number, number][] = [
      [1024 * 1024, 2 * 1024 * 1024 - 1],
      [0, 99],
      [3 * 1024 * 1024, OBJECT.length - 1],
    ];
    await Promise.all(ranges.map(([s, e]) => receive("/object", f.fd, s, e - s + 1)));
    await f.close();
    const got = await readFile(f.path);
    for (const [s, e] of ranges)
      expect(got.subarray(s, e + 1).equals(OBJECT.subarray(s, e + 1))).toBe(true);
    // Between the ranges the file is as it was.
    expect(got.subarray(100, 1024 * 1024).every((b) => b === FILL)).toBe(true);
    expect(got.subarray(2 * 1024 * 1024, 3 * 1024 * 1024).every((b) => b === FILL)).toBe(true);
  });

  it("refuse a body longer than the range (a server ignoring Range) without writing past it", async () => {
    const f = await filledFile();
    const err = await failureOf(receive("/ignores-range", f.fd, 0, 1000));
    await f.close();
    expect(err.name).toBe("LongBody");
    expect(err.message).toMatch(
      /more than the 1000 bytes asked for \(HTTP 200; does the server ignore Range\?\)/,
    );
    expect((await readFile(f.path)).subarray(1000).every((b) => b === FILL)).toBe(true);
  });

  it("report a body cut short as a retryable network error", async () => {
    const f = await filledFile();
    const err = await failureOf(receive("/cut", f.fd, 0, 2 * 1024 * 1024));
    await f.close();
    expect(["network", "body"]).toContain(err.failure.kind);
    expect(classifyError(err, "GetObject").retryable).toBe(true);
  });

  it("carry S3's error code and status, which decide the retry", async () => {
    const f = await filledFile();
    const err = await failureOf(receive("/slow-down", f.fd, 0, 10));
    await f.close();
    expect(err.failure).toMatchObject({ kind: "http", name: "SlowDown", status: 503 });
    const classified = classifyError(err, "GetObject k");
    expect(classified.retryable).toBe(true);
    expect(classified.message).toBe(
      "GetObject k: SlowDown (HTTP 503): Please reduce your request rate.",
    );
  });

  it("fail a stalled socket after the idle timeout instead of hanging", async () => {
    const f = await filledFile();
    const t0 = performance.now();
    const err = await failureOf(receive("/stall", f.fd, 0, 2 * 1024 * 1024));
    await f.close();
    expect(err.name).toBe("TimeoutError");
    expect(classifyError(err, "GetObject").retryable).toBe(true);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it("send the signed headers as given", async () => {
    const seen: string[] = [];
    const spy = (req: IncomingMessage): void => {
      seen.push(req.headers.authorization ?? "");
    };
    server.on("request", spy);
    const f = await filledFile();
    await receive("/object", f.fd, 0, 10);
    await f.close();
    server.off("request", spy);
    expect(seen).toEqual(["AWS4-HMAC-SHA256 test"]);
  });
});

it("leaves one core to the hashing main thread, with 1 to 4 receiving threads", () => {
  expect([1, 2, 3, 5, 8, 64].map((cores) => receiverThreads(cores))).toEqual([1, 1, 2, 4, 4, 4]);
});

describe("OrderedFileHash", () => {
  it("hashes the file in order whatever order its ranges complete in", async () => {
    const path = join(await tempDir("ordered-hash"), "f");
    await writeFile(path, OBJECT);
    const fh = await open(path, "r");
    const hash = new OrderedFileHash(fh, OBJECT.length, "f");
    const cuts = [0, 5, 1024 * 1024, 1024 * 1024 + 1, 2 * 1024 * 1024, OBJECT.length];
    const ranges = cuts.slice(1).map((end, i) => [cuts[i] as number, end] as const);
    for (const i of [3, 1, 4, 0, 2]) hash.complete(...(ranges[i] as readonly [number, number]));
    expect(await hash.digest()).toBe(createHash("sha256").update(OBJECT).digest("hex"));
    await fh.close();
  });

  it("fails verification when the file is shorter than the ranges said", async () => {
    const path = join(await tempDir("ordered-hash"), "f");
    await writeFile(path, OBJECT.subarray(0, 1000));
    const fh = await open(path, "r");
    const hash = new OrderedFileHash(fh, 2000, "f");
    hash.complete(0, 2000);
    await expect(hash.digest()).rejects.toThrow(VerificationError);
    await expect(hash.digest()).rejects.toThrow("f: file ends at 1000 bytes, expected 2000");
    await fh.close();
  });

  it("refuses a digest before every byte is in", async () => {
    const path = join(await tempDir("ordered-hash"), "f");
    await writeFile(path, OBJECT);
    const fh = await open(path, "r");
    const hash = new OrderedFileHash(fh, OBJECT.length, "f");
    hash.complete(0, 100);
    hash.complete(200, OBJECT.length); // [100, 200) never arrives
    await expect(hash.digest()).rejects.toThrow("digest asked for before the whole file");
    await hash.stop();
    await fh.close();
  });
});
