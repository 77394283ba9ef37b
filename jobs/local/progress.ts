/**
 * Progress a person can follow, from what the processes print: MMEngine's log lines on the
 * trainer's stdout, the launcher's and the checkpoint agent's lines on stderr. Pure: lines
 * in, events out; `ProgressTracker` adds the global iteration, which MMEngine's epoch-based
 * log lines do not show (they print [epoch][batch/len], and a resumed epoch restarts at
 * batch 0 while the iteration count carries on).
 */

export type ProgressEvent =
  | {
      readonly kind: "train";
      readonly epoch: number;
      readonly batch: number;
      readonly batches: number;
      readonly loss?: number;
      readonly lr?: number;
    }
  | { readonly kind: "resumed"; readonly epoch: number; readonly iter: number }
  | { readonly kind: "saving"; readonly unit: "iter" | "epoch"; readonly n: number }
  | { readonly kind: "val"; readonly metrics: string }
  | { readonly kind: "preempted"; readonly checkpoint: string; readonly iter: number }
  | { readonly kind: "training-pid"; readonly pid: number }
  | { readonly kind: "launcher-exit"; readonly outcome: string; readonly code: number }
  | { readonly kind: "uploading"; readonly file: string }
  | { readonly kind: "committed"; readonly file: string; readonly bytes: number }
  | { readonly kind: "restored"; readonly file: string }
  | { readonly kind: "fresh" }
  | { readonly kind: "agent-error"; readonly message: string };

const TRAIN = /\bEpoch\(train\)\s*\[(\d+)\]\s*\[\s*(\d+)\s*\/\s*(\d+)\s*\](.*)$/;
const ITER_TRAIN = /\bIter\(train\)\s*\[\s*(\d+)\s*\/\s*(\d+)\s*\](.*)$/;
const LOSS = /(?:^|\s)loss:\s*([-+0-9.eE]+|nan|inf)/;
const LR = /(?:^|\s)lr:\s*([-+0-9.eE]+)/;
const RESUMED = /resumed epoch: (\d+), iter: (\d+)/;
const SAVING = /Saving checkpoint at (\d+) (iterations|epochs)/;
const VAL = /\bEpoch\(val\)\s*\[\d+\]\s*\[\s*\d+\s*\/\s*\d+\s*\]\s+(.*coco\/.*)$/;
const PREEMPTED = /yunshi-train: preempted: checkpoint (\S+) saved at iteration (\d+)/;
const TRAINING_PID = /yunshi-launch: started training as pid (\d+)/;
const LAUNCHER_EXIT = /yunshi-launch: training exited with -?\d+: ([a-z-]+), exit code (\d+)/;
const UPLOADING = /^uploading (\S+) to s3:\/\//;
const COMMITTED = /^committed (?:best checkpoint )?(\S+) \((\d+) bytes/;
const RESTORED = /^restored (\S+\.pth) to /;
const FRESH = /^no committed checkpoint under .*: fresh run/;
const AGENT_ERROR = /^(?:error|fatal): (.*)$/;

const num = (s: string | undefined): number | undefined => {
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isNaN(n) && s !== "nan" ? undefined : n;
};

/** One line of the trainer's output (stdout: MMEngine; stderr: the launcher). */
export function parseTrainerLine(line: string): ProgressEvent | undefined {
  let m = TRAIN.exec(line);
  if (m !== null) {
    const rest = m[4] ?? "";
    const loss = num(LOSS.exec(rest)?.[1]);
    const lr = num(LR.exec(rest)?.[1]);
    return {
      kind: "train",
      epoch: Number(m[1]),
      batch: Number(m[2]),
      batches: Number(m[3]),
      ...(loss === undefined ? {} : { loss }),
      ...(lr === undefined ? {} : { lr }),
    };
  }
  m = ITER_TRAIN.exec(line);
  if (m !== null) {
    const rest = m[3] ?? "";
    const loss = num(LOSS.exec(rest)?.[1]);
    return {
      kind: "train",
      epoch: 1,
      batch: Number(m[1]),
      batches: Number(m[2]),
      ...(loss === undefined ? {} : { loss }),
    };
  }
  if ((m = RESUMED.exec(line)) !== null)
    return { kind: "resumed", epoch: Number(m[1]), iter: Number(m[2]) };
  if ((m = SAVING.exec(line)) !== null)
    return { kind: "saving", unit: m[2] === "epochs" ? "epoch" : "iter", n: Number(m[1]) };
  if ((m = VAL.exec(line)) !== null) return { kind: "val", metrics: (m[1] ?? "").trim() };
  if ((m = PREEMPTED.exec(line)) !== null)
    return { kind: "preempted", checkpoint: m[1] ?? "", iter: Number(m[2]) };
  if ((m = TRAINING_PID.exec(line)) !== null) return { kind: "training-pid", pid: Number(m[1]) };
  if ((m = LAUNCHER_EXIT.exec(line)) !== null)
    return { kind: "launcher-exit", outcome: m[1] ?? "", code: Number(m[2]) };
  return undefined;
}

/** One stderr line of the checkpoint agent. */
export function parseAgentLine(line: string): ProgressEvent | undefined {
  let m: RegExpExecArray | null;
  if ((m = UPLOADING.exec(line)) !== null) return { kind: "uploading", file: m[1] ?? "" };
  if ((m = COMMITTED.exec(line)) !== null)
    return { kind: "committed", file: m[1] ?? "", bytes: Number(m[2]) };
  if ((m = RESTORED.exec(line)) !== null) return { kind: "restored", file: m[1] ?? "" };
  if (FRESH.test(line)) return { kind: "fresh" };
  if ((m = AGENT_ERROR.exec(line)) !== null) return { kind: "agent-error", message: m[1] ?? "" };
  return undefined;
}

/** Global iteration from epoch-based log lines: the resumed iteration plus the iterations
 * of this attempt (every epoch of an attempt starts at batch 0). */
export class ProgressTracker {
  private startIter = 0;
  private doneBefore = 0;
  private epoch: number | undefined;
  private batches = 0;
  /** The last global iteration logged; undefined before the first. */
  iter: number | undefined;

  feed(e: ProgressEvent): number | undefined {
    if (e.kind === "resumed") {
      this.startIter = e.iter;
      this.doneBefore = 0;
      this.epoch = undefined;
      return undefined;
    }
    if (e.kind === "saving" && e.unit === "iter") {
      // Exact: correct any drift (e.g. a log interval above 1 hides batches).
      this.iter = e.n;
      return e.n;
    }
    if (e.kind !== "train") return undefined;
    if (this.epoch !== undefined && e.epoch !== this.epoch) this.doneBefore += this.batches;
    this.epoch = e.epoch;
    this.batches = e.batches;
    this.iter = this.startIter + this.doneBefore + e.batch;
    return this.iter;
  }
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;

/** The line a person sees for an event, or undefined for events that stay in the log. */
export function formatEvent(e: ProgressEvent, globalIter: number | undefined): string | undefined {
  switch (e.kind) {
    case "train": {
      const it = globalIter === undefined ? "" : ` · iter ${globalIter}`;
      const loss = e.loss === undefined ? "" : ` · loss ${e.loss.toFixed(4)}`;
      return `  epoch ${e.epoch} [${e.batch}/${e.batches}]${it}${loss}`;
    }
    case "saving":
      return `  checkpoint: saving at ${e.unit === "iter" ? "iteration" : "epoch"} ${e.n}`;
    case "val":
      return `  validation: ${e.metrics}`;
    case "preempted":
      return `  stopped after iteration ${e.iter}: checkpoint ${e.checkpoint}`;
    case "uploading":
      return `  checkpoint: uploading ${e.file}`;
    case "committed":
      return `  checkpoint: ${e.file} committed to the store (${mb(e.bytes)})`;
    case "agent-error":
      return `  checkpoint agent: ${e.message}`;
    default:
      return undefined;
  }
}
