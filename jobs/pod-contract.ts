/**
 * The contract between the pods the renderer builds and the programs that run in them:
 * the trainer launcher (images/trainer, Python) and the checkpoint agent
 * (images/checkpoint-agent, TypeScript). One place, so that the renderer, the launcher and
 * the agent stay in step; test/pod-contract.test.ts checks the launcher against it.
 */

/** Fixed paths inside every training pod. `last_checkpoint` holds absolute paths, so the
 * work dir must be the same on every restart and every node. */
export const PodPaths = {
  /** MMEngine work_dir: checkpoints, `last_checkpoint`, logs, TensorBoard events. */
  workDir: "/yunshi/work",
  /** The generated MMDetection config, mounted from the experiment's ConfigMap. */
  configDir: "/yunshi/config",
  configFile: "/yunshi/config/config.py",
  /** Dataset files fetched from `dataset.uri` by the fetch init container. */
  dataDir: "/yunshi/data",
  /** Pretrained weights fetched from an s3:// `model.pretrained`. */
  pretrainedDir: "/yunshi/pretrained",
  /** Memory-backed, for dataloader worker shared memory. */
  shm: "/dev/shm",
  /** Small emptyDir shared by the prepare sidecar (writes) and the trainer (reads). */
  statusDir: "/yunshi/status",
  /** The prepare sidecar's verdict (PrepareVerdict as JSON), written once, atomically. */
  prepareVerdict: "/yunshi/status/prepared.json",
} as const;

/**
 * What the prepare sidecar writes when fetch(es) and restore are over. The trainer starts
 * beside it (Python imports and model build overlap the downloads, and the pod is Ready for
 * Kueue's waitForPodsReady while data still arrives) and waits for this file right before
 * training: `ok` → resume from `last_checkpoint` if restore wrote one; otherwise it exits
 * with the code PrepareFailureExit gives the failed step.
 */
export type PrepareVerdict =
  | { readonly ok: true; readonly seconds: number }
  | {
      readonly ok: false;
      readonly step: PrepareStep;
      /** The agent's own code for the failure (AgentExit). */
      readonly exitCode: number;
      readonly error: string;
    };
export type PrepareStep = "fetch-dataset" | "fetch-pretrained" | "restore";

/** Environment variables the launcher reads (all set by the renderer). */
export const LauncherEnv = {
  experiment: "YUNSHI_EXPERIMENT",
  config: "YUNSHI_CONFIG",
  workDir: "YUNSHI_WORK_DIR",
  nnodes: "YUNSHI_NNODES",
  nprocPerNode: "YUNSHI_NPROC_PER_NODE",
  /** From the Indexed Job's completion index (downward API). */
  nodeRank: "YUNSHI_NODE_RANK",
  masterAddr: "YUNSHI_MASTER_ADDR",
  masterPort: "YUNSHI_MASTER_PORT",
  /** Seconds the launcher may spend saving a checkpoint after SIGTERM. */
  graceSeconds: "YUNSHI_GRACE_SECONDS",
  /** Where the prepare sidecar's verdict appears; the train entry waits for it. */
  prepareVerdict: "YUNSHI_PREPARE_VERDICT",
  /** Not set in pods: where the launcher and the agent write why they failed, in place of
   * the kubelet's /dev/termination-log (local runs and tests). */
  terminationLog: "YUNSHI_TERMINATION_LOG",
} as const;

/** Exit codes of the launcher. Codes in `doNotRetry` fail the Job at once through the
 * podFailurePolicy: retrying cannot fix them (Determined-style log matching for OOM). */
export const LauncherExit = {
  ok: 0,
  /** Training failed for a reason a retry may fix (NCCL timeout, node loss, ...). */
  failed: 1,
  /** The MMDetection config does not load or build. */
  configError: 3,
  /** The dataset (annotations or images) is missing or unreadable. */
  datasetError: 4,
  /** CUDA out of memory: lower train.batchPerGpu or use a bigger GPU. */
  cudaOutOfMemory: 5,
  /** `last_checkpoint` names a missing file, a symlink or a path outside the work dir, or
   * is not UTF-8: restore guarantees a regular file inside, so something is broken. */
  checkpointError: 6,
} as const;
/**
 * The trainer's exit code for a failed prepare step: input errors (agent exit 2: a bad
 * dataset URI, a corrupt manifest) cannot be fixed by a retry, so they map to the
 * do-not-retry codes of what is broken; anything else (network, S3) stays retryable.
 */
export const PrepareFailureExit: Readonly<Record<PrepareStep, number>> = {
  "fetch-dataset": LauncherExit.datasetError,
  "fetch-pretrained": LauncherExit.configError,
  restore: LauncherExit.checkpointError,
};
export const doNotRetryExitCodes = [
  LauncherExit.configError,
  LauncherExit.datasetError,
  LauncherExit.cudaOutOfMemory,
  LauncherExit.checkpointError,
] as const;

/** Exit codes of the checkpoint agent: 2 = invalid input (bad URI, unreadable dir, a corrupt
 * manifest, an object that cannot be placed under --dest), which a retry cannot fix;
 * 1 = anything else (network, S3 errors), which it may. The agent also writes the reason
 * into the container's termination message (status.…terminated.message). */
export const AgentExit = { ok: 0, failed: 1, invalidInput: 2 } as const;

/** The checkpoint agent's executable in its image and its commands' argv. Containers get
 * argv arrays only: no user string ever reaches a shell. */
export const AgentCommand = {
  executable: "yunshi-checkpoint-agent",
  restore: (workDir: string, uri: string): string[] => [
    "restore",
    "--work-dir",
    workDir,
    "--uri",
    uri,
  ],
  snapshot: (workDir: string, uri: string, keep: number, best?: string): string[] => [
    "snapshot",
    "--work-dir",
    workDir,
    "--uri",
    uri,
    "--keep",
    String(keep),
    ...(best === undefined ? [] : ["--best", best]),
  ],
  /** Download every object under an S3 prefix (or one object) into a local directory. */
  fetch: (uri: string, dest: string): string[] => ["fetch", "--uri", uri, "--dest", dest],
  /** The prepare sidecar: fetch the dataset (and pretrained weights) and restore, all at
   * once, write the verdict, then idle until the pod stops (a native sidecar that exits is
   * restarted). */
  prepare: (p: {
    dataset: { uri: string; dest: string };
    pretrained?: { uri: string; dest: string };
    restore: { uri: string; workDir: string };
    verdict: string;
  }): string[] => [
    "prepare",
    "--dataset-uri",
    p.dataset.uri,
    "--dataset-dir",
    p.dataset.dest,
    ...(p.pretrained === undefined
      ? []
      : ["--pretrained-uri", p.pretrained.uri, "--pretrained-dir", p.pretrained.dest]),
    "--uri",
    p.restore.uri,
    "--work-dir",
    p.restore.workDir,
    "--verdict",
    p.verdict,
  ],
} as const;

/** The trainer image's entrypoint: reads everything from LauncherEnv. */
export const LauncherCommand = ["yunshi-launch"] as const;

/** Container names; the podFailurePolicy refers to them. */
export const ContainerNames = {
  trainer: "trainer",
  /** Fetches the dataset (and pretrained weights) and restores the checkpoint. */
  prepare: "prepare",
  snapshot: "snapshot",
} as const;

/** torchrun rendezvous port on the index-0 pod. */
export const masterPort = 29500;

/**
 * Top-level key of the generated config holding overrides that index into lists
 * (e.g. `model.roi_head.bbox_head.0.num_classes` for Cascade R-CNN's three heads, or a
 * user's `cfgOptions` key with a list index). A `_base_` merge replaces lists wholesale, so
 * these cannot be written as nested dicts: the launcher's train entry pops this dict from
 * the loaded config and applies it with `cfg.merge_from_dict(d, allow_list_keys=True)`,
 * exactly as `tools/train.py --cfg-options` would, before building the Runner.
 */
export const INDEX_OVERRIDES_KEY = "yunshi_index_overrides";
