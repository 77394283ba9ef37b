/**
 * scripts/mmcv-wheel.sh (issue 15): OpenMMLab's prebuilt wheel when its index has one, the
 * compile when not (or when the index cannot be reached), the cached wheel after that.
 * Real pip against a local wheel index (--find-links on a temporary directory); the compile
 * is a stand-in (YUNSHI_MMCV_COMPILE) so the fallback is checked in seconds, not 20 min.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const exec = promisify(execFile);
const REPO = resolve(import.meta.dirname, "..", "..");
const SCRIPT = join(REPO, "scripts", "mmcv-wheel.sh");
const FAKE_COMPILE = join(REPO, "test", "fixtures", "fake-mmcv-compile.sh");
const PIN = "mmcv==2.1.0";

/** A Python with pip: the trainer venv when it is ready, else the system's. */
function pythonWithPip(): string | undefined {
  for (const py of [join(REPO, ".venv", "bin", "python"), "python3"]) {
    try {
      execFileSync(py, ["-m", "pip", "--version"], { stdio: "ignore" });
      return py;
    } catch {
      // next
    }
  }
  return undefined;
}
const python = pythonWithPip();

/** A minimal but valid wheel (pip reads its METADATA): mmcv-VERSION-py3-none-any.whl. */
function makeWheel(dir: string, version: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `mmcv-${version}-py3-none-any.whl`);
  const program = `
import sys, zipfile
path, version = sys.argv[1], sys.argv[2]
dist = f"mmcv-{version}.dist-info"
with zipfile.ZipFile(path, "w") as z:
    z.writestr("mmcv/__init__.py", f"__version__ = '{version}'\\n")
    z.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\\nName: mmcv\\nVersion: {version}\\n")
    z.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
    z.writestr(f"{dist}/RECORD", "")
`;
  execFileSync(python ?? "python3", ["-c", program, file, version]);
  return file;
}

interface Outcome {
  code: number;
  out: string;
  err: string;
}

let base = "";
let compiledWheel = "";
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), "yunshi-mmcv-wheel-"));
  compiledWheel = makeWheel(join(base, "compiled-output"), "2.1.0");
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

async function obtain(
  name: string,
  findLinks: string,
  extraEnv: Record<string, string> = {},
): Promise<Outcome & { dest: string; compileLog: string }> {
  const dest = join(base, name, "wheels");
  const compileLog = join(base, name, "compile.log");
  mkdirSync(join(base, name), { recursive: true });
  const env = {
    ...process.env,
    YUNSHI_MMCV_FIND_LINKS: findLinks,
    YUNSHI_MMCV_COMPILE: FAKE_COMPILE,
    YUNSHI_MMCV_TIMEOUT: "30",
    FAKE_MMCV_WHEEL: compiledWheel,
    FAKE_COMPILE_LOG: compileLog,
    PIP_DISABLE_PIP_VERSION_CHECK: "1",
    ...extraEnv,
  };
  try {
    const r = await exec(SCRIPT, [python ?? "python3", dest, PIN, "2.1.2"], { env });
    return { code: 0, out: r.stdout, err: r.stderr, dest, compileLog };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr, dest, compileLog };
  }
}
const lastLine = (s: string): string => s.trimEnd().split("\n").at(-1) ?? "";

describe.skipIf(python === undefined)("mmcv wheel: prebuilt first, compile as the fallback", () => {
  it("takes the prebuilt wheel when the index has one, and compiles nothing", async () => {
    const index = join(base, "index-with-wheel");
    makeWheel(index, "2.1.0");
    makeWheel(index, "2.0.1"); // another version on the index must not be picked
    const r = await obtain("prebuilt", index);
    expect(r.code).toBe(0);
    expect(lastLine(r.out)).toBe(
      `mmcv-wheel: prebuilt ${join(r.dest, "mmcv-2.1.0-py3-none-any.whl")}`,
    );
    expect(existsSync(r.compileLog)).toBe(false);
    expect(readdirSync(r.dest)).toEqual(["mmcv-2.1.0-py3-none-any.whl"]);

    // The next run reuses it without asking the index again.
    const again = await obtain("prebuilt", join(base, "no-such-index"));
    expect(lastLine(again.out)).toMatch(/^mmcv-wheel: cached .*mmcv-2\.1\.0-py3-none-any\.whl$/);
  });

  it("compiles when the index has no wheel for this version", async () => {
    const index = join(base, "index-without");
    makeWheel(index, "2.0.1");
    const r = await obtain("no-wheel", index);
    expect(r.code).toBe(0);
    expect(r.out).toContain("no prebuilt wheel");
    expect(lastLine(r.out)).toMatch(
      /^mmcv-wheel: compiled .*mmcv-2\.1\.0-py3-none-any\.whl in \d+s$/,
    );
    const argv = readFileSync(r.compileLog, "utf8").trimEnd().split("\n");
    expect(argv[0]).toBe(python);
    expect(argv[2]).toBe(PIN);
  });

  it("compiles when the index cannot be reached, within the timeout", async () => {
    // A port that was free a moment ago: connection refused, as on a machine offline.
    const port = await new Promise<number>((done) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => done(p));
      });
    });
    const started = Date.now();
    const r = await obtain("offline", `http://127.0.0.1:${port}/mmcv/index.html`);
    expect(r.code).toBe(0);
    expect(lastLine(r.out)).toMatch(/^mmcv-wheel: compiled /);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('"none" skips the index; a compile that yields no wheel fails', async () => {
    const skipped = await obtain("skip", "none");
    expect(skipped.out).not.toContain("trying a prebuilt");
    expect(lastLine(skipped.out)).toMatch(/^mmcv-wheel: compiled /);

    const broken = await obtain("broken-compile", "none", { FAKE_MMCV_WHEEL: "/dev/null" });
    expect(broken.code).not.toBe(0);
    expect(broken.err).toContain("produced no mmcv wheel");
  });

  it("refuses a malformed pin or torch version (exit 2)", async () => {
    const dest = join(base, "bad", "wheels");
    for (const args of [
      [dest, "mmcv>=2; rm -rf /", "2.1.2"],
      [dest, PIN, "latest"],
    ]) {
      const r = await exec(SCRIPT, [python ?? "python3", ...args]).catch(
        (e: { code: number; stderr: string }) => e,
      );
      expect(r).toMatchObject({ code: 2 });
    }
  });
});
