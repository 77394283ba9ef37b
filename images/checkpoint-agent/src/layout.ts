/**
 * Object layout under the experiment's URI (documented in docs/checkpoint-agent.md):
 *   <prefix>checkpoints/<file>        committed (or in-flight) checkpoint objects
 *   <prefix>checkpoints/LATEST.json   the manifest: the commit point
 *   <prefix>logs/<path in work dir>   logs, TensorBoard events, goodput.json
 */
export const CHECKPOINTS_DIR = "checkpoints/";
export const MANIFEST_KEY = "checkpoints/LATEST.json";
export const LOGS_DIR = "logs/";

export const checkpointKey = (file: string): string => `${CHECKPOINTS_DIR}${file}`;
export const logKey = (relPath: string): string => `${LOGS_DIR}${relPath.split("\\").join("/")}`;
