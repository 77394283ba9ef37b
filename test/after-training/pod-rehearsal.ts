/**
 * Plays the kubelet for one rendered Job's pod on this machine, with the real programs: the
 * checkpoint agent (node + tsx, as its image runs it) and the trainer scripts in .venv/.
 * Each volume is a folder; each container sees its volumeMounts there (a path argument or
 * env value under a mountPath is rewritten to the folder, as a mount would place it); init
 * containers run one after another and the first that exits non-zero fails the pod, so the
 * main containers never start, as on a node. `$` escapes are undone with the kubelet's own
 * expansion rule. Nothing else is emulated: no isolation, no resource limits.
 */
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IContainer } from "kubernetes-models/v1/Container";
import { expandLikeKubelet } from "../../jobs/render/kubernetes-expansion.ts";
import { AgentCommand } from "../../jobs/pod-contract.ts";
import { REPO } from "../local/harness.ts";

const AGENT_MAIN = join(REPO, "images", "checkpoint-agent", "src", "main.ts");
/** What `--import tsx` resolves to (tsx's package.json "exports"), as a URL. */
const TSX_LOADER = pathToFileURL(join(REPO, "node_modules", "tsx", "dist", "loader.mjs")).href;
/** Where the trainer image keeps its scripts (images/trainer/Dockerfile). */
const IMAGE_SCRIPTS = "/opt/yunshi/";

export interface ContainerRun {
  readonly name: string;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RehearsalOptions {
  /** Folder under which each volume gets a folder of its own. */
  readonly root: string;
  readonly python: string;
  /** Added to every container's environment (credentials the pod would get from Pod Identity). */
  readonly env: Readonly<Record<string, string>>;
}

function hostArgv(c: IContainer, python: string): string[] {
  const [exe, ...rest] = c.command ?? [];
  if (exe === AgentCommand.executable)
    // tsx as `--import tsx` finds it from the repository, whatever the working directory.
    return [process.execPath, "--import", TSX_LOADER, AGENT_MAIN, ...rest];
  if (exe === "python3" && rest[0]?.startsWith(IMAGE_SCRIPTS) === true)
    return [
      python,
      join(REPO, "images", "trainer", rest[0].slice(IMAGE_SCRIPTS.length)),
      ...rest.slice(1),
    ];
  throw new Error(`container ${c.name}: no host program for ${JSON.stringify(c.command)}`);
}

function runOne(argv: string[], env: Record<string, string>, cwd: string): Promise<ContainerRun> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error("empty argv");
    const child = spawn(file, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ name: "", code, stdout, stderr }));
  });
}

/** Runs the Job's pod once; returns each container that ran, in order. */
export async function rehearsePod(job: IJob, o: RehearsalOptions): Promise<ContainerRun[]> {
  const pod = job.spec?.template.spec;
  if (pod === undefined) throw new Error("the Job has no pod template");
  const volumes = new Map<string, string>();
  for (const v of pod.volumes ?? []) {
    if (v.emptyDir === undefined) throw new Error(`volume ${v.name}: only emptyDir is rehearsed`);
    const dir = join(o.root, "volumes", v.name);
    await mkdir(dir, { recursive: true });
    volumes.set(v.name, dir);
  }
  const runs: ContainerRun[] = [];
  const run = async (c: IContainer): Promise<ContainerRun> => {
    const mounts = (c.volumeMounts ?? [])
      .map((m) => ({ path: m.mountPath, host: volumes.get(m.name) }))
      .sort((a, b) => b.path.length - a.path.length);
    const place = (value: string): string => {
      for (const m of mounts)
        if (m.host !== undefined && (value === m.path || value.startsWith(`${m.path}/`)))
          return `${m.host}${value.slice(m.path.length)}`;
      return value;
    };
    const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
    for (const e of c.env ?? [])
      if (e.value !== undefined) env[e.name] = place(expandLikeKubelet(e.value));
    Object.assign(env, o.env);
    const command = (c.command ?? []).map((x) => expandLikeKubelet(x));
    const argv = hostArgv({ ...c, command }, o.python).concat(
      (c.args ?? []).map((a) => place(expandLikeKubelet(a))),
    );
    const cwd = c.workingDir === undefined ? o.root : place(c.workingDir);
    const r = { ...(await runOne(argv, env, cwd)), name: c.name };
    runs.push(r);
    return r;
  };
  for (const c of pod.initContainers ?? []) if ((await run(c)).code !== 0) return runs;
  for (const c of pod.containers) await run(c);
  return runs;
}
