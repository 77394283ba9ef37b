/**
 * SHA-256 of a file that is being filled by ranges in any order: as soon as a prefix of the
 * file is complete, it is read back (from the page cache) and hashed, overlapped with the
 * download of later ranges. The digest is of the bytes as they are on disk, in order, so
 * what is verified is exactly what will be placed. No part is held in memory; the only
 * buffer is the read-back one.
 */
import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { VerificationError } from "./errors.ts";

const READ_BACK = 4 * 1024 * 1024;

export class OrderedFileHash {
  private readonly sha = createHash("sha256");
  private readonly buffer: Buffer;
  /** Completed ranges not yet joined to the prefix: start → end (exclusive). */
  private readonly completed = new Map<number, number>();
  /** Bytes [0, ready) are on disk. */
  private ready = 0;
  /** Bytes [0, hashed) are in the hash. */
  private hashed = 0;
  private running: Promise<void> | undefined;
  private stopped = false;
  private failure: Error | undefined;

  constructor(
    private readonly file: FileHandle,
    private readonly size: number,
    private readonly label: string,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.max(1, Math.min(READ_BACK, size)));
  }

  /** Bytes [start, end) have been written. */
  complete(start: number, end: number): void {
    this.completed.set(start, end);
    for (
      let e = this.completed.get(this.ready);
      e !== undefined;
      e = this.completed.get(this.ready)
    ) {
      this.completed.delete(this.ready);
      this.ready = e;
    }
    this.kick();
  }

  /** Hex digest, once every byte of the file has been hashed. */
  async digest(): Promise<string> {
    while (this.running !== undefined) await this.running;
    if (this.failure !== undefined) throw this.failure;
    if (this.hashed !== this.size) {
      throw new Error(`${this.label}: digest asked for before the whole file was written`);
    }
    return this.sha.digest("hex");
  }

  /** Stop reading (a range failed and the file will be removed); resolves when idle. */
  async stop(): Promise<void> {
    this.stopped = true;
    while (this.running !== undefined) await this.running;
  }

  /** Start reading back unless a read loop is running (it picks up the new prefix). */
  private kick(): void {
    if (this.running !== undefined || this.stopped || this.failure !== undefined) return;
    if (this.hashed >= this.ready) return;
    this.running = this.catchUp().finally(() => {
      this.running = undefined;
      this.kick();
    });
  }

  private async catchUp(): Promise<void> {
    try {
      while (!this.stopped && this.hashed < this.ready) {
        const want = Math.min(this.buffer.length, this.ready - this.hashed);
        const { bytesRead } = await this.file.read(this.buffer, 0, want, this.hashed);
        if (bytesRead === 0) {
          throw new VerificationError(
            `${this.label}: file ends at ${this.hashed} bytes, expected ${this.size}`,
          );
        }
        this.sha.update(this.buffer.subarray(0, bytesRead));
        this.hashed += bytesRead;
      }
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
    }
  }
}
