/**
 * A small HTTP proxy in front of s3rver that misbehaves on demand, the way a throttled or
 * flaky S3 endpoint does: 500 InternalError, 503 SlowDown, connections reset before a
 * response, and responses cut off mid-body. It forwards requests byte for byte (Host
 * header included, so SigV4 signatures still verify at s3rver).
 *
 * Faults are scheduled by request count, never by wall-clock time: an agent that starts
 * slowly on a loaded machine (tsx transpiling) still meets every fault it was meant to.
 */
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

export type FaultKind = "500" | "503" | "reset" | "truncate";

export interface FaultProxy {
  readonly endpoint: string;
  /**
   * Forward the next `after` requests, then fail every `every`-th one (1 = each one),
   * cycling through `kinds`, until `count` faults have been injected; then forward again.
   */
  failRequests(opts: {
    after?: number;
    count: number;
    every: number;
    kinds: readonly FaultKind[];
  }): void;
  /** Fail every request with these kinds until `recover()`. */
  failAll(kinds: readonly FaultKind[]): void;
  recover(): void;
  /** Hold every request from now on (an upload stays "in flight") until `resume()`. */
  pause(): void;
  resume(): void;
  readonly injected: Record<FaultKind, number>;
  readonly forwarded: () => number;
  close(): Promise<void>;
}

const xmlError = (code: string, message: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;

export async function startFaultProxy(target: { port: number }): Promise<FaultProxy> {
  let remaining = 0;
  let every = 1;
  let seen = 0;
  let skip = 0;
  let kinds: readonly FaultKind[] = [];
  let n = 0;
  let forwarded = 0;
  const injected: Record<FaultKind, number> = { "500": 0, "503": 0, reset: 0, truncate: 0 };

  const forward = (req: IncomingMessage, res: ServerResponse, truncate: boolean): void => {
    const up = request(
      {
        host: "127.0.0.1",
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (!truncate) {
          upRes.pipe(res);
          return;
        }
        // Send the headers and a little of the body, then drop the connection.
        upRes.once("data", (chunk: Buffer) => {
          res.write(chunk.subarray(0, Math.max(1, chunk.length >> 1)));
          upRes.destroy();
          res.socket?.destroy();
        });
        upRes.once("end", () => res.end());
      },
    );
    up.on("error", () => res.socket?.destroy());
    req.pipe(up);
    forwarded++;
  };

  let held: (() => void)[] | undefined;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (held !== undefined) {
      held.push(() => handle(req, res));
      return;
    }
    if (remaining <= 0 || kinds.length === 0 || ++seen <= skip || (seen - skip) % every !== 0) {
      return forward(req, res, false);
    }
    remaining--;
    const kind = kinds[n++ % kinds.length] as FaultKind;
    injected[kind]++;
    // Only GETs have a body worth cutting; others get a reset instead.
    if (kind === "truncate" && req.method === "GET") return forward(req, res, true);
    if (kind === "reset" || kind === "truncate") {
      req.socket.destroy();
      return;
    }
    req.resume();
    req.on("end", () => {
      const [status, code] = kind === "500" ? [500, "InternalError"] : [503, "SlowDown"];
      res.writeHead(status, { "content-type": "application/xml" });
      res.end(xmlError(code, "injected by the test's fault proxy"));
    });
  };
  const server: Server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    failRequests(opts) {
      remaining = opts.count;
      every = Math.max(1, opts.every);
      skip = opts.after ?? 0;
      seen = 0;
      kinds = opts.kinds;
    },
    failAll(k) {
      remaining = Number.POSITIVE_INFINITY;
      every = 1;
      skip = 0;
      seen = 0;
      kinds = k;
    },
    recover() {
      remaining = 0;
    },
    pause() {
      held ??= [];
    },
    resume() {
      const waiting = held ?? [];
      held = undefined;
      for (const go of waiting) go();
    },
    injected,
    forwarded: () => forwarded,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
