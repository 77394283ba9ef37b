/**
 * Where the control plane's binaries are (tools/control-plane/build.sh builds them into a
 * cache outside the repository, keyed by the pinned versions), and whether tests can use them.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const REPO = join(import.meta.dirname, "..", "..");
export const BUILD_SCRIPT = join(REPO, "tools", "control-plane", "build.sh");

/** Every process the test cluster runs. */
export const BINARIES = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kwok",
  "jobset",
  "kueue",
] as const;
export type Binary = (typeof BINARIES)[number];

/** The cache directory of the pinned versions (build.sh --print-dir computes it, builds nothing). */
export function controlPlaneDir(): string {
  return execFileSync("bash", [BUILD_SCRIPT, "--print-dir"], { encoding: "utf8" }).trim();
}

export interface Availability {
  dir: string;
  /** Why the control plane cannot start here, when it cannot. */
  missing?: string;
}

export function availability(): Availability {
  const dir = controlPlaneDir();
  const absent = BINARIES.filter((b) => !existsSync(join(dir, "bin", b)));
  if (!existsSync(join(dir, "assets", ".complete"))) absent.push("assets" as Binary);
  return absent.length === 0
    ? { dir }
    : {
        dir,
        missing: `the real control plane is not built (${absent.join(", ")} missing in ${dir}); run tools/control-plane/build.sh (needs Go ≥ 1.26, about 30 min the first time)`,
      };
}

/** Tests on the real control plane skip without it, unless CI says it must be there. */
export const controlPlaneRequired = (): boolean => process.env.YUNSHI_REQUIRE_CONTROL_PLANE === "1";
