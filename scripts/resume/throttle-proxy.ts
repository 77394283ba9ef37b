/**
 * A TCP proxy that paces what the S3 server sends back to `mbps` megabytes per second, all
 * connections together: the network between a pod and S3, on loopback. Without it, restore
 * on this machine is bound by the CPU it shares with Python's imports, which is not what a
 * GPU node sees (bench-resume.ts `--store-mbps`). Requests pass unchanged (SigV4 verifies).
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";

export interface ThrottleProxy {
  readonly endpoint: string;
  close(): Promise<void>;
}

/** One shared token bucket: `bytesPerSecond`, refilled every 10 ms. */
class Pace {
  private tokens = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly timer: NodeJS.Timeout;
  constructor(bytesPerSecond: number) {
    this.timer = setInterval(() => {
      this.tokens = Math.min(this.tokens + bytesPerSecond / 100, bytesPerSecond / 10);
      while (this.tokens > 0 && this.waiting.length > 0) this.waiting.shift()?.();
    }, 10);
  }
  /** Resolves once `n` bytes may go (may overdraw once; the debt delays the next ones). */
  take(n: number): Promise<void> {
    if (this.tokens > 0) {
      this.tokens -= n;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.waiting.push(() => {
        this.tokens -= n;
        resolve();
      }),
    );
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

export async function startThrottleProxy(upstream: string, mbps: number): Promise<ThrottleProxy> {
  const target = new URL(upstream);
  const pace = new Pace(mbps * 1e6);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const up = connect(Number(target.port), target.hostname);
    sockets.add(client).add(up);
    client.pipe(up);
    // Downstream paced: pause the upstream socket until the bucket lets the chunk go.
    up.on("data", (chunk: Buffer) => {
      up.pause();
      void pace.take(chunk.length).then(() => {
        client.write(chunk, () => up.resume());
      });
    });
    up.on("end", () => client.end());
    const drop = (): void => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.on("error", drop).on("close", drop);
    up.on("error", drop).on("close", drop);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      pace.stop();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
