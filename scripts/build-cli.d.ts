/** Types of scripts/build-cli.js (plain JavaScript so that bin/yunshi.js runs it untranspiled). */
import type { Metafile } from "esbuild";

export declare const REPO_ROOT: string;
export declare const CLI_DIST_DIR: string;
export declare const BUNDLED_PACKAGES: readonly string[];
export declare function cliBuildStatus(
  outDir?: string,
): { fresh: true } | { fresh: false; reason: string };
export declare function buildCli(options?: { outDir?: string; clean?: boolean }): Promise<Metafile>;
