/**
 * Which Python trains: `YUNSHI_PYTHON` if set (it must exist and have mmdet), else the
 * repository's `.venv/`, created on first use by the trainer's own setup script
 * (scripts/test-python.sh --setup-only: the pinned images/trainer/requirements*.txt, torch
 * 2.1.2, mmcv 2.1.0 with its CPU ops compiled once, mmengine, mmdet 3.3.0).
 */
import { spawn, spawnSync } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { join } from "node:path";
import { UsageError } from "../errors.ts";

export const PYTHON_ENV = "YUNSHI_PYTHON";

export interface PythonChoice {
  readonly python: string;
  readonly source: "YUNSHI_PYTHON" | ".venv" | "new .venv";
  /** Seconds spent creating the virtualenv, when it was created now. */
  readonly setupSeconds?: number;
}

/** Does this interpreter run and see mmdet? find_spec does not import (fast). */
export function probePython(python: string): { ok: true } | { ok: false; why: string } {
  const r = spawnSync(
    python,
    [
      "-c",
      "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('mmdet') and importlib.util.find_spec('torch') else 3)",
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return { ok: false, why: code === "ENOENT" ? "no such program" : r.error.message };
  }
  if (r.status === 3) return { ok: false, why: "it has no torch/mmdet installed" };
  if (r.status !== 0) return { ok: false, why: `it exited with ${r.status ?? r.signal}` };
  return { ok: true };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function resolvePython(opts: {
  env: Readonly<Record<string, string | undefined>>;
  repoRoot: string;
  log: (line: string) => void;
}): Promise<PythonChoice> {
  const chosen = opts.env[PYTHON_ENV];
  if (chosen !== undefined && chosen !== "") {
    const probe = probePython(chosen);
    if (!probe.ok)
      throw new UsageError(
        `${PYTHON_ENV}=${JSON.stringify(chosen)} cannot train: ${probe.why}; ` +
          `point it at a Python 3.10/3.11 with the trainer's packages (images/trainer/requirements.txt), ` +
          `or unset it to use (and create on first use) the repository's .venv/`,
      );
    return { python: chosen, source: "YUNSHI_PYTHON" };
  }
  const venvPython = join(opts.repoRoot, ".venv", "bin", "python");
  if ((await exists(venvPython)) && probePython(venvPython).ok)
    return { python: venvPython, source: ".venv" };

  const script = join(opts.repoRoot, "scripts", "test-python.sh");
  opts.log(
    `Python: creating ${join(opts.repoRoot, ".venv")} from images/trainer/requirements*.txt ` +
      `(torch 2.1.2, mmcv 2.1.0 with its CPU ops compiled once, mmengine, mmdet 3.3.0; ` +
      `about 20-25 minutes and ~3 GB on 2 cores, once; set ${PYTHON_ENV} to use your own Python)`,
  );
  const started = performance.now();
  const code = await new Promise<number>((resolve) => {
    const child = spawn("bash", [script, "--setup-only"], {
      cwd: opts.repoRoot,
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("error", () => resolve(127));
    child.on("exit", (c) => resolve(c ?? 1));
  });
  const setupSeconds = (performance.now() - started) / 1000;
  if (code !== 0 || !probePython(venvPython).ok)
    throw new UsageError(
      `no Python to train with: creating .venv/ failed (exit ${code}; scripts/test-python.sh needs Python 3.10 or 3.11 with venv and headers, and a C++ compiler). ` +
        `Install them (Debian/Ubuntu: apt-get install python3 python3-venv python3-dev g++), or set ${PYTHON_ENV} to a Python with mmdet 3.3.0`,
    );
  opts.log(`Python: .venv/ ready in ${setupSeconds.toFixed(0)} s`);
  return { python: venvPython, source: "new .venv", setupSeconds };
}
