/**
 * The GitHub Actions workflows and the pipeline script of examples/gitops/, checked by the
 * tools a CI reviewer would use: actionlint (workflow schema, expressions, and shellcheck on
 * every `run:` script) and shellcheck on ci/pipeline.sh. Plus the security properties that
 * make validating a fork's spec safe, read from the parsed workflows.
 * .ci/setup-gitops.sh installs both tools; without them these tests skip here, and fail in
 * CI (YUNSHI_REQUIRE_TOOLS=1).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";

const GITOPS = "examples/gitops";
const WORKFLOWS = ["yunshi-pr.yaml", "yunshi-pr-comment.yaml", "yunshi-render.yaml"].map(
  (f) => `.github/workflows/${f}`,
);
const ACTIONLINT = join(
  process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"),
  "yunshi/tools/actionlint-v1.7.12/actionlint",
);
const haveShellcheck = spawnSync("shellcheck", ["--version"]).status === 0;
const required = process.env["YUNSHI_REQUIRE_TOOLS"] === "1";

describe.skipIf(!required && !(existsSync(ACTIONLINT) && haveShellcheck))(
  "lint (actionlint, shellcheck)",
  () => {
    it("actionlint finds nothing in the workflows, shellcheck included", () => {
      expect(haveShellcheck).toBe(true);
      const r = spawnSync(ACTIONLINT, ["-no-color", ...WORKFLOWS], {
        cwd: GITOPS,
        encoding: "utf8",
      });
      expect(r.stdout + r.stderr).toBe("");
      expect(r.status).toBe(0);
    });

    it("actionlint would catch a broken workflow (so the check above can fail)", () => {
      const r = spawnSync(ACTIONLINT, ["-no-color", "-"], {
        input:
          "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.event.pull_request.title }\n",
        encoding: "utf8",
      });
      expect(r.status).not.toBe(0);
    });

    it("shellcheck finds nothing in ci/pipeline.sh", () => {
      const r = spawnSync("shellcheck", ["ci/pipeline.sh"], { cwd: GITOPS, encoding: "utf8" });
      expect(r.stdout + r.stderr).toBe("");
      expect(r.status).toBe(0);
    });
  },
);

interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<
    string,
    { steps: { uses?: string; run?: string; with?: Record<string, unknown> }[] }
  >;
}
const load = async (f: string) => parse(await readFile(join(GITOPS, f), "utf8")) as Workflow;

describe("what makes a fork's pull request safe", () => {
  it("the plan runs on pull_request (never pull_request_target) with a read-only token and no secrets", async () => {
    const text = await readFile(join(GITOPS, WORKFLOWS[0]!), "utf8");
    const wf = await load(WORKFLOWS[0]!);
    expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    expect(wf.permissions).toEqual({ contents: "read" });
    expect(text).not.toContain("secrets.");
    const checkout = wf.jobs["plan"]!.steps.find((s) => s.uses?.startsWith("actions/checkout"));
    expect(checkout?.with?.["persist-credentials"]).toBe(false);
  });

  it("the comment workflow checks out and runs nothing from the pull request", async () => {
    const wf = await load(WORKFLOWS[1]!);
    expect(Object.keys(wf.on)).toEqual(["workflow_run"]);
    const steps = Object.values(wf.jobs).flatMap((j) => j.steps);
    expect(steps.some((s) => s.uses?.startsWith("actions/checkout"))).toBe(false);
    expect(steps.some((s) => (s.run ?? "").includes("pipeline.sh"))).toBe(false);
    // Expressions from the event are never pasted into a script: only through env.
    for (const s of steps) expect(s.run ?? "").not.toMatch(/\$\{\{/);
  });

  it("no workflow pastes an expression into a run script (script injection)", async () => {
    for (const f of WORKFLOWS) {
      const wf = await load(f);
      for (const s of Object.values(wf.jobs).flatMap((j) => j.steps))
        expect(s.run ?? "", `${f}: ${s.run ?? ""}`).not.toMatch(/\$\{\{/);
    }
  });
});
