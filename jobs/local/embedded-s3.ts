/**
 * The embedded object store of local runs: s3rver (a real S3 protocol server, file-backed)
 * inside the yunshi process, on 127.0.0.1 only, its data under `.yunshi/s3/` so checkpoints
 * outlive the run. It dies with the process, so a kill -9 leaves nothing listening.
 */
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer, type AddressInfo } from "node:net";
import { UsageError } from "../errors.ts";

/** The Koa context fields the key guard reads and writes. */
interface GuardContext {
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
}
type Middleware = (ctx: GuardContext, next: () => Promise<void>) => Promise<void>;

/** The part of s3rver's API used here (it ships no types). s3rver is a Koa application. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  middleware: Middleware[];
}
type S3rverClass = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

/** s3rver accepts only these fixed development keys; they protect nothing (loopback only). */
export const EMBEDDED_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;
export const DEFAULT_S3_PORT = 4568;

export interface EmbeddedS3 {
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startEmbeddedS3(opts: {
  directory: string;
  port: number;
  bucket: string;
}): Promise<EmbeddedS3> {
  // s3rver reports a taken port as an unhandled 'error' event, not a rejection: probe first.
  if (opts.port !== 0) await assertPortFree(opts.port);
  await mkdir(opts.directory, { recursive: true });
  const S3rver = createRequire(import.meta.url)("s3rver") as S3rverClass;
  const server = new S3rver({
    address: "127.0.0.1",
    port: opts.port,
    directory: opts.directory,
    silent: true,
    // Creates the bucket if missing; an existing one keeps its objects.
    configureBuckets: [{ name: opts.bucket }],
  });
  // First in the chain, before s3rver's router turns the key into a file path.
  server.middleware.unshift(keyGuard);
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    close: () => server.close(),
  };
}

/**
 * s3rver stores an object as files named `<last key segment>._S3rver_object` and
 * `._S3rver_metadata.json`, and joins the key's segments into a file path. A segment longer
 * than this makes the file name exceed Linux's 255 bytes: s3rver then throws from a stream
 * and the whole process (the local run) dies. Real S3 allows such keys, so the embedded
 * store refuses them with an S3 error that says why, instead of crashing.
 */
export const MAX_EMBEDDED_KEY_SEGMENT_BYTES = 255 - "._S3rver_metadata.json".length;

/** Why the embedded store cannot hold this key (undefined when it can), as an S3 error. */
export function embeddedKeyProblem(key: string): { code: string; message: string } | undefined {
  for (const segment of key.split("/")) {
    // s3rver path.join()s the segments: '..' would read and write outside its directory.
    if (segment === "." || segment === "..") {
      return {
        code: "InvalidArgument",
        message: `key ${JSON.stringify(key.slice(0, 300))} has a '${segment}' segment, which the embedded store (files on disk) cannot hold`,
      };
    }
    const bytes = Buffer.byteLength(segment, "utf8");
    if (bytes > MAX_EMBEDDED_KEY_SEGMENT_BYTES) {
      return {
        code: "KeyTooLongError",
        message: `key segment of ${bytes} bytes is longer than the embedded store's limit of ${MAX_EMBEDDED_KEY_SEGMENT_BYTES} (it keeps each segment as a file name); shorten the file or directory name, or use --s3-endpoint <url> for your own S3 (MinIO)`,
      };
    }
  }
  return undefined;
}

const keyGuard: Middleware = async (ctx, next) => {
  let problem: { code: string; message: string } | undefined;
  try {
    const path = ctx.path.split("/").map(decodeURIComponent).join("/");
    const prefix = ctx.query["prefix"];
    problem =
      embeddedKeyProblem(path.replace(/^\/+/, "")) ??
      (typeof prefix === "string" ? embeddedKeyProblem(prefix) : undefined);
  } catch {
    problem = { code: "InvalidURI", message: "the request path is not valid percent-encoding" };
  }
  if (problem === undefined) return next();
  ctx.status = 400;
  ctx.type = "application/xml";
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${problem.code}</Code><Message>${escapeXml(problem.message)}</Message></Error>`;
};

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Resolves if 127.0.0.1:port can be bound; else a UsageError saying what to do. */
export function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE")
        reject(
          new UsageError(
            `--s3-port ${port}: port ${port} on 127.0.0.1 is in use, so the embedded object store cannot start there; ` +
              `pass --s3-port <free port> (0 picks one), stop the program using it, or use --s3-endpoint <url> for your own S3 (MinIO)`,
          ),
        );
      else if (err.code === "EACCES")
        reject(new UsageError(`--s3-port ${port}: needs privileges; use a port above 1023`));
      else reject(err);
    });
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
  });
}
