/**
 * The S3 server the benchmarks compare tools against: s3rver on loopback in a temp dir, and
 * the environment that points the agent, the CLI, awscli and rclone (remote `bench:`) at it.
 * Shared by bench-checkpoint.ts and bench-dataset-push.ts so both measure the same server.
 */
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { join, resolve } from "node:path";

const S3RVER = resolve(import.meta.dirname, "../node_modules/s3rver/bin/s3rver.js");

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export interface BenchS3 {
  readonly endpoint: string;
  readonly env: NodeJS.ProcessEnv;
  /** The server's process (its CPU time is in /proc/PID/stat). */
  readonly pid: number | undefined;
  stop(): void;
}

/** Starts s3rver with `bucket` under `base`/s3rver and waits until it can take requests. */
export async function startBenchS3(base: string, bucket: string): Promise<BenchS3> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const dir = join(base, "s3rver");
  await mkdir(dir);
  const server = spawn(
    process.execPath,
    [
      S3RVER,
      "-d",
      dir,
      "-a",
      "127.0.0.1",
      "-p",
      String(port),
      "--silent",
      "--configure-bucket",
      bucket,
    ],
    { stdio: "ignore" },
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_ENDPOINT_URL_S3: endpoint,
    YUNSHI_S3_FORCE_PATH_STYLE: "true",
    AWS_EC2_METADATA_DISABLED: "true",
    NODE_NO_WARNINGS: "1",
    RCLONE_CONFIG_BENCH_TYPE: "s3",
    RCLONE_CONFIG_BENCH_PROVIDER: "Other",
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: "S3RVER",
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: "S3RVER",
    RCLONE_CONFIG_BENCH_ENDPOINT: endpoint,
    RCLONE_CONFIG_BENCH_REGION: "us-east-1",
  };
  // The CA bundle for real AWS endpoints breaks awscli and rclone on plain http.
  delete env["AWS_CA_BUNDLE"];
  // s3rver has no readiness signal; it listens well within this on a loaded machine.
  await new Promise((r) => setTimeout(r, 1500));
  return { endpoint, env, pid: server.pid, stop: () => server.kill("SIGTERM") };
}
