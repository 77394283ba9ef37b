/**
 * `yunshi submit exp.yaml --local`: run the pod plan (plan.ts) as local processes, in the
 * pod's order — prepare (fetch, restore) beside the trainer's start → snapshot sidecar → final sync — against
 * the embedded object store (or the user's S3 endpoint).
 *
 * Ctrl-C is a preemption: the launcher gets SIGTERM (training checkpoints at the next
 * iteration boundary), then the sidecar gets SIGTERM and uploads what is left, and we exit;
 * the same command resumes. A second Ctrl-C stops everything at once. Exit codes: 0 done,
 * 2 bad input (nothing started), 1 anything else, interrupted runs included.
 */
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { checkLocalDataset } from "../dataset/local-dataset.ts";
import { UsageError } from "../errors.ts";
import type { Experiment } from "../spec/experiment.ts";
import type { Io } from "../io.ts";
import { ExitCode } from "../io.ts";
import { LauncherExit, type PrepareVerdict } from "../pod-contract.ts";
import {
  assertPortFree,
  DEFAULT_S3_PORT,
  EMBEDDED_CREDENTIALS,
  startEmbeddedS3,
} from "./embedded-s3.ts";
import { localLayout, type LocalLayout } from "./layout.ts";
import {
  buildLocalPlan,
  childEnv,
  finalSyncArgv,
  LOCAL_BUCKET,
  LOCAL_REGION,
  resolveDataset,
  type DatasetSource,
  type LocalPlan,
  type LocalProcess,
  type LocalStore,
} from "./plan.ts";
import { startProcess, type Running } from "./processes.ts";
import {
  formatEvent,
  parseAgentLine,
  parseTrainerLine,
  ProgressTracker,
  type ProgressEvent,
} from "./progress.ts";
import { resolvePython } from "./python.ts";
import { cmdlineOf, readRunState, reapStale, writeRunState } from "./run-state.ts";
import { freePort, visibleGpus } from "./machine.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface LocalRunOptions {
  readonly file: string;
  readonly experiment: Experiment;
  readonly specHash: string;
  readonly stateDir: string;
  /** Embedded store port; 0 picks a free one. */
  readonly s3Port: number;
  /** The user's S3-compatible endpoint instead of the embedded store. */
  readonly s3Endpoint?: string;
  readonly bucket?: string;
  readonly verbose: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly io: Io;
}

/** Validation a user can act on, before anything starts (exit 2). */
export async function checkLocalInput(o: LocalRunOptions): Promise<DatasetSource> {
  const exp = o.experiment;
  const noGpu = visibleGpus(o.env) === 0 || exp.resources.gpusPerNode === 0;
  if (noGpu && exp.train.precision !== "fp32")
    throw new UsageError(
      `${o.file}: train.precision ${exp.train.precision} needs a GPU (MMEngine's AmpOptimWrapper), and this run trains on CPU; set train.precision: fp32 for a local CPU run`,
    );
  if (o.s3Endpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(o.s3Endpoint))
    throw new UsageError(
      `--s3-endpoint ${JSON.stringify(o.s3Endpoint)}: expected an http(s) URL such as http://127.0.0.1:9000`,
    );
  if (!Number.isInteger(o.s3Port) || o.s3Port < 0 || o.s3Port > 65535)
    throw new UsageError(
      `--s3-port ${o.s3Port}: expected a port number 0-65535 (0 picks a free one)`,
    );
  const dataset = resolveDataset(exp.dataset.uri, o.file);
  if (dataset.kind === "local") {
    const where = `${o.file}: dataset.uri ${JSON.stringify(exp.dataset.uri)} (${dataset.dir})`;
    let isDir = false;
    try {
      isDir = (await stat(dataset.dir)).isDirectory();
    } catch {
      throw new UsageError(
        `${where} does not exist; a relative dataset.uri is read relative to the spec's folder. Fix the path, or use an s3:// prefix`,
      );
    }
    if (!isDir) throw new UsageError(`${where} is not a directory`);
    const splits = [
      ["dataset.train.annotations", exp.dataset.train.annotations],
      ["dataset.val.annotations", exp.dataset.val.annotations],
      ["dataset.train.images", exp.dataset.train.images],
      ["dataset.val.images", exp.dataset.val.images],
    ] as const;
    for (const [field, rel] of splits) {
      try {
        await stat(join(dataset.dir, rel));
      } catch {
        throw new UsageError(
          `${o.file}: ${field} ${JSON.stringify(rel)}: ${join(dataset.dir, rel)} does not exist (paths are relative to dataset.uri)`,
        );
      }
    }
    // The same check as `yunshi dataset check --spec` (jobs/dataset/check.ts): exit 2 with
    // each problem located, before anything starts.
    await checkLocalDataset(exp, o.file);
  }
  return dataset;
}

export async function runLocal(o: LocalRunOptions): Promise<number> {
  const { io, experiment: exp } = o;
  const started = performance.now();
  const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)}s`;
  const say = (line: string): void => io.out(`${line}\n`);
  const phase = (name: string, detail = ""): void =>
    say(`▸ ${name}${detail === "" ? "" : `: ${detail}`}  [${elapsed()}]`);

  // Everything a user can fix is checked before anything is written or started.
  const dataset = await checkLocalInput(o);
  const py = await resolvePython({ env: o.env, repoRoot: REPO_ROOT, log: say });
  if (o.s3Endpoint === undefined && o.s3Port !== 0) await assertPortFree(o.s3Port);

  const layout = localLayout(o.stateDir, exp.name);
  await mkdir(layout.workDir, { recursive: true });
  await mkdir(layout.logsDir, { recursive: true });
  await claimRun(layout, say);

  const controller = new RunController(say);
  const onSignal = (sig: NodeJS.Signals): void => controller.interrupt(sig);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let closeStore: (() => Promise<void>) | undefined;
  try {
    let store: LocalStore;
    const bucket = o.bucket ?? LOCAL_BUCKET;
    if (o.s3Endpoint === undefined) {
      const s3 = await startEmbeddedS3({ directory: layout.s3Dir, port: o.s3Port, bucket });
      closeStore = () => s3.close();
      store = {
        endpoint: s3.endpoint,
        bucket,
        region: LOCAL_REGION,
        credentials: EMBEDDED_CREDENTIALS,
      };
      say(
        `object store: embedded S3 on ${s3.endpoint}, data in ${display(layout.s3Dir)}${o.s3Port === 0 ? ` (port ${s3.port} picked)` : ""}`,
      );
    } else {
      store = { endpoint: o.s3Endpoint, bucket, region: o.env.AWS_REGION ?? LOCAL_REGION };
      say(
        `object store: ${o.s3Endpoint} (bucket ${bucket}, credentials from your AWS environment)`,
      );
    }

    const plan = buildLocalPlan({
      experiment: exp,
      specHash: o.specHash,
      layout,
      store,
      dataset,
      visibleGpus: visibleGpus(o.env),
      masterPort: await freePort(),
      runtime: {
        python: py.python,
        launcher: join(REPO_ROOT, "images", "trainer", "yunshi_launch.py"),
        node: process.execPath,
        tsxLoader: import.meta.resolve("tsx"),
        agentMain: join(REPO_ROOT, "images", "checkpoint-agent", "src", "main.ts"),
      },
    });
    await writeFile(plan.configFile, plan.configText);
    say(
      `experiment ${exp.name}: ${plan.processes} training process(es) on ${plan.device.toUpperCase()}, Python ${py.python} (${py.source})`,
    );
    say(`  work dir ${display(layout.workDir)}, config ${display(plan.configFile)}`);
    say(`  checkpoints and logs: ${plan.checkpointUri}`);
    plan.notes.forEach((n) => say(`  note: ${n}`));
    return await execute(plan, layout, store, controller, o, phase, say);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (closeStore !== undefined) await closeStore();
    await rm(layout.runStateFile, { force: true });
  }
}

/** Refuse a concurrent run of the same experiment; reap what a killed one left. */
async function claimRun(layout: LocalLayout, say: (l: string) => void): Promise<void> {
  const previous = await readRunState(layout.runStateFile);
  if (previous !== undefined) {
    const cmd = previous.pid === process.pid ? undefined : await cmdlineOf(previous.pid);
    if (cmd !== undefined && /\bnode\b|tsx/.test(cmd))
      throw new Error(
        `another local run of this experiment is in progress (pid ${previous.pid}, started ${previous.startedAt}); wait for it or stop it (Ctrl-C)`,
      );
    await reapStale(
      previous,
      say,
      (c) => c.includes("yunshi_train.py") || c.includes("torch.distributed.run"),
    );
  }
  await writeRunState(layout.runStateFile, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    detachedGroups: [],
  });
}

/** Interrupt handling shared by every phase. */
class RunController {
  interrupted = false;
  private current: Running[] = [];
  private trainingGroup: number | undefined;
  constructor(private readonly say: (l: string) => void) {}

  track(r: Running): void {
    this.current.push(r);
  }
  setTrainingGroup(pid: number): void {
    this.trainingGroup = pid;
  }
  /** The processes that get SIGTERM on the first Ctrl-C: init steps and the launcher. */
  private preemptible(): Running[] {
    return this.current.filter((r) => !r.done && r.name !== "snapshot");
  }
  private firstSignalAt = 0;
  interrupt(sig: NodeJS.Signals): void {
    // Under `npm run`, one Ctrl-C arrives several times: from the terminal to the whole
    // foreground group, and relayed by npm and tsx. Repeats within a second are one signal.
    if (this.interrupted && performance.now() - this.firstSignalAt < 1000) return;
    if (!this.interrupted) {
      this.interrupted = true;
      this.firstSignalAt = performance.now();
      this.say(
        `${sig}: preempting like a spot interruption — training saves a checkpoint at the next iteration, then it is uploaded (again to stop at once)`,
      );
      this.preemptible().forEach((r) => r.signal("SIGTERM"));
      return;
    }
    this.say(
      `${sig} again: stopping everything now; the last committed checkpoint stays in the store`,
    );
    if (this.trainingGroup !== undefined) {
      try {
        process.kill(-this.trainingGroup, "SIGKILL");
      } catch {
        // Gone.
      }
    }
    this.current.forEach((r) => r.signal("SIGKILL"));
  }
}

async function execute(
  plan: LocalPlan,
  layout: LocalLayout,
  store: LocalStore,
  controller: RunController,
  o: LocalRunOptions,
  phase: (name: string, detail?: string) => void,
  say: (l: string) => void,
): Promise<number> {
  const env = (p: LocalProcess): Record<string, string> => childEnv(o.env, p.env, store.endpoint);
  const verbose = (name: string, line: string): void => {
    if (o.verbose) say(`    [${name}] ${line}`);
  };
  const lastAgentError = new Map<string, string>();
  let restoredFile: string | undefined;
  let lastCommitted: string | undefined;

  const agentLine = (name: string) => (stream: "stdout" | "stderr", line: string) => {
    verbose(name, line);
    if (stream === "stdout") return; // one JSON summary line; the log file keeps it
    const e = parseAgentLine(line);
    if (e === undefined) return;
    if (e.kind === "agent-error") lastAgentError.set(name, e.message);
    if (e.kind === "restored") restoredFile = e.file;
    if (e.kind === "committed") lastCommitted = e.file;
    if (name !== "prepare") {
      const text = formatEvent(e, undefined);
      if (text !== undefined) say(text);
    }
  };

  // As in the pod: prepare (fetch, restore) runs beside the trainer, which imports Python
  // and builds the model meanwhile and waits for prepare's verdict before training; the
  // snapshot sidecar starts watching once the verdict is in (its --after).
  await rm(dirname(plan.prepareVerdict), { recursive: true, force: true });
  await mkdir(dirname(plan.prepareVerdict), { recursive: true });
  phase("Preparing", "restoring the last checkpoint while the trainer starts");
  const prepare = startProcess(plan.prepare, {
    env: env(plan.prepare),
    cwd: REPO_ROOT,
    logFile: join(layout.logsDir, "prepare.log"),
    onLine: agentLine("prepare"),
  });
  controller.track(prepare);
  const sidecar = startProcess(plan.sidecar, {
    env: env(plan.sidecar),
    cwd: REPO_ROOT,
    logFile: join(layout.logsDir, "snapshot.log"),
    onLine: agentLine("snapshot"),
  });
  controller.track(sidecar);
  let prepareFailed: string | undefined;
  let preparedOk = false;
  const prepared = prepare.exited.then(async (exit) => {
    const verdict = await readVerdict(plan.prepareVerdict);
    if (exit.code === 0 && verdict?.ok === true) {
      preparedOk = true;
      say(
        restoredFile === undefined
          ? `  no checkpoint in ${plan.checkpointUri}: starting from scratch`
          : `  restored ${restoredFile} from ${plan.checkpointUri}`,
      );
      if (!controller.interrupted)
        phase("Training", `${plan.processes} process(es) on ${plan.device.toUpperCase()}`);
      return;
    }
    prepareFailed =
      verdict?.ok === false
        ? `${verdict.step}: ${verdict.error}`
        : (lastAgentError.get("prepare") ?? `exit ${exit.code ?? exit.signal}`);
    if (controller.interrupted) return;
    say(`prepare failed: ${prepareFailed} (log: ${display(join(layout.logsDir, "prepare.log"))})`);
    // Without a verdict the trainer would wait for ever: stop it (with one, it exits itself
    // with the failed step's code).
    if (verdict === undefined) trainerRef.current?.signal("SIGKILL");
  });
  // Set once the trainer starts, right below (the verdict cannot come before).
  const trainerRef: { current?: Running } = {};

  const tracker = new ProgressTracker();
  let outcome: string | undefined;
  let firstIter = true;
  const trainerLine = (stream: "stdout" | "stderr", line: string): void => {
    verbose("trainer", line);
    const e: ProgressEvent | undefined = parseTrainerLine(line);
    if (e === undefined) {
      if (stream === "stderr" && /Traceback|Error|error:/.test(line) && !o.verbose)
        say(`    [trainer] ${line}`);
      return;
    }
    if (e.kind === "training-pid") {
      controller.setTrainingGroup(e.pid);
      recordDetachedGroup(layout, e.pid).catch((err: unknown) =>
        say(`  warning: cannot record the training process in run.json: ${String(err)}`),
      );
      return;
    }
    if (e.kind === "launcher-exit") {
      outcome = e.outcome;
      return;
    }
    if (e.kind === "resumed") {
      say(
        `  resuming from ${restoredFile ?? "the restored checkpoint"} (epoch ${e.epoch}, iter ${e.iter})`,
      );
    }
    const iter = tracker.feed(e);
    if (e.kind === "train" && firstIter) {
      firstIter = false;
      say(`  first iteration after ${((performance.now() - t0) / 1000).toFixed(1)} s of start-up`);
    }
    const text = formatEvent(e, iter);
    if (text !== undefined) say(text);
  };
  if (o.env[PREPARE_BEFORE_TRAINER_ENV] === "1") {
    // The pod layout before prepare became a sidecar (init containers): the trainer starts
    // only once fetch and restore are over. Only `npm run bench:resume` sets this, to
    // measure the overlap against it in the same run.
    await prepared;
    if (controller.interrupted || prepareFailed !== undefined) return ExitCode.failure;
  }
  const t0 = performance.now();
  const main = startProcess(plan.main, {
    env: env(plan.main),
    cwd: layout.runDir,
    logFile: join(layout.logsDir, "trainer.log"),
    onLine: trainerLine,
  });
  trainerRef.current = main;
  controller.track(main);
  const mainExit = await main.exited;
  await prepared;
  if (controller.interrupted && prepareFailed === undefined && !preparedOk)
    say("interrupted while preparing; nothing was trained. Run the same command to start again.");

  // Final sync: the sidecar stops after the trainer, as a native sidecar does.
  phase("Uploading", "final checkpoint and logs");
  const sidecarWasRunning = !sidecar.done;
  sidecar.signal("SIGTERM");
  const sidecarExit = await sidecar.exited;
  if (!sidecarWasRunning || sidecarExit.code !== 0) {
    // It stopped before the trainer's last save (the terminal's Ctrl-C reaches it too, or
    // it failed): one more pass with the final-sync rules uploads what is left.
    const once = startProcess(plan.sidecar, {
      argv: finalSyncArgv(plan.sidecar),
      env: env(plan.sidecar),
      cwd: REPO_ROOT,
      logFile: join(layout.logsDir, "snapshot.log"),
      onLine: agentLine("snapshot"),
    });
    const onceExit = await once.exited;
    if (onceExit.code !== 0)
      say(
        `final upload failed: ${lastAgentError.get("snapshot") ?? `exit ${onceExit.code ?? onceExit.signal}`}; the checkpoints stay in ${display(layout.workDir)}`,
      );
  }

  const code = mainExit.code;
  const where =
    lastCommitted === undefined ? "" : ` ${plan.checkpointUri}checkpoints/${lastCommitted}`;
  if (code === LauncherExit.ok && outcome !== "preempted" && !controller.interrupted) {
    phase("Completed", `final model${where}; logs ${plan.checkpointUri}logs/`);
    // What to do with the model (issue 13): its best score, and a predict line to try it.
    const { nextSteps } = await import("../after-training/next-steps.ts");
    const dataset = resolveDataset(o.experiment.dataset.uri, o.file);
    const steps = await nextSteps({
      experiment: o.experiment,
      dataset,
      store,
      checkpointUri: plan.checkpointUri,
      stateDir: o.stateDir,
    });
    steps.forEach(say);
    return ExitCode.ok;
  }
  if (controller.interrupted || outcome === "preempted") {
    phase(
      "Interrupted",
      `last checkpoint${where || " (none committed yet)"}. Run the same command to resume.`,
    );
    return ExitCode.failure;
  }
  const meaning: Record<number, string> = {
    [LauncherExit.configError]: "the MMDetection config does not load or build",
    [LauncherExit.datasetError]: "the dataset (annotations or images) is missing or unreadable",
    [LauncherExit.cudaOutOfMemory]: "CUDA out of memory: lower train.batchPerGpu",
    [LauncherExit.checkpointError]:
      "last_checkpoint names no regular file inside the work dir (see the trainer log)",
  };
  if (prepareFailed !== undefined) {
    phase("Failed", `prepare ${prepareFailed}`);
    return ExitCode.failure;
  }
  phase(
    "Failed",
    `trainer exited with ${code ?? mainExit.signal}${code !== null && meaning[code] !== undefined ? ` (${meaning[code]})` : ""}; log: ${display(join(layout.logsDir, "trainer.log"))}`,
  );
  return ExitCode.failure;
}

/** Benchmark switch: start the trainer after prepare, as init containers did (bench:resume). */
export const PREPARE_BEFORE_TRAINER_ENV = "YUNSHI_PREPARE_BEFORE_TRAINER";

/** The prepare verdict, if one was written (a crashed prepare writes none). */
async function readVerdict(file: string): Promise<PrepareVerdict | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as PrepareVerdict;
  } catch {
    return undefined;
  }
}

async function recordDetachedGroup(layout: LocalLayout, pid: number): Promise<void> {
  const s = await readRunState(layout.runStateFile);
  if (s === undefined) return;
  await writeRunState(layout.runStateFile, { ...s, detachedGroups: [...s.detachedGroups, pid] });
}

function display(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") ? path : rel;
}

export { DEFAULT_S3_PORT };
