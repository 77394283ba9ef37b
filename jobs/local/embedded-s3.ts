/**
 * The embedded object store of local runs: s3rver (a real S3 protocol server, file-backed)
 * inside the yunshi process, on 127.0.0.1 only, its data under `.yunshi/s3/` so checkpoints
 * outlive the run. It dies with the process, so a kill -9 leaves nothing listening.
 */
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer, type AddressInfo } from "node:net";
import { UsageError } from "../errors.ts";

/** The part of s3rver's API used here (it ships no types). */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
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
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    close: () => server.close(),
  };
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
