/**
 * The dataset check for a spec whose dataset.uri is a local folder (submit --local, and
 * validate when the folder exists): the same checks as `yunshi dataset check --spec`, so a
 * broken dataset stops before any process starts, with every problem located.
 */
import { stat } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import type { Experiment } from "../spec/experiment.ts";
import { checkDataset, type CheckReport } from "./check.ts";
import { layoutFromSpec } from "./layout.ts";

/** The folder a local dataset.uri names (relative to the spec's folder); undefined for s3://. */
export function localDatasetDir(uri: string, specFile: string): string | undefined {
  if (uri.startsWith("s3://")) return undefined;
  return isAbsolute(uri) ? uri : resolve(dirname(resolve(specFile)), uri);
}

/** Checks the spec's local dataset if there is one; DatasetError (exit 2) when it is broken. */
export async function checkLocalDataset(
  exp: Experiment,
  specFile: string,
): Promise<CheckReport | undefined> {
  const dir = localDatasetDir(exp.dataset.uri, specFile);
  if (dir === undefined) return undefined;
  const st = await stat(dir).catch(() => undefined);
  if (st?.isDirectory() !== true) return undefined;
  return checkDataset({ dir, layout: layoutFromSpec(exp, specFile), classes: exp.dataset.classes });
}
