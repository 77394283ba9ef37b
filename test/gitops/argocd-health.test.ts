/**
 * The Argo CD health check for JobSets (examples/gitops/argocd/health-jobset.lua), run in a
 * real Lua VM (wasmoon, Lua 5.4; Argo CD runs gopher-lua 5.1, and the script uses only what
 * both share) on JobSet states as JobSet v0.12 and Kueue write them.
 */
import { readFile } from "node:fs/promises";
import { LuaFactory } from "wasmoon";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";

const LUA = "examples/gitops/argocd/health-jobset.lua";

async function health(obj: unknown): Promise<{ status: string; message: string }> {
  const lua = await new LuaFactory().createEngine();
  try {
    lua.global.set("obj", obj);
    return (await lua.doString(await readFile(LUA, "utf8"))) as { status: string; message: string };
  } finally {
    lua.global.close();
  }
}

const cond = (type: string, status = "True", extra: Record<string, string> = {}) => ({
  type,
  status,
  reason: extra["reason"] ?? type,
  ...extra,
});

describe("Argo CD health of a JobSet", () => {
  it("is Suspended while Kueue holds it (spec.suspend, no status yet)", async () => {
    expect(await health({ spec: { suspend: true } })).toMatchObject({ status: "Suspended" });
  });

  it("is Suspended with JobSet's Suspended condition, Progressing once admitted", async () => {
    const base = { spec: { suspend: false } };
    expect(await health({ ...base, status: { conditions: [cond("Suspended")] } })).toMatchObject({
      status: "Suspended",
    });
    expect(
      await health({
        ...base,
        status: { conditions: [cond("Suspended", "False"), cond("StartupPolicyCompleted")] },
      }),
    ).toEqual({ status: "Progressing", message: "running" });
  });

  it("counts restarts in the message while it runs", async () => {
    expect(
      await health({ spec: {}, status: { restarts: 2, conditions: [cond("Suspended", "False")] } }),
    ).toEqual({ status: "Progressing", message: "running (restarted 2 times)" });
  });

  it("is Healthy when Completed and Degraded with JobSet's message when Failed", async () => {
    expect(
      await health({
        spec: {},
        status: {
          conditions: [cond("Completed", "True", { message: "jobset completed successfully" })],
        },
      }),
    ).toEqual({ status: "Healthy", message: "jobset completed successfully" });
    const failed = await health({
      spec: {},
      status: {
        conditions: [
          cond("Suspended", "False"),
          cond("Failed", "True", {
            reason: "FailedJobs",
            message: "jobset failed due to reaching max number of restarts",
          }),
        ],
      },
    });
    expect(failed).toEqual({
      status: "Degraded",
      message: "jobset failed due to reaching max number of restarts",
    });
  });

  it("is Progressing before the controller writes any status", async () => {
    expect(await health({ spec: {} })).toMatchObject({ status: "Progressing" });
  });

  it("is what the argocd-cm patch installs, byte for byte", async () => {
    const cm = parse(await readFile("examples/gitops/argocd/argocd-cm-patch.yaml", "utf8")) as {
      data: Record<string, string>;
    };
    expect(cm.data["resource.customizations.health.jobset.x-k8s.io_JobSet"]).toBe(
      await readFile(LUA, "utf8"),
    );
  });
});
