/**
 * A range worker (a worker thread, started by range-receiver.ts): sends signed ranged GETs
 * and writes each body at its offset of the temp file with positional writes, as it
 * arrives. Receiving HTTP (and TLS) is what limits one Node thread (docs/checkpoint-agent.md,
 * "Why restore was slower"), so several of these receive in parallel while the main thread
 * hashes the file in order. Only Node built-ins here: the image ships this file inlined in
 * the agent's bundle (build.ts), and it must not pull the SDK into every thread.
 */
import { writeSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { parentPort, workerData } from "node:worker_threads";
import type {
  RangeFailure,
  RangeJob,
  RangeReply,
  RangeWorkerData,
  SignedGet,
} from "./range-protocol.ts";

/** A failure already described for the main thread. */
class JobFailure extends Error {
  constructor(readonly failure: RangeFailure) {
    super(failure.message);
  }
}

const fail = (
  kind: RangeFailure["kind"],
  name: string,
  message: string,
  extra: { code?: string; status?: number } = {},
): JobFailure => new JobFailure({ kind, name, message, code: extra.code, status: extra.status });

/** Socket-level errors keep their errno code, which decides whether a retry helps. */
function networkFailure(err: unknown): JobFailure {
  if (err instanceof JobFailure) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as {
    name?: string;
    code?: string;
    message?: string;
  };
  return fail("network", e.name ?? "Error", e.message ?? String(err), {
    ...(e.code === undefined ? {} : { code: e.code }),
  });
}

const MAX_ERROR_BODY = 64 * 1024;

/** S3 error bodies are small XML documents: `<Error><Code>…</Code><Message>…</Message>`. */
async function httpFailure(res: IncomingMessage): Promise<JobFailure> {
  let text = "";
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      if (text.length < MAX_ERROR_BODY) text += chunk.toString("utf8");
    }
  } catch {
    // The status is what matters; a cut error body changes nothing.
  }
  const status = res.statusCode ?? 0;
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  return fail("http", code ?? `HTTP ${status}`, message ?? `HTTP ${status}`, { status });
}

function writeAll(fd: number, chunk: Buffer, position: number): void {
  for (let done = 0; done < chunk.length;) {
    done += writeSync(fd, chunk, done, chunk.length - done, position + done);
  }
}

function startWorker(port: NonNullable<typeof parentPort>, config: RangeWorkerData): void {
  const agentOptions = { keepAlive: true, maxSockets: config.maxSockets };
  const httpAgent = new HttpAgent(agentOptions);
  const httpsAgent = new HttpsAgent(agentOptions);

  /** Resolves with the response once its headers are in; rejects on socket errors. */
  function send(get: SignedGet): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const https = get.protocol === "https:";
      const options = {
        hostname: get.hostname,
        ...(get.port === undefined ? {} : { port: get.port }),
        path: get.path,
        method: "GET",
        headers: { ...get.headers },
        agent: https ? httpsAgent : httpAgent,
      };
      const req = https ? httpsRequest(options) : httpRequest(options);
      const connectTimer = setTimeout(() => {
        req.destroy(
          fail(
            "network",
            "TimeoutError",
            `no connection to ${get.hostname} within ${config.connectTimeoutMs} ms`,
          ),
        );
      }, config.connectTimeoutMs);
      req.on("socket", (socket) => {
        // A reused keep-alive socket is connected already.
        if (!socket.connecting) clearTimeout(connectTimer);
        else socket.once("connect", () => clearTimeout(connectTimer));
      });
      // A stalled socket (half-dead NAT, throttled proxy) must fail and be retried, not hang.
      let response: IncomingMessage | undefined;
      req.setTimeout(config.idleTimeoutMs, () => {
        const timeout = fail("network", "TimeoutError", `no data for ${config.idleTimeoutMs} ms`);
        // Once the headers are in, the body's reader must see the timeout, not "aborted".
        if (response === undefined) req.destroy(timeout);
        else response.destroy(timeout);
      });
      req.on("response", (res) => {
        clearTimeout(connectTimer);
        response = res;
        resolve(res);
      });
      req.on("error", (err) => {
        clearTimeout(connectTimer);
        reject(networkFailure(err));
      });
      req.end();
    });
  }

  async function receive(job: RangeJob): Promise<void> {
    const res = await send(job.request);
    const status = res.statusCode ?? 0;
    if (status !== 200 && status !== 206) throw await httpFailure(res);
    let received = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        if (received + chunk.length > job.length) {
          // Never write past the range: that region belongs to another part.
          res.destroy();
          throw fail(
            "body",
            "LongBody",
            `got more than the ${job.length} bytes asked for (HTTP ${status}; does the server ignore Range?)`,
          );
        }
        try {
          writeAll(job.fd, chunk, job.offset + received);
        } catch (err) {
          res.destroy();
          const e = err as NodeJS.ErrnoException;
          throw fail("file", e.name, e.message, {
            ...(e.code === undefined ? {} : { code: e.code }),
          });
        }
        received += chunk.length;
      }
    } catch (err) {
      throw networkFailure(err);
    }
    if (received !== job.length) {
      // A connection cut mid-body can look like a short success.
      throw fail("body", "ShortRead", `got ${received} of ${job.length} bytes`);
    }
  }

  port.on("message", (job: RangeJob) => {
    receive(job).then(
      () => port.postMessage({ id: job.id, ok: true } satisfies RangeReply),
      (err: unknown) =>
        port.postMessage({
          id: job.id,
          ok: false,
          failure: networkFailure(err).failure,
        } satisfies RangeReply),
    );
  });
}

if (parentPort !== null) startWorker(parentPort, workerData as RangeWorkerData);
