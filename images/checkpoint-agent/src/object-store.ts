/**
 * What the agent needs from object storage. s3-store.ts is the only implementation and the
 * only module that imports the AWS SDK; everything else takes an ObjectStore.
 */

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly etag: string | undefined;
  /** User metadata (x-amz-meta-*), lower-case keys; only from head(). */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface CompletedPart {
  readonly partNumber: number;
  readonly etag: string;
  /** Base64 CRC32 of the part, repeated in CompleteMultipartUpload. */
  readonly checksumCrc32: string;
}

export interface PutOptions {
  /** Base64 CRC32 of the body, sent as x-amz-checksum-crc32 and checked by S3. */
  readonly crc32Base64: string;
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface ObjectStore {
  readonly bucket: string;
  /** Fails with InputError when the bucket does not exist. */
  checkBucket(): Promise<void>;
  /** undefined when there is no such key. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** The whole object as text; undefined when there is no such key. */
  getText(key: string): Promise<string | undefined>;
  /**
   * Write bytes [start, end] (inclusive) of the object at the same offsets of the open file
   * `fd`, which must stay open until this settles; a short body is a retryable error.
   */
  getRangeInto(key: string, start: number, end: number, fd: number): Promise<void>;
  putObject(key: string, body: Buffer, options: PutOptions): Promise<void>;
  createMultipart(
    key: string,
    metadata: Readonly<Record<string, string>>,
    contentType?: string,
  ): Promise<string>;
  uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Buffer,
    crc32Base64: string,
  ): Promise<CompletedPart>;
  completeMultipart(key: string, uploadId: string, parts: readonly CompletedPart[]): Promise<void>;
  abortMultipart(key: string, uploadId: string): Promise<void>;
  /** Every object under the prefix (all pages). */
  list(prefix: string): Promise<ObjectInfo[]>;
  delete(key: string): Promise<void>;
}
