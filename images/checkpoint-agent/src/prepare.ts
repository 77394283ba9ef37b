/**
 * The prepare sidecar: fetch the dataset (and s3:// pretrained weights) and restore the
 * newest verified checkpoint, all at once, then write the verdict the trainer waits for.
 *
 * Why a sidecar and not init containers (issues 15 and 16): the trainer starts beside it,
 * so Python imports and the model build (20+ s) overlap the downloads, and the pod is Ready
 * as soon as its containers run, so Kueue's waitForPodsReady cannot evict a run that is
 * still fetching a large dataset. The trainer reads the verdict right before training
 * (images/trainer/yunshi_prepare.py) and exits with the code the failed step maps to
 * (jobs/pod-contract.ts PrepareFailureExit).
 *
 * The verdict is written once, atomically (temp + rename), and never through a symlink. A
 * restarted sidecar (the kubelet restarts one that dies) runs again: fetch skips what it
 * already placed, restore what is already verified.
 */
import { constants } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { errorMessage, exitCodeFor } from "./errors.ts";
import { runFetch, type FetchReport } from "./fetch.ts";
import type { ObjectStore } from "./object-store.ts";
import type { LogFn } from "./progress.ts";
import { runRestore, type RestoreReport } from "./restore.ts";
import type { S3Location } from "./s3-uri.ts";
import type { TransferOptions } from "./transfer-options.ts";

/** Same names as jobs/pod-contract.ts PrepareStep (the agent is bundled on its own). */
export type PrepareStep = "fetch-dataset" | "fetch-pretrained" | "restore";

export type PrepareVerdict =
  { ok: true; seconds: number } | { ok: false; step: PrepareStep; exitCode: number; error: string };

export interface FetchTask {
  readonly store: ObjectStore;
  readonly location: S3Location;
  readonly dest: string;
}

export interface PrepareOptions {
  readonly dataset?: FetchTask;
  readonly pretrained?: FetchTask;
  readonly restore: {
    readonly store: ObjectStore;
    readonly prefix: string;
    readonly workDir: string;
  };
  readonly verdictFile: string;
  readonly transfer: TransferOptions;
  readonly log: LogFn;
}

export interface PrepareReport {
  readonly verdict: PrepareVerdict;
  readonly fetched: Partial<Record<"dataset" | "pretrained", FetchReport>>;
  readonly restored?: RestoreReport;
}

/** Run every step, write the verdict (also for a failure), and return it. */
export async function runPrepare(o: PrepareOptions): Promise<PrepareReport> {
  const started = performance.now();
  const prefixed =
    (step: PrepareStep): LogFn =>
    (line) =>
      o.log(`${step}: ${line}`);
  const fetched: Partial<Record<"dataset" | "pretrained", FetchReport>> = {};
  let restored: RestoreReport | undefined;

  const steps: [PrepareStep, () => Promise<void>][] = [];
  const { dataset, pretrained } = o;
  if (dataset !== undefined)
    steps.push([
      "fetch-dataset",
      async () => {
        fetched.dataset = await runFetch({
          ...dataset,
          transfer: o.transfer,
          log: prefixed("fetch-dataset"),
        });
      },
    ]);
  if (pretrained !== undefined)
    steps.push([
      "fetch-pretrained",
      async () => {
        fetched.pretrained = await runFetch({
          ...pretrained,
          transfer: o.transfer,
          log: prefixed("fetch-pretrained"),
        });
      },
    ]);
  steps.push([
    "restore",
    async () => {
      restored = await runRestore({
        ...o.restore,
        transfer: o.transfer,
        // Unprefixed: `restored <file> to <path>` is the line local runs and status read.
        log: o.log,
      });
    },
  ]);

  // All at once: the dataset's many small objects and the checkpoint's large parts share
  // the network well, and training needs all of them anyway.
  const outcomes = await Promise.allSettled(steps.map(([, run]) => run()));
  let verdict: PrepareVerdict = {
    ok: true,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.status === "fulfilled") continue;
    const step = steps[i]?.[0] ?? "restore";
    const error = errorMessage(outcome.reason);
    o.log(`${step} failed: ${error}`);
    // The first failed step in pod order names the verdict; the others are in the log.
    if (verdict.ok) verdict = { ok: false, step, exitCode: exitCodeFor(outcome.reason), error };
  }
  await writeVerdict(o.verdictFile, verdict);
  o.log(
    verdict.ok
      ? `prepared in ${verdict.seconds} s: training may start`
      : `prepare failed at ${verdict.step} (exit ${verdict.exitCode}); the trainer stops with its code`,
  );
  return { verdict, fetched, ...(restored === undefined ? {} : { restored }) };
}

/** Temp file in the same directory, then rename: the trainer never reads half a verdict. */
export async function writeVerdict(file: string, verdict: PrepareVerdict): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const fh = await open(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o644,
  );
  try {
    await fh.writeFile(`${JSON.stringify(verdict)}\n`, "utf8");
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Resolves when the signal aborts (the pod stops): a native sidecar must not exit early.
 * A timer keeps the process alive meanwhile: a pending promise alone does not. */
export function idleUntil(stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (stop.aborted) {
      resolve();
      return;
    }
    const keepAlive = setInterval(() => undefined, 1 << 30);
    stop.addEventListener(
      "abort",
      () => {
        clearInterval(keepAlive);
        resolve();
      },
      { once: true },
    );
  });
}
