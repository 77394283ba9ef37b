/**
 * One process of the local plan: spawned from an argv array (never a shell), its output
 * kept in a log file and handed over line by line. Children stay in our process group, as
 * containers share a pod's fate: a kill -9 of the run takes them too.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import type { LocalProcess } from "./plan.ts";

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Running {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  /** True once it has exited. */
  done: boolean;
  /** Send a signal if it still runs. */
  signal(sig: NodeJS.Signals): void;
}

export function startProcess(
  p: LocalProcess,
  opts: {
    argv?: readonly string[];
    env: Record<string, string>;
    cwd: string;
    logFile: string;
    onLine: (stream: "stdout" | "stderr", line: string) => void;
  },
): Running {
  const argv = opts.argv ?? p.argv;
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error(`process ${p.name} has an empty argv`);
  const log = createWriteStream(opts.logFile, { flags: "a" });
  log.write(`# ${new Date().toISOString()} ${JSON.stringify(argv)}\n`);
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines = (stream: "stdout" | "stderr"): Promise<void> =>
    new Promise((resolve) => {
      const source = child[stream];
      if (source === null) return resolve();
      const rl = createInterface({ input: source, crlfDelay: Infinity });
      rl.on("line", (line) => {
        log.write(`${line}\n`);
        opts.onLine(stream, line);
      });
      rl.on("close", resolve);
    });
  const drained = Promise.all([lines("stdout"), lines("stderr")]);
  const running: Running = {
    name: p.name,
    child,
    done: false,
    exited: new Promise<Exit>((resolve) => {
      let spawnError: Error | undefined;
      child.on("error", (err) => {
        spawnError = err;
        log.write(`# failed to start: ${err.message}\n`);
        running.done = true;
        resolve({ code: 127, signal: null });
      });
      child.on("exit", (code, signal) => {
        if (spawnError !== undefined) return;
        // Every line is handed over before the exit is reported.
        void drained.then(() => {
          log.write(`# exited: ${code ?? signal}\n`);
          log.end();
          running.done = true;
          resolve({ code, signal });
        });
      });
    }),
    signal(sig) {
      if (running.done || child.exitCode !== null || child.pid === undefined) return;
      try {
        child.kill(sig);
      } catch {
        // Gone in between.
      }
    },
  };
  return running;
}
