/**
 * Messages between the main thread and the range workers (range-receiver.ts ↔
 * range-worker.ts). The main thread signs each ranged GET (SigV4, through the AWS SDK) and
 * a worker only sends it and writes the body at its offset: credentials, retries and error
 * classification stay on the main thread, the bytes never cross threads.
 */

/** A GET exactly as the SDK would send it (signed headers, path with query string). */
export interface SignedGet {
  readonly protocol: "http:" | "https:";
  readonly hostname: string;
  readonly port: number | undefined;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Write the body of `request` (exactly `length` bytes) at `offset` of the open file `fd`. */
export interface RangeJob {
  readonly id: number;
  readonly request: SignedGet;
  readonly fd: number;
  readonly offset: number;
  readonly length: number;
}

/**
 * Why a job failed, as plain data (errors do not survive postMessage with their fields):
 * - `http`: the server answered with an error status (S3's XML `<Code>` as `name`);
 * - `network`: the socket failed or timed out (`code` like ECONNRESET, or `TimeoutError`);
 * - `body`: the body was shorter or longer than the range asked for;
 * - `file`: writing the local file failed (`code` like ENOSPC); never retried.
 */
export interface RangeFailure {
  readonly kind: "http" | "network" | "body" | "file";
  readonly name: string;
  readonly code: string | undefined;
  readonly status: number | undefined;
  readonly message: string;
}

export type RangeReply =
  | { readonly id: number; readonly ok: true }
  | { readonly id: number; readonly ok: false; readonly failure: RangeFailure };

/** What each worker is started with. */
export interface RangeWorkerData {
  /** Sockets per host in the worker's keep-alive agent. */
  readonly maxSockets: number;
  /** No byte (or no connection) for this long fails the request so it is retried. */
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
}
