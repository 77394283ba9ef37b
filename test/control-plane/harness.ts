/**
 * Per test file: start the real control plane once (beforeAll), stop it after (afterAll), and
 * run the CLI against it as a user would, with a kubeconfig for that user. Without the built
 * binaries the tests skip with the reason; with YUNSHI_REQUIRE_CONTROL_PLANE=1 they fail instead.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe } from "vitest";
import { cli } from "../cluster/harness.ts";
import type { CliResult } from "../cluster/harness.ts";
import { availability, controlPlaneRequired } from "./binaries.ts";
import { startControlPlane } from "./control-plane.ts";
import type { ControlPlane, ControlPlaneOptions, User } from "./control-plane.ts";
import { criLine } from "./kwok-config.ts";
import type { Obj } from "./admin-client.ts";

export { BUCKET, NODES, NS, TEAM } from "./harness-config.ts";
import { BUCKET, NODES, NS, TEAM } from "./harness-config.ts";

const available = availability();
const skipReason = available.missing;

export interface Session {
  cp: ControlPlane;
  /** A scratch directory for spec files. */
  dir: string;
  /** The CLI as `user` (kubeconfig context namespace `vision` unless `namespace` says otherwise). */
  as(user: User, ...argv: string[]): Promise<CliResult>;
  /** The CLI as alice, the team member. */
  yunshi(...argv: string[]): Promise<CliResult>;
  /** Append lines to a container's log as kwok serves it. */
  log(container: "trainer" | "snapshot" | "prepare", ...lines: string[]): void;
  pods(experiment: string): Promise<Obj[]>;
  waitFor<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs?: number): Promise<T>;
}

/**
 * `describe` on the real control plane: skipped with the reason when the binaries are absent,
 * failing when YUNSHI_REQUIRE_CONTROL_PLANE=1.
 */
export function describeOnControlPlane(
  title: string,
  body: (s: () => Session) => void,
  opts: Partial<Pick<ControlPlaneOptions, "kueueConfig" | "s3Endpoint">> = {},
): void {
  const skip = skipReason !== undefined && !controlPlaneRequired();
  const name = skip ? `${title} [skipped: ${skipReason}]` : title;
  describe.skipIf(skip)(name, () => {
    let session: Session | undefined;
    beforeAll(async () => {
      if (skipReason) throw new Error(`YUNSHI_REQUIRE_CONTROL_PLANE=1 but ${skipReason}`);
      const cp = await startControlPlane({
        binDir: join(available.dir, "bin"),
        assetsDir: join(available.dir, "assets"),
        teams: [TEAM],
        nodes: NODES,
        bucket: BUCKET,
        keep: process.env.YUNSHI_KEEP_CONTROL_PLANE === "1",
        ...opts,
      });
      console.log(
        `control plane up in ${cp.timings.total} ms (${Object.entries(cp.timings)
          .filter(([k]) => k !== "total")
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}); logs in ${cp.dir}`,
      );
      // Hermetic: no AWS credentials of this machine (status would read S3 with them).
      for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"])
        delete process.env[k];
      const dir = mkdtempSync(join(tmpdir(), "yunshi-cp-specs-"));
      process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, "no-aws-credentials");
      process.env.AWS_CONFIG_FILE = join(dir, "no-aws-config");
      process.env.YUNSHI_POLL_MS = "200";
      const as = async (user: User, ...argv: string[]) => {
        process.env.KUBECONFIG = cp.kubeconfig(user, NS);
        return cli(...argv);
      };
      session = {
        cp,
        dir,
        as,
        yunshi: (...argv) => as("alice", ...argv),
        log: (container, ...lines) => {
          const file = cp.logFiles[container];
          if (file) for (const l of lines) appendFileSync(file, criLine(l));
        },
        pods: (experiment) => cp.admin.list("v1", "Pod", NS, `yunshi.dev/experiment=${experiment}`),
        waitFor: async (what, f, timeoutMs = 30_000) => {
          const end = Date.now() + timeoutMs;
          for (;;) {
            const v = await f();
            if (v !== undefined && v !== false) return v;
            if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
            await new Promise((r) => setTimeout(r, 200));
          }
        },
      };
    }, 180_000);
    afterAll(async () => {
      if (!session) return;
      await session.cp.stop();
      rmSync(session.dir, { recursive: true, force: true });
    }, 60_000);
    body(() => {
      if (!session) throw new Error("the control plane did not start");
      return session;
    });
  });
}
