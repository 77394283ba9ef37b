/** Local processes of the test cluster: free loopback ports, spawning with logs, readiness waits. */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { createServer } from "node:net";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** The end of its log, for error messages. */
  tail(): string;
}

export function startProcess(
  name: string,
  binary: string,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
): Proc {
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"], env });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return {
    name,
    child,
    logFile,
    tail: () => {
      try {
        return readFileSync(logFile, "utf8").split("\n").slice(-25).join("\n");
      } catch {
        return "";
      }
    },
  };
}

/** SIGTERM, then SIGKILL after a grace period; resolves when the process has exited. */
export async function stopProcess(p: Proc, graceMs = 5000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.child.once("exit", () => r()));
  p.child.kill("SIGTERM");
  const timer = setTimeout(() => p.child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface Probe {
  url: string;
  ca?: string | undefined;
  token?: string | undefined;
}

/** 200 from the URL (http or https with the cluster CA and a bearer token). */
export function probeOnce(p: Probe): Promise<boolean> {
  return new Promise((resolve) => {
    const u = new URL(p.url);
    const headers: Record<string, string> = p.token ? { Authorization: `Bearer ${p.token}` } : {};
    const req =
      u.protocol === "https:"
        ? httpsRequest(u, { headers, ...(p.ca ? { ca: readFileSync(p.ca) } : {}), timeout: 2000 })
        : httpRequest(u, { headers, timeout: 2000 });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** Wait until `ready()` holds, failing early (with the log) if the process exits. */
export async function waitFor(
  what: string,
  ready: () => Promise<boolean>,
  opts: { timeoutMs?: number; proc?: Proc; pollMs?: number } = {},
): Promise<void> {
  const end = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (opts.proc && (opts.proc.child.exitCode !== null || opts.proc.child.signalCode !== null))
      throw new Error(`${opts.proc.name} exited while waiting for ${what}:\n${opts.proc.tail()}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > end)
      throw new Error(
        `timed out waiting for ${what}${opts.proc ? `; ${opts.proc.name} log:\n${opts.proc.tail()}` : ""}`,
      );
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
  }
}
