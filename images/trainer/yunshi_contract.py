"""The pod contract as the trainer image sees it (mirror of jobs/pod-contract.ts).

Standard library only: the launcher imports it before any training package is loaded.
test/pod-contract.test.ts compares these values with the TypeScript contract through
`yunshi-launch --print-contract`, so the renderer and the launcher cannot drift apart.
"""

from __future__ import annotations

# Environment variables the launcher reads (LauncherEnv in pod-contract.ts).
ENV_EXPERIMENT = "YUNSHI_EXPERIMENT"
ENV_CONFIG = "YUNSHI_CONFIG"
ENV_WORK_DIR = "YUNSHI_WORK_DIR"
ENV_NNODES = "YUNSHI_NNODES"
ENV_NPROC_PER_NODE = "YUNSHI_NPROC_PER_NODE"
ENV_NODE_RANK = "YUNSHI_NODE_RANK"
ENV_MASTER_ADDR = "YUNSHI_MASTER_ADDR"
ENV_MASTER_PORT = "YUNSHI_MASTER_PORT"
ENV_GRACE_SECONDS = "YUNSHI_GRACE_SECONDS"
# Not set in pods: replaces the kubelet's /dev/termination-log (local runs and tests).
ENV_TERMINATION_LOG = "YUNSHI_TERMINATION_LOG"
ENV_PREPARE_VERDICT = "YUNSHI_PREPARE_VERDICT"

LAUNCHER_ENV = {
    "experiment": ENV_EXPERIMENT,
    "config": ENV_CONFIG,
    "workDir": ENV_WORK_DIR,
    "nnodes": ENV_NNODES,
    "nprocPerNode": ENV_NPROC_PER_NODE,
    "nodeRank": ENV_NODE_RANK,
    "masterAddr": ENV_MASTER_ADDR,
    "masterPort": ENV_MASTER_PORT,
    "graceSeconds": ENV_GRACE_SECONDS,
    "prepareVerdict": ENV_PREPARE_VERDICT,
    "terminationLog": ENV_TERMINATION_LOG,
}

# Exit codes (LauncherExit); 3, 4, 5 and 6 make the podFailurePolicy fail the Job at once.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG_ERROR = 3
EXIT_DATASET_ERROR = 4
EXIT_CUDA_OOM = 5
EXIT_CHECKPOINT_ERROR = 6

LAUNCHER_EXIT = {
    "ok": EXIT_OK,
    "failed": EXIT_FAILED,
    "configError": EXIT_CONFIG_ERROR,
    "datasetError": EXIT_DATASET_ERROR,
    "cudaOutOfMemory": EXIT_CUDA_OOM,
    "checkpointError": EXIT_CHECKPOINT_ERROR,
}
DO_NOT_RETRY_EXIT_CODES = [EXIT_CONFIG_ERROR, EXIT_DATASET_ERROR, EXIT_CUDA_OOM, EXIT_CHECKPOINT_ERROR]

# Fixed paths inside the pod (PodPaths); used as defaults when a variable is unset.
WORK_DIR = "/yunshi/work"
CONFIG_FILE = "/yunshi/config/config.py"
DATA_DIR = "/yunshi/data"
STATUS_DIR = "/yunshi/status"
PREPARE_VERDICT = "/yunshi/status/prepared.json"
PRETRAINED_DIR = "/yunshi/pretrained"

# torchrun rendezvous port on the index-0 pod (masterPort).
MASTER_PORT = 29500

# Top-level key of the generated config with list-indexing overrides (INDEX_OVERRIDES_KEY).
INDEX_OVERRIDES_KEY = "yunshi_index_overrides"

# The image's entrypoint name (LauncherCommand).
LAUNCHER_COMMAND = ["yunshi-launch"]

# Not in the TypeScript contract: where MMEngine and the launcher leave their records.
LAST_CHECKPOINT_FILE = "last_checkpoint"
GOODPUT_FILE = "goodput.json"

# Seconds between SIGTERM and SIGKILL when YUNSHI_GRACE_SECONDS is unset: below the
# 2-minute spot notice, leaving the snapshot sidecar time to upload what was saved.
DEFAULT_GRACE_SECONDS = 90

# Marker lines the train entry prints on fatal errors; the launcher maps them to exit codes
# (torchrun does not pass a worker's exit code through, so the output is the channel).
FATAL_MARKER = "yunshi-train: fatal"
PREEMPTED_MARKER = "yunshi-train: preempted"
FATAL_KINDS = {
    "config": EXIT_CONFIG_ERROR,
    "dataset": EXIT_DATASET_ERROR,
    "cuda-oom": EXIT_CUDA_OOM,
    "checkpoint": EXIT_CHECKPOINT_ERROR,
}

# A failed prepare step → the exit code (jobs/pod-contract.ts PrepareFailureExit): the agent's
# input errors (exit 2) cannot be fixed by a retry; its other failures can (exit 1).
AGENT_INPUT_ERROR = 2
PREPARE_FAILURE_KIND = {"fetch-dataset": "dataset", "fetch-pretrained": "config", "restore": "checkpoint"}
PREPARE_FAILURE_EXIT = {step: FATAL_KINDS[kind] for step, kind in PREPARE_FAILURE_KIND.items()}


def as_json() -> dict:
    """What `yunshi-launch --print-contract` prints."""
    return {
        "env": LAUNCHER_ENV,
        "exit": LAUNCHER_EXIT,
        "doNotRetry": DO_NOT_RETRY_EXIT_CODES,
        "paths": {
            "workDir": WORK_DIR,
            "configFile": CONFIG_FILE,
            "dataDir": DATA_DIR,
            "pretrainedDir": PRETRAINED_DIR,
            "statusDir": STATUS_DIR,
            "prepareVerdict": PREPARE_VERDICT,
        },
        "masterPort": MASTER_PORT,
        "indexOverridesKey": INDEX_OVERRIDES_KEY,
        "prepareFailureExit": PREPARE_FAILURE_EXIT,
        "command": LAUNCHER_COMMAND,
    }
