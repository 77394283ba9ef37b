/** Types of scripts/build-cli.js (plain JavaScript so that bin/yunshi.js runs it untranspiled). */
import type { Metafile } from "esbuild";

export declare const REPO_ROOT: string;
export declare const CLI_DIST_DIR: string;
export declare const BUNDLED_PACKAGES: readonly string[];
/** Whether outDir's bundle matches the sources; `bundle` is its path when it does. */
export declare function cliBuildStatus(
  outDir?: string,
): { fresh: true; bundle: string } | { fresh: false; reason: string };
export declare function buildCli(options?: {
  outDir?: string;
  clean?: boolean;
  entry?: string;
}): Promise<Metafile>;
