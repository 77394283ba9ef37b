/**
 * The trainer's Python for the after-training commands (predict, export, tensorboard):
 * `YUNSHI_PYTHON`, else the repository's `.venv/`. Unlike `submit --local`, these commands do
 * not build the venv (20-25 minutes) as a side effect: they say how to.
 *
 * Scripts run with an argv array (never a shell) and report on stdout as one JSON object a
 * line, `{"event": ...}`; everything else they print goes to the caller's log callback.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../errors.ts";
import { PYTHON_ENV, probePython } from "../local/python.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The Python programs that run inside the trainer image (and here, in .venv/). */
export const TRAINER_DIR = join(REPO_ROOT, "images", "trainer");

/** The Python to run trainer scripts with; a UsageError saying how to get one otherwise. */
export function trainerPython(env: Readonly<Record<string, string | undefined>>): string {
  const chosen = env[PYTHON_ENV];
  if (chosen !== undefined && chosen !== "") {
    const probe = probePython(chosen);
    if (!probe.ok)
      throw new UsageError(
        `${PYTHON_ENV}=${JSON.stringify(chosen)} cannot run the detector: ${probe.why}; point it at a Python with the trainer's packages (images/trainer/requirements.txt) or unset it to use .venv/`,
      );
    return chosen;
  }
  const venvPython = join(REPO_ROOT, ".venv", "bin", "python");
  const probe = existsSync(venvPython) ? probePython(venvPython) : undefined;
  if (probe?.ok === true) return venvPython;
  throw new UsageError(
    `no trainer Python: ${join(REPO_ROOT, ".venv")} ${probe === undefined ? "does not exist" : `is not usable (${probe.why})`}. ` +
      `Create it once with \`bash scripts/test-python.sh --setup-only\` (or \`npm run submit -- examples/quickstart.yaml --local\`, which does it; about 20-25 minutes on 2 cores), ` +
      `or set ${PYTHON_ENV} to a Python with the packages of images/trainer/requirements.txt`,
  );
}

export interface ScriptEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

export interface ScriptRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly events: readonly ScriptEvent[];
  /** The last lines the script printed that were not events (its traceback, if it failed). */
  readonly tail: readonly string[];
}

export interface ScriptOptions {
  readonly python: string;
  readonly script: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly onEvent?: (e: ScriptEvent) => void;
  readonly onLine?: (line: string) => void;
  readonly cwd?: string;
}

function asEvent(line: string): ScriptEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v === "object" && v !== null && typeof (v as { event?: unknown }).event === "string")
      return v as ScriptEvent;
  } catch {
    // Not an event: an ordinary line that starts with a brace.
  }
  return undefined;
}

/** Run `python images/trainer/<script> args…` and collect its events. */
export function runTrainerScript(o: ScriptOptions): Promise<ScriptRun> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.env)) if (v !== undefined) env[k] = v;
  // Headless drawing; no .pyc files in the repository.
  env.MPLBACKEND = "Agg";
  env.PYTHONUNBUFFERED = "1";
  env.PYTHONDONTWRITEBYTECODE = "1";
  const child = spawn(o.python, [join(TRAINER_DIR, o.script), ...o.args], {
    cwd: o.cwd ?? REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: ScriptEvent[] = [];
  const tail: string[] = [];
  const keep = (line: string): void => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    o.onLine?.(line);
  };
  const split = (onLine: (l: string) => void) => {
    let carry = "";
    return {
      data: (chunk: string) => {
        const parts = (carry + chunk).split("\n");
        carry = parts.pop() ?? "";
        parts.forEach(onLine);
      },
      end: () => {
        if (carry !== "") onLine(carry);
        carry = "";
      },
    };
  };
  const out = split((line) => {
    const e = asEvent(line);
    if (e === undefined) return keep(line);
    events.push(e);
    o.onEvent?.(e);
  });
  const err = split(keep);
  child.stdout.setEncoding("utf8").on("data", out.data);
  child.stderr.setEncoding("utf8").on("data", err.data);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      out.end();
      err.end();
      resolve({ code, signal, events, tail });
    });
  });
}

/** The message of the script's bad-input event, if it reported one. */
export function badInputOf(run: ScriptRun): string | undefined {
  const e = run.events.find((x) => x.event === "bad-input");
  return e === undefined ? undefined : String(e.message);
}
