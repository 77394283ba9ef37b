/**
 * The S3 adaptor: the only module that talks to S3 (design.md, "only one module talks to
 * S3"). Every call goes through withRetry with the agent's own backoff on top of the SDK's
 * standard retries, because a preempted node or a throttled prefix can fail for longer than
 * the SDK's few attempts; SDK errors become StoreError/InputError here and nowhere else.
 */
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { AgentError, InputError, StoreError } from "./errors.ts";
import type { CompletedPart, ObjectInfo, ObjectStore, PutOptions } from "./object-store.ts";
import { RangeReceiver, RangeRequestError, receiverThreads } from "./range-receiver.ts";
import { createGetSigner, type GetSigner } from "./get-signer.ts";
import { withRetry, type RetryPolicy } from "./retry.ts";
import type { S3Config } from "./s3-config.ts";

const RETRYABLE_NAMES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalError",
  "ServiceUnavailable",
  "TimeoutError",
  "RequestAbortedError",
]);
const RETRYABLE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Turn whatever the SDK or the socket threw into a StoreError that says if a retry helps. */
export function classifyError(err: unknown, what: string): StoreError {
  const e = (typeof err === "object" && err !== null ? err : {}) as SdkErrorShape;
  const name = e.name ?? "Error";
  const status = e.$metadata?.httpStatusCode;
  const code = e.code ?? name;
  const message = e.message ?? String(err);
  const retryable =
    (status !== undefined && (status >= 500 || status === 429)) ||
    RETRYABLE_NAMES.has(name) ||
    RETRYABLE_CODES.has(code) ||
    /socket hang up|ECONNRESET|EPIPE|premature close|aborted/i.test(message);
  const statusText = status === undefined ? "" : ` (HTTP ${status})`;
  return new StoreError(`${what}: ${name}${statusText}: ${message}`, code, status, retryable, {
    cause: err,
  });
}

function isNotFound(err: unknown): boolean {
  const e = (typeof err === "object" && err !== null ? err : {}) as SdkErrorShape;
  return e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata?.httpStatusCode === 404;
}

function isNoSuchBucket(err: unknown): boolean {
  const e = (typeof err === "object" && err !== null ? err : {}) as SdkErrorShape;
  return e.name === "NoSuchBucket";
}

function isCredentials(err: unknown): boolean {
  const e = (typeof err === "object" && err !== null ? err : {}) as SdkErrorShape;
  return (
    e.name === "CredentialsProviderError" || /Could not load credentials/i.test(e.message ?? "")
  );
}

export interface S3StoreOptions {
  readonly bucket: string;
  readonly config: S3Config;
  /** Sockets per host; should be ≥ the transfer concurrency. */
  readonly maxSockets: number;
  readonly log: (line: string) => void;
  /** Static keys instead of the default chain (tests and the benchmark only). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** No connection within this fails a request, and it is retried. */
const CONNECT_TIMEOUT_MS = 10_000;
// A stalled socket (half-dead NAT, throttled proxy) must fail and be retried, not hang.
const IDLE_TIMEOUT_MS = 120_000;

export function createS3Store(options: S3StoreOptions): ObjectStore {
  const { bucket, config, log } = options;
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
  const clientConfig: S3ClientConfig = {
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(config.region === undefined ? {} : { region: config.region }),
    forcePathStyle: config.forcePathStyle,
    ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
    maxAttempts: 3,
  };
  const client = new S3Client({
    ...clientConfig,
    requestHandler: {
      connectionTimeout: CONNECT_TIMEOUT_MS,
      requestTimeout: IDLE_TIMEOUT_MS,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
    },
  });
  // Ranged GETs of downloads: signed here by the SDK, received by worker threads. Both are
  // made on the first download, so commands that never download pay nothing for them.
  let signGet: GetSigner | undefined;
  let receiver: RangeReceiver | undefined;
  const policy: RetryPolicy = {
    maxAttempts: config.maxAttempts,
    baseMs: 250,
    maxBackoffMs: config.maxBackoffMs,
    onRetry: (err, attempt, ms) =>
      log(
        `retrying after error (attempt ${attempt}/${config.maxAttempts}, ${ms} ms): ${err.message}`,
      ),
  };
  const where = (key: string): string => `s3://${bucket}/${key}`;

  /** One S3 call with retries; bucket and credential problems are turned into clear errors. */
  async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(policy, async () => {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof StoreError || err instanceof InputError || err instanceof AgentError)
          throw err;
        if (isNoSuchBucket(err)) {
          throw new InputError(
            `bucket ${JSON.stringify(bucket)} does not exist (${what}); check --uri or create the bucket`,
          );
        }
        if (isCredentials(err)) {
          throw new AgentError(
            `no AWS credentials found (${what}): in EKS attach the service account's Pod Identity; locally set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE`,
          );
        }
        throw classifyError(err, what);
      }
    });
  }

  return {
    bucket,
    async checkBucket() {
      await call(`HeadBucket ${bucket}`, async () => {
        try {
          await client.send(new HeadBucketCommand({ Bucket: bucket }));
        } catch (err) {
          // HeadBucket has no body, so a missing bucket is only a bare 404.
          if (isNotFound(err)) {
            throw new InputError(
              `bucket ${JSON.stringify(bucket)} does not exist; check --uri or create the bucket`,
            );
          }
          throw err;
        }
      });
    },
    async head(key) {
      return call(`HeadObject ${where(key)}`, async () => {
        try {
          const r = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
          return {
            key,
            size: r.ContentLength ?? 0,
            etag: r.ETag,
            metadata: r.Metadata ?? {},
          } satisfies ObjectInfo;
        } catch (err) {
          if (isNotFound(err) && !isNoSuchBucket(err)) return undefined;
          throw err;
        }
      });
    },
    async getText(key) {
      return call(`GetObject ${where(key)}`, async () => {
        try {
          const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          return (await r.Body?.transformToString("utf8")) ?? "";
        } catch (err) {
          if (isNotFound(err) && !isNoSuchBucket(err)) return undefined;
          throw err;
        }
      });
    },
    async getRangeInto(key, start, end, fd) {
      const what = `GetObject ${where(key)} bytes=${start}-${end}`;
      await call(what, async () => {
        // The same credentials provider: one refresh, one cache.
        signGet ??= createGetSigner({ ...clientConfig, credentials: client.config.credentials });
        const request = await signGet(bucket, key, `bytes=${start}-${end}`);
        receiver ??= new RangeReceiver(receiverThreads(), {
          maxSockets: options.maxSockets,
          idleTimeoutMs: IDLE_TIMEOUT_MS,
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
        });
        try {
          await receiver.receive(request, fd, start, end - start + 1);
        } catch (err) {
          if (err instanceof RangeRequestError && err.failure.kind === "body") {
            // A connection cut mid-body can look like a short success: retry it.
            const retry = err.name === "ShortRead";
            throw new StoreError(`${what}: ${err.message}`, err.name, undefined, retry);
          }
          throw err;
        }
      });
    },
    async putObject(key, body, opts: PutOptions) {
      await call(`PutObject ${where(key)}`, () =>
        client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            ChecksumAlgorithm: "CRC32",
            ChecksumCRC32: opts.crc32Base64,
            ...(opts.contentType === undefined ? {} : { ContentType: opts.contentType }),
            ...(opts.metadata === undefined ? {} : { Metadata: { ...opts.metadata } }),
          }),
        ),
      );
    },
    async createMultipart(key, metadata, contentType) {
      const r = await call(`CreateMultipartUpload ${where(key)}`, () =>
        client.send(
          new CreateMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            ChecksumAlgorithm: "CRC32",
            Metadata: { ...metadata },
            ...(contentType === undefined ? {} : { ContentType: contentType }),
          }),
        ),
      );
      if (r.UploadId === undefined) {
        throw new StoreError(
          `CreateMultipartUpload ${where(key)}: no UploadId`,
          "NoUploadId",
          200,
          true,
        );
      }
      return r.UploadId;
    },
    async uploadPart(key, uploadId, partNumber, body, crc32Base64) {
      const r = await call(`UploadPart ${where(key)} #${partNumber}`, () =>
        client.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body,
            ChecksumAlgorithm: "CRC32",
            ChecksumCRC32: crc32Base64,
          }),
        ),
      );
      if (r.ETag === undefined) {
        throw new StoreError(
          `UploadPart ${where(key)} #${partNumber}: no ETag`,
          "NoETag",
          200,
          true,
        );
      }
      return { partNumber, etag: r.ETag, checksumCrc32: r.ChecksumCRC32 ?? crc32Base64 };
    },
    async completeMultipart(key, uploadId, parts: readonly CompletedPart[]) {
      await call(`CompleteMultipartUpload ${where(key)}`, () =>
        client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: {
              Parts: parts.map((p) => ({
                PartNumber: p.partNumber,
                ETag: p.etag,
                ChecksumCRC32: p.checksumCrc32,
              })),
            },
          }),
        ),
      );
    },
    async abortMultipart(key, uploadId) {
      await call(`AbortMultipartUpload ${where(key)}`, () =>
        client.send(
          new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }),
        ),
      );
    },
    async list(prefix) {
      const out: ObjectInfo[] = [];
      let token: string | undefined;
      do {
        const r = await call(`ListObjectsV2 ${where(prefix)}`, () =>
          client.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: prefix,
              ...(token === undefined ? {} : { ContinuationToken: token }),
            }),
          ),
        );
        for (const o of r.Contents ?? []) {
          if (o.Key === undefined) continue;
          out.push({ key: o.Key, size: o.Size ?? 0, etag: o.ETag, metadata: {} });
        }
        token = r.IsTruncated === true ? r.NextContinuationToken : undefined;
      } while (token !== undefined);
      return out;
    },
    async delete(key) {
      await call(`DeleteObject ${where(key)}`, () =>
        client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })),
      );
    },
  };
}
