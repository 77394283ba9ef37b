/**
 * Test harness: a real S3 protocol server (s3rver) on 127.0.0.1, the agent run as a child
 * process exactly as in the pod (argv only), and MMEngine-like checkpoint writes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { startEmbeddedS3 } from "../../jobs/local/embedded-s3.ts";
import { createS3Store } from "../../images/checkpoint-agent/src/s3-store.ts";
import { resolveS3Config } from "../../images/checkpoint-agent/src/s3-config.ts";
import type { ObjectStore } from "../../images/checkpoint-agent/src/object-store.ts";

export const BUCKET = "yunshi-test";

export const MAIN = resolve(import.meta.dirname, "../../images/checkpoint-agent/src/main.ts");

export interface S3Server {
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startS3(): Promise<S3Server> {
  // The same s3rver wrapper local runs use (jobs/local/embedded-s3.ts), in a temp dir.
  const directory = await mkdtemp(join(tmpdir(), "yunshi-s3rver-"));
  const server = await startEmbeddedS3({ directory, port: 0, bucket: BUCKET });
  return {
    endpoint: server.endpoint,
    port: server.port,
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** One S3 server for the whole test file: started before its tests, closed after. */
export function useS3(): S3Server {
  let server: S3Server | undefined;
  beforeAll(async () => {
    server = await startS3();
  });
  afterAll(async () => server?.close());
  const started = (): S3Server => {
    if (server === undefined) throw new Error("useS3(): the server starts in beforeAll");
    return server;
  };
  return {
    get endpoint() {
      return started().endpoint;
    },
    get port() {
      return started().port;
    },
    close: () => started().close(),
  };
}

/** The pod's environment, pointed at the local server; nothing from the host leaks in. */
export function agentEnv(
  endpoint: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: process.env["HOME"] ?? "/tmp",
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_REGION: "us-east-1",
    YUNSHI_S3_FORCE_PATH_STYLE: "true",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: "/nonexistent/yunshi-config",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/yunshi-credentials",
    ...extra,
  };
}

export function testStore(endpoint: string): ObjectStore {
  return createS3Store({
    bucket: BUCKET,
    config: { ...resolveS3Config(agentEnv(endpoint)), maxAttempts: 3 },
    maxSockets: 16,
    log: () => undefined,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
}

export interface AgentRun {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when stderr contains `text`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
}

/** Start the agent as the pod would: `node main` with argv, no shell. */
export function spawnAgent(args: readonly string[], env: Record<string, string>): AgentRun {
  // `node --import tsx` keeps it one process, so kill -9 hits the agent itself.
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const listeners: (() => void)[] = [];
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => {
    err += b.toString();
    for (const l of [...listeners]) l();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on("exit", (code, signal) => res({ code, signal })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    done,
    waitFor(text, timeoutMs = 30_000) {
      const hit = (): boolean => (typeof text === "string" ? err.includes(text) : text.test(err));
      if (hit()) return Promise.resolve();
      return new Promise((res, rej) => {
        const t = setTimeout(
          () => rej(new Error(`timed out waiting for ${String(text)}; stderr:\n${err}`)),
          timeoutMs,
        );
        const l = (): void => {
          if (hit()) {
            clearTimeout(t);
            listeners.splice(listeners.indexOf(l), 1);
            res();
          }
        };
        listeners.push(l);
        void done.then(() => {
          if (!hit()) {
            clearTimeout(t);
            rej(new Error(`agent exited before ${String(text)}; stderr:\n${err}`));
          }
        });
      });
    },
  };
}

export async function runAgent(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{
  code: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
}> {
  const run = spawnAgent(args, env);
  const { code } = await run.done;
  const lines = run.stdout().trim().split("\n").filter(Boolean);
  const last = lines.at(-1);
  let json: Record<string, unknown> | undefined;
  try {
    json = last === undefined ? undefined : (JSON.parse(last) as Record<string, unknown>);
  } catch {
    json = undefined;
  }
  return { code, stdout: run.stdout(), stderr: run.stderr(), json };
}

export async function tempDir(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `yunshi-${name}-`));
}

/**
 * Write a checkpoint the way MMEngine does: the .pth in place, in chunks, not atomically,
 * then `last_checkpoint` naming its absolute path. Returns the bytes written.
 */
export async function writeCheckpoint(
  workDir: string,
  file: string,
  bytes: number,
): Promise<Buffer> {
  const data = randomBytes(bytes);
  await writePth(join(workDir, file), data);
  await writeFile(join(workDir, "last_checkpoint"), join(workDir, file));
  return data;
}

export async function writePth(path: string, data: Buffer): Promise<void> {
  const fh = await open(path, "w");
  try {
    for (let off = 0; off < data.length; off += 4 << 20) {
      await fh.write(data, off, Math.min(4 << 20, data.length - off), off);
    }
  } finally {
    await fh.close();
  }
}

export const MiB = 1024 * 1024;
