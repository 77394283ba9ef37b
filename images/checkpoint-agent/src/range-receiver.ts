/**
 * The main thread's side of the range workers (range-worker.ts): a few worker threads,
 * started on first use, each with its own keep-alive connections. `receive` hands a signed
 * ranged GET to the least busy worker, which writes the body straight into the file at its
 * offset; the promise settles when every byte is written or the request failed.
 *
 * Workers do not keep the process alive while idle (unref), so a command ends when its
 * work does; while a job is in flight its worker is ref'd, or Node could exit with the
 * job's promise still pending.
 */
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type {
  RangeFailure,
  RangeJob,
  RangeReply,
  RangeWorkerData,
  SignedGet,
} from "./range-protocol.ts";

/**
 * The worker's code, inlined by the bundlers: images/checkpoint-agent/build.ts (the image's
 * single file) and scripts/build-cli.js (the CLI, which downloads checkpoints for predict
 * and export). Undefined when running from source under tsx (tests, `npm run
 * checkpoint-agent`).
 */
declare const YUNSHI_RANGE_WORKER_SOURCE: string | undefined;

function workerSource(): string {
  if (typeof YUNSHI_RANGE_WORKER_SOURCE === "string") return YUNSHI_RANGE_WORKER_SOURCE;
  if (!import.meta.url.endsWith(".ts")) {
    throw new Error(
      "this bundle lacks the range worker: bundle with images/checkpoint-agent/build.ts or scripts/build-cli.js, which inline it",
    );
  }
  // From source: load the TypeScript worker through tsx's require hook, as the main thread
  // was loaded through tsx (a worker does not inherit the parent's loader hooks).
  const tsx = createRequire(import.meta.url).resolve("tsx/cjs");
  const worker = fileURLToPath(new URL("./range-worker.ts", import.meta.url));
  return `require(${JSON.stringify(tsx)});\nrequire(${JSON.stringify(worker)});`;
}

/** A ranged GET that failed in a worker, with the fields classifyError (s3-store.ts) reads. */
export class RangeRequestError extends Error {
  readonly code: string | undefined;
  readonly $metadata: { readonly httpStatusCode: number | undefined };
  constructor(readonly failure: RangeFailure) {
    super(failure.message);
    this.name = failure.name;
    this.code = failure.code;
    this.$metadata = { httpStatusCode: failure.status };
  }
}

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

interface Slot {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
}

/**
 * Receiving threads: one core per worker, one left for the main thread's hash, at most 4.
 * Measured on 2 cores (docs/checkpoint-agent.md): 1 worker beat 2 and 4, which only added
 * CPU per GiB where the server shares the same cores.
 */
export function receiverThreads(cores = availableParallelism()): number {
  return Math.max(1, Math.min(4, cores - 1));
}

export class RangeReceiver {
  private readonly slots: Slot[] = [];
  private nextId = 0;

  constructor(
    private readonly threads: number,
    private readonly config: RangeWorkerData,
  ) {}

  /** Write bytes of `request`'s body at [offset, offset + length) of the open file `fd`. */
  receive(request: SignedGet, fd: number, offset: number, length: number): Promise<void> {
    const slot = this.leastBusy();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, request, fd, offset, length } satisfies RangeJob);
    });
  }

  /** Stop every worker (tests; the agent itself just exits). */
  async close(): Promise<void> {
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private leastBusy(): Slot {
    const idle = this.slots.find((s) => s.pending.size === 0);
    if (idle !== undefined) return idle;
    if (this.slots.length < this.threads) return this.spawn();
    return this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
  }

  private spawn(): Slot {
    const worker = new Worker(workerSource(), { eval: true, workerData: this.config });
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    const settle = (id: number): Pending | undefined => {
      const p = slot.pending.get(id);
      slot.pending.delete(id);
      if (slot.pending.size === 0) worker.unref();
      return p;
    };
    worker.on("message", (reply: RangeReply) => {
      const p = settle(reply.id);
      if (reply.ok) p?.resolve();
      else p?.reject(new RangeRequestError(reply.failure));
    });
    // A worker that dies takes its jobs with it; they fail (and are retried) on a new one.
    const lost = (why: string): void => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      for (const id of [...slot.pending.keys()]) {
        settle(id)?.reject(
          new RangeRequestError({
            kind: "network",
            name: "WorkerExit",
            code: "ECONNRESET",
            status: undefined,
            message: `range worker stopped: ${why}`,
          }),
        );
      }
    };
    worker.on("error", (err) => lost(err.message));
    worker.on("exit", (code) => lost(`exit code ${code}`));
    this.slots.push(slot);
    return slot;
  }
}
