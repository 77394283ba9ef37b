/**
 * A small HTTP proxy in front of s3rver that misbehaves on demand, the way a throttled or
 * flaky S3 endpoint does: 500 InternalError, 503 SlowDown, connections reset before a
 * response, and responses cut off mid-body. It forwards requests byte for byte (Host
 * header included, so SigV4 signatures still verify at s3rver).
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
  /** Misbehave for the next `ms` milliseconds, cycling through `kinds`. */
  failFor(ms: number, kinds: readonly FaultKind[]): void;
  readonly injected: Record<FaultKind, number>;
  readonly forwarded: () => number;
  close(): Promise<void>;
}

const xmlError = (code: string, message: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;

export async function startFaultProxy(target: { port: number }): Promise<FaultProxy> {
  let until = 0;
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

  const server: Server = createServer((req, res) => {
    if (Date.now() >= until || kinds.length === 0) return forward(req, res, false);
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
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    failFor(ms, k) {
      until = Date.now() + ms;
      kinds = k;
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
