/**
 * Command-line surface: argv (jobs/pod-contract.ts AgentCommand) → validated options →
 * prepare / restore / snapshot / fetch. Human lines go to stderr, one final JSON line to stdout.
 */
import { setPriority } from "node:os";
import { Command, CommanderError, Option } from "commander";
import { parseBestMetric, parseKeep } from "./checkpoint-names.ts";
import { InputError } from "./errors.ts";
import { runFetch } from "./fetch.ts";
import { checkReadableDir, runPush } from "./push.ts";
import { idleUntil, runPrepare } from "./prepare.ts";
import { verdictOk, waitForFile } from "./wait-for-file.ts";
import type { ObjectStore } from "./object-store.ts";
import type { LogFn } from "./progress.ts";
import { runRestore } from "./restore.ts";
import { resolveS3Config } from "./s3-config.ts";
import { createS3Store } from "./s3-store.ts";
import { parseS3Uri, type S3Location } from "./s3-uri.ts";
import { runSnapshot } from "./snapshot.ts";
import {
  defaultTransfer,
  parseConcurrency,
  parsePartSizeMiB,
  type TransferOptions,
} from "./transfer-options.ts";
import { checkDir } from "./work-dir.ts";

export const EXECUTABLE = "yunshi-checkpoint-agent";
const SIDECAR_NICENESS = 10;
/** Set by the renderer on the sidecar (jobs/render-pod-template.ts). */
export const NODE_RANK_ENV = "YUNSHI_NODE_RANK";

/** What the process-level wrapper (main.ts) provides: I/O sinks and stop signals. */
export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: LogFn;
  readonly out: (line: string) => void;
  readonly stop: AbortSignal;
  readonly abort: AbortSignal;
  /** Nothing left to finish: a stop signal may end the process cleanly. */
  readonly onIdle?: () => void;
  readonly onMultipart?: (store: ObjectStore, key: string, uploadId: string | undefined) => void;
}

interface CommonFlags {
  uri: string;
  pathStyle?: boolean;
  concurrency?: string;
  partSizeMib?: string;
}

function transferFrom(f: CommonFlags): TransferOptions {
  return {
    partSize:
      f.partSizeMib === undefined ? defaultTransfer.partSize : parsePartSizeMiB(f.partSizeMib),
    concurrency:
      f.concurrency === undefined ? defaultTransfer.concurrency : parseConcurrency(f.concurrency),
  };
}

function seconds(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) {
    throw new InputError(
      `${flag}: ${JSON.stringify(value)} must be a number of seconds in (0, 3600]`,
    );
  }
  return n * 1000;
}

function storeFor(
  ctx: CliContext,
  loc: S3Location,
  f: CommonFlags,
  transfer: TransferOptions,
): ObjectStore {
  const config = resolveS3Config(ctx.env, { pathStyle: f.pathStyle === true });
  return createS3Store({
    bucket: loc.bucket,
    config,
    maxSockets: transfer.concurrency + 4,
    log: ctx.log,
  });
}

function prefixOf(loc: S3Location): string {
  return loc.exact ? `${loc.prefix}/` : loc.prefix;
}

const common = (c: Command): Command =>
  c
    .requiredOption("--uri <s3-uri>", "s3://BUCKET/PREFIX/ of the experiment")
    .option("--path-style", "path-style S3 addressing (also YUNSHI_S3_FORCE_PATH_STYLE=true)")
    .option("--concurrency <n>", `parts in flight (default ${defaultTransfer.concurrency})`)
    .option(
      "--part-size-mib <n>",
      `multipart / ranged-GET part size (default ${defaultTransfer.partSize / 1048576})`,
    );

export function buildProgram(ctx: CliContext): Command {
  const program = new Command(EXECUTABLE)
    .description("Checkpoint agent for yunshi training pods: restore, snapshot and fetch over S3")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.log(s.trimEnd()),
      writeErr: (s) => ctx.log(s.trimEnd()),
    })
    .showHelpAfterError();

  common(
    program
      .command("restore")
      .description(
        "init container: restore the newest verified committed checkpoint into the work dir",
      )
      .requiredOption("--work-dir <dir>", "MMEngine work_dir (same absolute path as training)"),
  ).action(async (f: CommonFlags & { workDir: string }) => {
    const loc = parseS3Uri(f.uri);
    const transfer = transferFrom(f);
    const workDir = await checkDir("--work-dir", f.workDir, true);
    const store = storeFor(ctx, loc, f, transfer);
    const r = await runRestore({ store, prefix: prefixOf(loc), workDir, transfer, log: ctx.log });
    ctx.out(JSON.stringify({ command: "restore", ok: true, ...r }));
  });

  common(
    program
      .command("snapshot")
      .description(
        "sidecar: upload each checkpoint named by last_checkpoint, commit it, prune, sync logs",
      )
      .requiredOption("--work-dir <dir>", "MMEngine work_dir to watch")
      .requiredOption("--keep <n>", "committed checkpoints to keep (the best is kept besides)")
      .option(
        "--best <metric>",
        "save_best metric, e.g. coco/bbox_mAP: sync best_<metric>_*.pth, never prune it",
      )
      .option("--interval <seconds>", "how often to poll last_checkpoint", "2")
      .option("--logs-interval <seconds>", "how often to sync logs and TensorBoard events", "30")
      .option(
        "--after <verdict-file>",
        "start only once the prepare sidecar wrote its verdict (restore is over)",
      )
      .addOption(new Option("--once", "one pass with the final-sync rules, then exit")),
  ).action(
    async (
      f: CommonFlags & {
        workDir: string;
        keep: string;
        best?: string;
        interval: string;
        logsInterval: string;
        once?: boolean;
        after?: string;
      },
    ) => {
      const loc = parseS3Uri(f.uri);
      const keep = parseKeep(f.keep);
      const bestMetric = f.best === undefined ? undefined : parseBestMetric(f.best);
      const intervalMs = seconds("--interval", f.interval);
      const logsIntervalMs = seconds("--logs-interval", f.logsInterval);
      const transfer = transferFrom(f);
      const workDir = await checkDir("--work-dir", f.workDir, false);
      const rank = ctx.env[NODE_RANK_ENV];
      if (rank !== undefined && rank !== "" && rank !== "0") {
        // One writer per manifest: MMEngine saves checkpoints on global rank 0 (node 0), and
        // two sidecars committing to the same LATEST.json would race.
        ctx.log(`${NODE_RANK_ENV}=${rank}: only node 0 snapshots; idling until stopped`);
        await idleUntil(ctx.stop);
        ctx.out(JSON.stringify({ command: "snapshot", ok: true, idle: true, nodeRank: rank }));
        return;
      }
      if (f.after !== undefined) {
        // Restore writes last_checkpoint and logs into the work dir: watching it before
        // restore is over would upload what was just downloaded.
        ctx.log(`waiting for ${f.after} (prepare's verdict) before watching ${workDir}`);
        if (!(await waitForFile(f.after, ctx.stop))) {
          ctx.log(`stopped before ${f.after} appeared: nothing was trained, nothing to upload`);
          ctx.out(JSON.stringify({ command: "snapshot", ok: true, idle: true }));
          return;
        }
        if (!(await verdictOk(f.after))) {
          // The trainer stops with the failed step's code; nothing will be saved.
          ctx.log(`prepare failed (${f.after}): nothing will be trained; idling until stopped`);
          ctx.onIdle?.();
          await idleUntil(ctx.stop);
          ctx.out(JSON.stringify({ command: "snapshot", ok: true, idle: true }));
          return;
        }
      }
      try {
        // Yield CPU to the trainer (its dataloader and its own checkpoint writes): uploads
        // are asynchronous, training time is not.
        setPriority(SIDECAR_NICENESS);
      } catch {
        // not permitted in this sandbox: run at normal priority
      }
      const store = storeFor(ctx, loc, f, transfer);
      const r = await runSnapshot({
        store,
        prefix: prefixOf(loc),
        workDir,
        keep,
        bestMetric,
        intervalMs,
        logsIntervalMs,
        transfer,
        log: ctx.log,
        once: f.once === true,
        stop: ctx.stop,
        abort: ctx.abort,
        onMultipart: (key, id) => ctx.onMultipart?.(store, key, id),
      });
      ctx.out(JSON.stringify({ command: "snapshot", ok: true, ...r }));
    },
  );

  common(
    program
      .command("prepare")
      .description(
        "sidecar: fetch the dataset (and pretrained weights) and restore, all at once, write the verdict, then idle",
      )
      .option("--dataset-uri <s3-uri>", "the dataset (s3://BUCKET/PREFIX/)")
      .option("--dataset-dir <dir>", "where the trainer reads the dataset")
      .option("--pretrained-uri <s3-uri>", "s3:// pretrained weights")
      .option("--pretrained-dir <dir>", "where the trainer reads them")
      .requiredOption("--work-dir <dir>", "MMEngine work_dir (same absolute path as training)")
      .requiredOption("--verdict <file>", "where to write the verdict the trainer waits for")
      .addOption(
        new Option("--exit-when-done", "exit after the verdict instead of idling (local runs)"),
      ),
  ).action(
    async (
      f: CommonFlags & {
        datasetUri?: string;
        datasetDir?: string;
        pretrainedUri?: string;
        pretrainedDir?: string;
        workDir: string;
        verdict: string;
        exitWhenDone?: boolean;
      },
    ) => {
      if ((f.pretrainedUri === undefined) !== (f.pretrainedDir === undefined))
        throw new InputError("--pretrained-uri and --pretrained-dir go together");
      // Without a dataset (a local run reading a directory in place) nothing is fetched.
      if ((f.datasetUri === undefined) !== (f.datasetDir === undefined))
        throw new InputError("--dataset-uri and --dataset-dir go together");
      const transfer = transferFrom(f);
      const ckpt = parseS3Uri(f.uri);
      const fetchTask = async (flag: string, uri: string, dir: string) => {
        const location = parseS3Uri(uri);
        const dest = await checkDir(flag, dir, true);
        return { store: storeFor(ctx, location, f, transfer), location, dest };
      };
      const dataset =
        f.datasetUri === undefined || f.datasetDir === undefined
          ? undefined
          : await fetchTask("--dataset-dir", f.datasetUri, f.datasetDir);
      const pretrained =
        f.pretrainedUri === undefined || f.pretrainedDir === undefined
          ? undefined
          : await fetchTask("--pretrained-dir", f.pretrainedUri, f.pretrainedDir);
      const workDir = await checkDir("--work-dir", f.workDir, true);
      const r = await runPrepare({
        ...(dataset === undefined ? {} : { dataset }),
        ...(pretrained === undefined ? {} : { pretrained }),
        restore: { store: storeFor(ctx, ckpt, f, transfer), prefix: prefixOf(ckpt), workDir },
        verdictFile: f.verdict,
        transfer,
        log: ctx.log,
      });
      ctx.out(JSON.stringify({ command: "prepare", ...r, ok: r.verdict.ok }));
      // A native sidecar that exits is restarted, and would prepare again: stay until the
      // pod stops. The failure is the trainer's to report, with the step's exit code.
      if (f.exitWhenDone !== true) {
        ctx.onIdle?.();
        await idleUntil(ctx.stop);
      }
    },
  );

  common(
    program
      .command("fetch")
      .description("download every object under a prefix (or one object) into a directory")
      .requiredOption("--dest <dir>", "local directory to fill"),
  ).action(async (f: CommonFlags & { dest: string }) => {
    const location = parseS3Uri(f.uri);
    const transfer = transferFrom(f);
    const dest = await checkDir("--dest", f.dest, true);
    const store = storeFor(ctx, location, f, transfer);
    const r = await runFetch({ store, location, dest, transfer, log: ctx.log });
    ctx.out(JSON.stringify({ command: "fetch", ok: true, ...r }));
  });

  common(
    program
      .command("push")
      .description("upload the files of a directory under a prefix (e.g. a verified export)")
      .requiredOption("--dir <dir>", "local directory whose regular files to upload")
      .option(
        "--verified <file>",
        'upload nothing unless this file in --dir says "verified": true (uploaded last)',
      ),
  ).action(async (f: CommonFlags & { dir: string; verified?: string }) => {
    const loc = parseS3Uri(f.uri);
    const transfer = transferFrom(f);
    const dir = await checkReadableDir("--dir", f.dir);
    const store = storeFor(ctx, loc, f, transfer);
    const r = await runPush({
      store,
      prefix: prefixOf(loc),
      dir,
      verdict: f.verified,
      transfer,
      log: ctx.log,
    });
    ctx.out(JSON.stringify({ command: "push", ok: true, ...r }));
  });

  return program;
}

/** Commander's own usage errors (unknown option, missing flag) are input errors: exit 2. */
export function isUsageError(err: unknown): err is CommanderError {
  return err instanceof CommanderError;
}
