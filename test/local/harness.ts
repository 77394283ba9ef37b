/**
 * Runs `yunshi submit exp.yaml --local` as a real process group (as a terminal would), and
 * follows its output line by line with arrival times. Used by the end-to-end tests and the
 * goodput benchmark.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { EMBEDDED_CREDENTIALS, startEmbeddedS3 } from "../../jobs/local/embedded-s3.ts";
import { LOCAL_BUCKET, LOCAL_REGION } from "../../jobs/local/plan.ts";

export const REPO = join(import.meta.dirname, "..", "..");

export interface Line {
  readonly at: number;
  readonly text: string;
}

export interface LocalRun {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: Line[];
  readonly startedAt: number;
  readonly exited: Promise<number>;
  /** Resolves with the first line (from `from`) matching re. */
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<Line>;
  text(): string;
}

export function startLocalRun(
  args: readonly string[],
  opts: {
    env?: Record<string, string | undefined>;
    echo?: boolean;
    /** "bundle": the built CLI as users run it (bin/yunshi.js); default: the sources via tsx. */
    cli?: "tsx" | "bundle";
  } = {},
): LocalRun {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...opts.env }))
    if (v !== undefined) env[k] = v;
  const startedAt = performance.now();
  const child = spawn(
    process.execPath,
    [
      ...(opts.cli === "bundle"
        ? [join(REPO, "bin", "yunshi.js")]
        : ["--import", "tsx", join(REPO, "jobs", "cli.ts")]),
      "submit",
      ...args,
      "--local",
    ],
    { cwd: REPO, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: Line[] = [];
  const waiters: { re: RegExp; from: number; resolve: (l: Line) => void }[] = [];
  const onChunk = (buf: string, carry: { s: string }): void => {
    carry.s += buf;
    const parts = carry.s.split("\n");
    carry.s = parts.pop() ?? "";
    for (const text of parts) {
      const line = { at: performance.now(), text };
      lines.push(line);
      if (opts.echo === true) process.stdout.write(`${text}\n`);
      for (const w of [...waiters]) {
        if (lines.length - 1 >= w.from && w.re.test(text)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  };
  const out = { s: "" };
  const err = { s: "" };
  child.stdout.setEncoding("utf8").on("data", (b: string) => onChunk(b, out));
  child.stderr.setEncoding("utf8").on("data", (b: string) => onChunk(b, err));
  // 'close', not 'exit': every line of output has arrived by then.
  const exited = new Promise<number>((resolve) =>
    child.on("close", (code, signal) => {
      lines.push({ at: performance.now(), text: `[harness] exited: ${code ?? signal}` });
      resolve(code ?? (signal === "SIGKILL" ? 137 : 1));
    }),
  );
  const run: LocalRun = {
    child,
    pid: child.pid ?? -1,
    lines,
    startedAt,
    exited,
    waitFor(re, timeoutMs = 300_000, from = 0) {
      const hit = lines.slice(from).find((l) => re.test(l.text));
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise<Line>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${re}; output:\n${run.text()}`)),
          timeoutMs,
        );
        void exited.then(() =>
          setTimeout(() => reject(new Error(`exited before ${re}; output:\n${run.text()}`)), 200),
        );
        waiters.push({
          re,
          from,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
    text: () => lines.map((l) => l.text).join("\n"),
  };
  return run;
}

/**
 * A lost machine: SIGKILL to the run's process group and to the training session the
 * launcher started (recorded in run.json), at the same moment.
 */
export async function killRun(run: LocalRun, stateDir: string, experiment: string): Promise<void> {
  let groups: number[] = [];
  try {
    const s = JSON.parse(
      await readFile(join(stateDir, "runs", experiment, "run.json"), "utf8"),
    ) as { detachedGroups?: number[] };
    groups = s.detachedGroups ?? [];
  } catch {
    // Not written yet.
  }
  for (const g of [run.pid, ...groups]) {
    try {
      process.kill(-g, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  await run.exited;
}

/** Why the real-training tests cannot run here, or undefined when they can. */
export function whyNoVenv(): string | undefined {
  const py = join(REPO, ".venv", "bin", "python");
  const r = spawnSync(py, ["-c", "import mmdet, mmcv, torch"], {
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.error !== undefined) return `${py}: ${r.error.message}`;
  if (r.status !== 0)
    return `${py} cannot import mmdet: ${r.stderr.trim().split("\n").pop() ?? ""}`;
  return undefined;
}

/** Keys under the experiment's prefix in the embedded store (started again, read-only use). */
export async function storedKeys(stateDir: string, prefix: string): Promise<Map<string, number>> {
  const s3 = await startEmbeddedS3({
    directory: join(stateDir, "s3"),
    port: 0,
    bucket: LOCAL_BUCKET,
  });
  try {
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: LOCAL_REGION,
      forcePathStyle: true,
      credentials: EMBEDDED_CREDENTIALS,
    });
    const keys = new Map<string, number>();
    let token: string | undefined;
    do {
      const r = await client.send(
        new ListObjectsV2Command({
          Bucket: LOCAL_BUCKET,
          Prefix: prefix,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      for (const o of r.Contents ?? []) keys.set((o.Key ?? "").slice(prefix.length), o.Size ?? 0);
      token = r.IsTruncated === true ? r.NextContinuationToken : undefined;
    } while (token !== undefined);
    client.destroy();
    return keys;
  } finally {
    await s3.close();
  }
}

/** The text of one stored object (undefined when there is none), from the run's store. */
export async function storedText(stateDir: string, key: string): Promise<string | undefined> {
  const s3 = await startEmbeddedS3({
    directory: join(stateDir, "s3"),
    port: 0,
    bucket: LOCAL_BUCKET,
  });
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: LOCAL_REGION,
    forcePathStyle: true,
    credentials: EMBEDDED_CREDENTIALS,
  });
  try {
    const r = await client.send(new GetObjectCommand({ Bucket: LOCAL_BUCKET, Key: key }));
    return await r.Body?.transformToString("utf8");
  } catch (err) {
    if ((err as { name?: string }).name === "NoSuchKey") return undefined;
    throw err;
  } finally {
    client.destroy();
    await s3.close();
  }
}

/** Numbers from the runner's output lines. */
export const parse = {
  iters: (lines: readonly Line[]): number[] =>
    lines.flatMap((l) => {
      const m = /· iter (\d+)/.exec(l.text);
      return m === null ? [] : [Number(m[1])];
    }),
  committed: (lines: readonly Line[]): number[] =>
    lines.flatMap((l) => {
      const m = /checkpoint: iter_(\d+)\.pth committed/.exec(l.text);
      return m === null ? [] : [Number(m[1])];
    }),
  saved: (lines: readonly Line[]): number[] =>
    lines.flatMap((l) => {
      const m = /checkpoint: saving at iteration (\d+)|stopped after iteration (\d+)/.exec(l.text);
      return m === null ? [] : [Number(m[1] ?? m[2])];
    }),
  resumedIter: (lines: readonly Line[]): number | undefined => {
    for (const l of lines) {
      const m = /resuming from \S+ \(epoch \d+, iter (\d+)\)/.exec(l.text);
      if (m !== null) return Number(m[1]);
      if (/starting from scratch/.test(l.text)) return 0;
    }
    return undefined;
  },
};
