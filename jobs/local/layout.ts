/**
 * Where a local run keeps its files. Everything sits under one state directory (default
 * `.yunshi/` in the current directory): the embedded object store's data and one folder per
 * experiment. The work dir is absolute and fixed per experiment, because MMEngine's
 * `last_checkpoint` holds absolute paths and restore must put files back at the same place.
 */
import { join, resolve } from "node:path";

export interface LocalLayout {
  /** The state directory, absolute. */
  readonly stateDir: string;
  /** Embedded S3 data (s3rver's file store); kept between runs. */
  readonly s3Dir: string;
  /** `.yunshi/runs/<name>/`. */
  readonly runDir: string;
  /** MMEngine work_dir (the pod's PodPaths.workDir). */
  readonly workDir: string;
  /** The generated MMDetection config (the pod's PodPaths.configFile). */
  readonly configFile: string;
  /** Where an s3:// dataset is fetched to (the pod's PodPaths.dataDir). */
  readonly dataDir: string;
  /** Where s3:// pretrained weights are fetched to (PodPaths.pretrainedDir). */
  readonly pretrainedDir: string;
  /** The prepare verdict's folder (PodPaths.statusDir); emptied at every start, as the
   * pod's emptyDir is new in every pod. */
  readonly statusDir: string;
  /** One log file per process of the plan. */
  readonly logsDir: string;
  /** Who runs this experiment now (pids), for stale-process cleanup after a kill -9. */
  readonly runStateFile: string;
}

export function localLayout(stateDir: string, experiment: string): LocalLayout {
  const state = resolve(stateDir);
  const runDir = join(state, "runs", experiment);
  return {
    stateDir: state,
    s3Dir: join(state, "s3"),
    runDir,
    workDir: join(runDir, "work"),
    configFile: join(runDir, "config.py"),
    dataDir: join(runDir, "data"),
    pretrainedDir: join(runDir, "pretrained"),
    statusDir: join(runDir, "status"),
    logsDir: join(runDir, "logs"),
    runStateFile: join(runDir, "run.json"),
  };
}
