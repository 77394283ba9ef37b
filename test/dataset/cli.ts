/** Runs the yunshi CLI in-process and captures stdout, stderr and the exit code. */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { run } from "../../jobs/program.ts";

export const FIXTURES = resolve(import.meta.dirname, "../fixtures/dataset");

export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await run(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

export async function tempDir(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `yunshi-dataset-${name}-`));
}
