/** `yunshi tensorboard <experiment>`: see jobs/after-training/tensorboard.ts. */
import type { Command } from "commander";
import { UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { addStoreOptions, storeFlagsOf } from "./store-options.ts";

export function registerTensorboard(
  program: Command,
  io: Io,
  setExit: (code: number) => void,
): void {
  const cmd = program
    .command("tensorboard")
    .description(
      "sync an experiment's TensorBoard events (S3 or the local run store) and serve them; keeps syncing",
    )
    .argument("<experiment>", "an experiment name, or s3://bucket/namespace/experiment/")
    .option("--port <port>", "TensorBoard's port on 127.0.0.1 (0 picks a free one)", "6006")
    .option("--interval <seconds>", "how often to sync new events", "10");
  addStoreOptions(cmd).action(async (experiment: string, opts: Record<string, unknown>) => {
    const port = String(opts.port);
    const interval = String(opts.interval);
    if (!/^\d+$/.test(port))
      throw new UsageError(`--port ${JSON.stringify(port)}: expected a port number`);
    if (!/^\d+(\.\d+)?$/.test(interval) || Number(interval) < 1)
      throw new UsageError(`--interval ${JSON.stringify(interval)}: expected seconds, at least 1`);
    const { tensorboard } = await import("../after-training/tensorboard.ts");
    setExit(
      await tensorboard({
        experiment,
        port: Number(port),
        intervalSeconds: Number(interval),
        store: storeFlagsOf(opts),
        env: process.env,
        io,
      }),
    );
  });
}
