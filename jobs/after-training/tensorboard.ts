/**
 * `yunshi tensorboard <experiment> [--port N]`: the experiment's loss and mAP curves.
 * Downloads its `logs/` (MMEngine's `<timestamp>/vis_data/events.out.tfevents.*`, written by
 * TensorboardVisBackend and synced by the snapshot sidecar) from S3 or the local run store
 * into `.yunshi/tensorboard/<experiment>/`, starts TensorBoard from the trainer's Python on
 * 127.0.0.1, prints the URL, and syncs again every few seconds so a running experiment's
 * curves move. Ctrl-C stops it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { restoreLogs } from "../../images/checkpoint-agent/src/log-sync.ts";
import { defaultTransfer } from "../../images/checkpoint-agent/src/transfer-options.ts";
import { UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { ExitCode } from "../io.ts";
import { assertPortFree } from "../local/embedded-s3.ts";
import { freePort } from "../local/machine.ts";
import { openExperimentStore, type StoreFlags } from "./experiment-store.ts";
import { trainerPython } from "./trainer-python.ts";

export interface TensorboardOptions {
  readonly experiment: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly intervalSeconds: number;
  readonly store: StoreFlags;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly io: Io;
  /** Resolves when the command should stop (Ctrl-C); tests pass their own. */
  readonly stopped?: Promise<void>;
}

function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/** Polls TensorBoard's run list until it answers (it takes a few seconds to start). */
async function waitForServer(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`TensorBoard exited with ${child.exitCode} before it served ${url}`);
    try {
      const r = await fetch(`${url}data/runs`);
      if (r.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`TensorBoard did not answer on ${url} within ${timeoutMs / 1000} s`);
}

export async function tensorboard(o: TensorboardOptions): Promise<number> {
  const say = (line: string): void => o.io.out(`${line}\n`);
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)
    throw new UsageError(`--port ${o.port}: expected a port number 0-65535 (0 picks a free one)`);
  if (o.port !== 0) await assertPortFree(o.port);
  const python = trainerPython(o.env);
  const s = await openExperimentStore(o.experiment, o.env, o.store);
  let child: ChildProcess | undefined;
  try {
    const logDir = join(resolve(o.store.stateDir), "tensorboard", s.name);
    await mkdir(logDir, { recursive: true });
    const sync = async (): Promise<number> => {
      const got = await restoreLogs(s.store, s.prefix, logDir, defaultTransfer, () => {});
      return got.files;
    };
    const first = await sync();
    const events = (await s.store.list(`${s.prefix}logs/`)).filter((x) =>
      /events\.out\.tfevents/.test(x.key),
    );
    if (events.length === 0)
      throw new UsageError(
        `no TensorBoard events for ${s.name} in ${s.uri}logs/ (${s.where}) yet: the run writes them from its first logged iteration (TensorboardVisBackend); try again once it trains`,
      );
    say(`synced ${first} file(s) of ${s.uri}logs/ (${s.where}) → ${logDir}`);

    const port = o.port === 0 ? await freePort() : o.port;
    const url = `http://127.0.0.1:${port}/`;
    child = spawn(
      python,
      [
        "-m",
        "tensorboard.main",
        "--logdir",
        logDir,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--reload_interval",
        String(Math.max(1, Math.round(o.intervalSeconds))),
      ],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...o.env, PYTHONDONTWRITEBYTECODE: "1" } },
    );
    const errTail: string[] = [];
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      errTail.push(...d.split("\n").filter(Boolean));
      errTail.splice(0, Math.max(0, errTail.length - 20));
    });
    try {
      await waitForServer(url, child, 120_000);
    } catch (err) {
      o.io.err(`${errTail.join("\n")}\n`);
      throw err;
    }
    say(`TensorBoard: ${url}  (syncing every ${o.intervalSeconds} s; Ctrl-C to stop)`);

    const stopped = o.stopped ?? interrupted();
    let stop = false;
    void stopped.then(() => {
      stop = true;
    });
    const exited = new Promise<void>((r) => child?.once("exit", () => r()));
    while (!stop) {
      await Promise.race([
        new Promise((r) => setTimeout(r, o.intervalSeconds * 1000)),
        stopped,
        exited,
      ]);
      if (stop) break;
      if (child.exitCode !== null) {
        o.io.err(`${errTail.join("\n")}\nerror: TensorBoard exited with ${child.exitCode}\n`);
        return ExitCode.failure;
      }
      try {
        const n = await sync();
        if (n > 0) say(`synced ${n} new or grown file(s)`);
      } catch (err) {
        o.io.err(
          `⚠ sync failed, will retry: ${err instanceof Error ? err.message : String(err)}\n`,
        );
      }
    }
    say("stopping TensorBoard");
    return ExitCode.ok;
  } finally {
    if (child !== undefined && child.exitCode === null) {
      const gone = new Promise((r) => child?.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    await s.close();
  }
}
