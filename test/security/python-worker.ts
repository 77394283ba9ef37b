/**
 * The trainer's Python (the repository's .venv with the pinned mmengine) as a long-lived
 * worker: one JSON request per line in, one JSON answer per line out, so a property test
 * can ask hundreds of questions without starting Python each time.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

const REPO = join(import.meta.dirname, "..", "..");

/**
 * The Python to use, or why there is none. Only a missing (or still building) .venv skips:
 * CI builds it before the tests, and a .venv that cannot import mmengine fails the test.
 * YUNSHI_TEST_PYTHON points at another interpreter with the same pins, for development.
 */
export function trainerPython(): { python: string } | { skip: string } {
  const override = process.env.YUNSHI_TEST_PYTHON;
  if (override !== undefined && override !== "") return { python: override };
  const venv = join(REPO, ".venv");
  const python = join(venv, "bin", "python");
  if (!existsSync(python))
    return { skip: `no ${venv}: run scripts/test-python.sh --setup-only (CI always has it)` };
  if (!existsSync(join(venv, ".yunshi-stamp")))
    return { skip: `${venv} is still being built (no .yunshi-stamp yet)` };
  return { python };
}

export class PythonWorker {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private stderr = "";

  constructor(python: string, script: string) {
    this.child = spawn(python, [script], {
      cwd: REPO,
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, PYTHONIOENCODING: "utf-8" },
    });
    this.child.stderr.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString("utf8")).slice(-4000);
    });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async ask(request: unknown): Promise<unknown> {
    this.child.stdin.write(`${JSON.stringify(request)}\n`);
    const next = await this.lines.next();
    if (next.done === true) throw new Error(`the Python worker exited: ${this.stderr}`);
    return JSON.parse(next.value) as unknown;
  }

  async close(): Promise<void> {
    this.child.stdin.end();
    await new Promise<void>((resolve) => {
      if (this.child.exitCode !== null) resolve();
      else this.child.once("exit", () => resolve());
    });
  }
}
