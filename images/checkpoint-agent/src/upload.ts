/**
 * Upload one local file: a single sequential read pass that hashes the whole file (the
 * manifest's SHA-256) and checksums each part (x-amz-checksum-crc32, checked by S3), while up to
 * `concurrency` parts are in flight. The object becomes visible only at
 * CompleteMultipartUpload, so a process killed part way leaves nothing readable behind.
 */
import { createHash } from "node:crypto";
import { crc32Base64 } from "./checksum.ts";
import { AbortedError, AgentError } from "./errors.ts";
import { Limiter } from "./limiter.ts";
import type { CompletedPart, ObjectStore } from "./object-store.ts";
import { Progress, type LogFn } from "./progress.ts";
import { openNoFollow } from "./safe-path.ts";
import { partSizeFor, type TransferOptions } from "./transfer-options.ts";

export interface UploadResult {
  readonly key: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly seconds: number;
}

export interface UploadRequest {
  readonly path: string;
  readonly key: string;
  readonly label: string;
  readonly transfer: TransferOptions;
  readonly log: LogFn;
  readonly contentType?: string;
  /** Checked between parts; when aborted the multipart upload is abandoned. */
  readonly signal?: AbortSignal;
  /** Told the upload id, so a hard stop can abort it. */
  readonly onMultipart?: (uploadId: string | undefined) => void;
}

export async function uploadFile(store: ObjectStore, req: UploadRequest): Promise<UploadResult> {
  // Read through one descriptor: MMEngine may delete the file (max_keep_ckpts) while we
  // upload it, and an open descriptor keeps the bytes readable on Linux. O_NOFOLLOW and the
  // fstat below: only a regular file is uploaded, never what a symlink points at.
  const fh = await openNoFollow(req.path).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === "ELOOP") {
      throw new AgentError(`${req.path} is a symlink; only regular files are uploaded`);
    }
    throw err;
  });
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new AgentError(`${req.path} is not a regular file; not uploading it`);
    const size = st.size;
    const progress = new Progress(req.log, req.label, size);
    const whole = createHash("sha256");
    const partSize = partSizeFor(size, req.transfer.partSize);

    const readAt = async (offset: number, length: number): Promise<Buffer> => {
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) {
          throw new AgentError(
            `${req.path} shrank while being uploaded (expected ${size} bytes); it will be retried`,
          );
        }
        got += bytesRead;
      }
      return buf;
    };

    if (size <= partSize) {
      const body = await readAt(0, size);
      whole.update(body);
      await store.putObject(req.key, body, {
        crc32Base64: crc32Base64(body),
        ...(req.contentType === undefined ? {} : { contentType: req.contentType }),
      });
      progress.add(size);
      return {
        key: req.key,
        bytes: size,
        sha256: whole.digest("hex"),
        seconds: progress.finish("uploaded"),
      };
    }

    const uploadId = await store.createMultipart(req.key, {}, req.contentType);
    req.onMultipart?.(uploadId);
    const limiter = new Limiter(req.transfer.concurrency);
    const inflight: Promise<CompletedPart>[] = [];
    let failure: unknown;
    try {
      for (let offset = 0, n = 1; offset < size; offset += partSize, n++) {
        if (req.signal?.aborted === true) throw new AbortedError(`upload of ${req.label} aborted`);
        if (failure !== undefined) break;
        const partNumber = n;
        const length = Math.min(partSize, size - offset);
        // Wait for a free slot before reading, so at most `concurrency` + 1 parts sit in memory.
        const body = await limiter.run(async () => readAt(offset, length));
        whole.update(body);
        const p = limiter.run(async () => {
          const part = await store.uploadPart(
            req.key,
            uploadId,
            partNumber,
            body,
            crc32Base64(body),
          );
          progress.add(length);
          return part;
        });
        p.catch((err: unknown) => {
          failure ??= err;
        });
        inflight.push(p);
      }
      const settled = await Promise.allSettled(inflight);
      const rejected = settled.find((s) => s.status === "rejected");
      if (rejected !== undefined) throw rejected.reason;
      if (req.signal?.aborted === true) throw new AbortedError(`upload of ${req.label} aborted`);
      const parts = settled.map((s) => (s as PromiseFulfilledResult<CompletedPart>).value);
      await store.completeMultipart(req.key, uploadId, parts);
      req.onMultipart?.(undefined);
    } catch (err) {
      req.onMultipart?.(undefined);
      await store.abortMultipart(req.key, uploadId).catch(() => undefined);
      throw err;
    }
    return {
      key: req.key,
      bytes: size,
      sha256: whole.digest("hex"),
      seconds: progress.finish("uploaded"),
    };
  } finally {
    await fh.close();
  }
}
