/**
 * examples/gitops/ci/pipeline.sh end to end in a throwaway git repository: the pull-request
 * plan (new run, changed run, removed spec, with the rendered diff), the merge render
 * (byte-stable), and hostile input from a fork (file names, specs) refused with exit 2.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = resolve(".");
const PIPELINE = join(REPO, "examples/gitops/ci/pipeline.sh");
const env = {
  ...process.env,
  YUNSHI: `${process.execPath} ${join(REPO, "bin/yunshi.js")}`,
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@example.com",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@example.com",
};

const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
let dir = "";
const git = (...args: string[]) =>
  execFileSync("git", args, { cwd: dir, env, encoding: "utf8" }).trim();
const pipeline = (...args: string[]) =>
  spawnSync("bash", [PIPELINE, ...args], { cwd: dir, env, encoding: "utf8" });

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "yunshi-gitops-"));
  git("init", "-q", "-b", "main");
  await mkdir(join(dir, "experiments/vision"), { recursive: true });
  await cp(
    join(REPO, "examples/gitops/experiments/vision/cn-traffic-frcnn.yaml"),
    join(dir, "experiments/vision/cn-traffic-frcnn.yaml"),
  );
  const base = await readFile(join(dir, "experiments/vision/cn-traffic-frcnn.yaml"), "utf8");
  await writeFile(
    join(dir, "experiments/vision/old-run.yaml"),
    base.replace("name: cn-traffic-frcnn", "name: old-run"),
  );
  // The namespace's platform ConfigMap, as `kubectl get configmap yunshi-platform -o yaml` gives it.
  await mkdir(join(dir, "platform"), { recursive: true });
  await writeFile(
    join(dir, "platform/vision.yaml"),
    [
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata: { name: yunshi-platform, namespace: vision }",
      "data:",
      "  bucket: acme-training",
      "  region: us-east-1",
      `  trainerImage: ${ECR}/yunshi/trainer:0.2.0`,
      `  checkpointAgentImage: ${ECR}/yunshi/checkpoint-agent:0.2.0`,
      "  queue: vision",
      "  serviceAccount: yunshi-training",
      "",
    ].join("\n"),
  );
  git("add", "-A");
  git("commit", "-qm", "base");
}, 60_000);
afterAll(async () => {
  if (dir !== "") await rm(dir, { recursive: true, force: true });
});

describe("the GitOps pipeline script", () => {
  it("renders every spec into rendered/<namespace>/<name>/, byte-identical on re-render", async () => {
    const first = pipeline("render", "out1");
    expect(first.stderr).toContain("rendered 2 experiment(s)");
    expect(first.status).toBe(0);
    const second = pipeline("render", "out2");
    expect(second.status).toBe(0);
    const files = await listFiles(join(dir, "out1"));
    expect(files).toContain("kustomization.yaml");
    expect(files).toContain("vision/cn-traffic-frcnn/kustomization.yaml");
    expect(files.some((f) => f.startsWith("vision/cn-traffic-frcnn/") && f.includes("job"))).toBe(
      true,
    );
    expect(await listFiles(join(dir, "out2"))).toEqual(files);
    for (const f of files)
      expect(await readFile(join(dir, "out2", f), "utf8")).toBe(
        await readFile(join(dir, "out1", f), "utf8"),
      );
    const root = await readFile(join(dir, "out1/kustomization.yaml"), "utf8");
    expect(root).toContain("  - vision/cn-traffic-frcnn\n  - vision/old-run\n");
    // GitOps keeps finished runs: a controller would recreate an expired one and train again.
    const all = await Promise.all(files.map((f) => readFile(join(dir, "out1", f), "utf8")));
    expect(all.join("\n")).not.toContain("ttlSecondsAfterFinished");
    // The platform file's settings, not the defaults.
    expect(all.join("\n")).toContain(`image: ${ECR}/yunshi/trainer:0.2.0`);
    expect(all.join("\n")).toContain("s3://acme-training/vision/cn-traffic-frcnn/");
  }, 120_000);

  it("plans a pull request: a new run, a changed run and a removed spec, with the diff", async () => {
    const base = git("rev-parse", "HEAD");
    git("checkout", "-q", "-b", "pr");
    const spec = join(dir, "experiments/vision/cn-traffic-frcnn.yaml");
    await writeFile(spec, (await readFile(spec, "utf8")).replace("epochs: 12", "epochs: 24"));
    await writeFile(
      join(dir, "experiments/vision/cn-traffic-small.yaml"),
      (await readFile(spec, "utf8")).replace("name: cn-traffic-frcnn", "name: cn-traffic-small"),
    );
    git("rm", "-q", "experiments/vision/old-run.yaml");
    git("add", "-A");
    git("commit", "-qm", "pr");
    const r = pipeline("pr", base, "plan");
    expect(r.stderr).toContain("wrote plan/plan.md");
    expect(r.status).toBe(0);
    const plan = await readFile(join(dir, "plan/plan.md"), "utf8");
    expect(plan).toContain("**vision/cn-traffic-small**: new run.");
    expect(plan).toMatch(
      /\*\*vision\/cn-traffic-frcnn\*\*: changed\. A running experiment cannot change/,
    );
    expect(plan).toContain("**vision/old-run**: spec removed.");
    expect(plan).toContain("```diff");
    expect(plan).toMatch(/^-.*max_epochs=12,/m);
    expect(plan).toMatch(/^\+.*max_epochs=24,/m);
    expect(plan).not.toContain("base-specs");
    git("checkout", "-q", "main");
  }, 120_000);

  it("refuses a file name from a fork that is not experiments/<ns>/<name>.yaml, running nothing", async () => {
    git("checkout", "-q", "-b", "hostile", "main");
    const evil = "experiments/vision/$(touch pwned).yaml";
    await writeFile(join(dir, evil), "version: 1\n");
    git("add", "-A");
    git("commit", "-qm", "evil");
    const r = pipeline("pr", "main", "plan-evil");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("specs live at experiments/<namespace>/<name>.yaml");
    expect((await readdir(dir)).includes("pwned")).toBe(false);
    git("checkout", "-q", "main");
  }, 60_000);

  it("fails the plan with yunshi's exit 2 and message when a changed spec is invalid", async () => {
    git("checkout", "-q", "-b", "invalid", "main");
    const spec = join(dir, "experiments/vision/cn-traffic-frcnn.yaml");
    await writeFile(spec, (await readFile(spec, "utf8")).replace("epochs: 12", "epochs: -3"));
    git("add", "-A");
    git("commit", "-qm", "invalid");
    const r = pipeline("pr", "main", "plan-invalid");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("epochs");
    git("checkout", "-q", "main");
  }, 60_000);
});
