#!/usr/bin/env python3
"""yunshi-launch: the trainer container's entrypoint.

Turns the pod's environment (yunshi_contract.LAUNCHER_ENV, set by the Job renderer) into one
MMDetection training run: resume only from a regular file inside the work dir that
`last_checkpoint` names (anything else named there fails with exit 6),
torchrun for more than one process, checkpoint-then-stop on SIGTERM within the grace
period, exit codes the podFailurePolicy understands, and goodput.json.

Standard library only: it must start (and report configuration errors) even when the
training stack is broken. Child processes get argv lists, never a shell string.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

import yunshi_contract as C  # noqa: E402
import yunshi_goodput as goodput  # noqa: E402
from yunshi_resume import CheckpointError, Restore, find_resume  # noqa: E402,F401  (re-exported)

TRAIN_ENTRY = os.path.join(os.path.dirname(os.path.realpath(__file__)), "yunshi_train.py")

# Raw messages for failures that did not go through the train entry's marker (for example
# an out-of-memory error inside a torchrun worker that died before printing one).
CUDA_OOM_PATTERN = re.compile(r"CUDA out of memory|torch\.cuda\.OutOfMemoryError")
FATAL_PATTERN = re.compile(re.escape(C.FATAL_MARKER) + r" \(([a-z-]+)\)")


class LaunchError(Exception):
    """The pod's environment is unusable: a retry would fail the same way (exit 3)."""


@dataclass(frozen=True)
class Settings:
    experiment: str
    config: str
    work_dir: str
    nnodes: int
    nproc_per_node: int
    node_rank: int
    master_addr: str
    master_port: int
    grace_seconds: float
    # Where the prepare sidecar's verdict appears ("" when restore already ran before).
    prepare_verdict: str = ""

    @property
    def world_size(self) -> int:
        return self.nnodes * self.nproc_per_node


def _int_env(env: dict[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise LaunchError(f"{name}={raw!r} is not an integer; set it to a whole number >= {minimum}")
    if value < minimum:
        raise LaunchError(f"{name}={value} is below {minimum}; set it to a whole number >= {minimum}")
    return value


def visible_gpus(env: dict[str, str]) -> int:
    """GPUs this container may use, without importing torch.

    CUDA_VISIBLE_DEVICES wins when set; otherwise the NVIDIA device nodes the device plugin
    mounted (/dev/nvidia0, /dev/nvidia1, ...)."""
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() not in ("", "-1")])
    return len([p for p in glob.glob("/dev/nvidia*") if re.fullmatch(r"/dev/nvidia\d+", p)])


def read_settings(env: dict[str, str]) -> Settings:
    nnodes = _int_env(env, C.ENV_NNODES, 1, 1)
    node_rank = _int_env(env, C.ENV_NODE_RANK, 0, 0)
    if node_rank >= nnodes:
        raise LaunchError(f"{C.ENV_NODE_RANK}={node_rank} must be below {C.ENV_NNODES}={nnodes}")
    nproc = _int_env(env, C.ENV_NPROC_PER_NODE, 0, 1)
    if nproc == 0:
        nproc = max(1, visible_gpus(env))
    grace_raw = env.get(C.ENV_GRACE_SECONDS, "").strip()
    try:
        grace = float(grace_raw) if grace_raw else float(C.DEFAULT_GRACE_SECONDS)
    except ValueError:
        raise LaunchError(f"{C.ENV_GRACE_SECONDS}={grace_raw!r} is not a number of seconds")
    if grace < 0:
        raise LaunchError(f"{C.ENV_GRACE_SECONDS}={grace_raw} must not be negative")
    master_addr = env.get(C.ENV_MASTER_ADDR, "").strip() or "127.0.0.1"
    if nnodes > 1 and not env.get(C.ENV_MASTER_ADDR, "").strip():
        raise LaunchError(f"{C.ENV_MASTER_ADDR} is required when {C.ENV_NNODES}={nnodes}")
    return Settings(
        experiment=env.get(C.ENV_EXPERIMENT, "").strip(),
        config=env.get(C.ENV_CONFIG, "").strip() or C.CONFIG_FILE,
        work_dir=os.path.abspath(env.get(C.ENV_WORK_DIR, "").strip() or C.WORK_DIR),
        nnodes=nnodes,
        nproc_per_node=nproc,
        node_rank=node_rank,
        master_addr=master_addr,
        master_port=_int_env(env, C.ENV_MASTER_PORT, C.MASTER_PORT, 1),
        grace_seconds=grace,
        prepare_verdict=env.get(C.ENV_PREPARE_VERDICT, ""),
    )


def train_argv(s: Settings, resume: str | None, python: str = sys.executable) -> list[str]:
    """The training command: one plain process, or torchrun with MMDetection's pytorch launcher."""
    entry = [TRAIN_ENTRY, s.config, "--work-dir", s.work_dir]
    tail = ["--resume", resume] if resume else []
    if s.world_size == 1:
        return [python, *entry, "--launcher", "none", *tail]
    return [
        python, "-m", "torch.distributed.run",
        "--nnodes", str(s.nnodes),
        "--node_rank", str(s.node_rank),
        "--nproc_per_node", str(s.nproc_per_node),
        "--master_addr", s.master_addr,
        "--master_port", str(s.master_port),
        # The Job (or JobSet) restarts the whole group; torchrun must not restart alone.
        "--max_restarts", "0",
        *entry, "--launcher", "pytorch", *tail,
    ]  # fmt: skip


@dataclass
class OutputScan:
    """What the training output said about how it ended."""

    fatal_kinds: list[str] = field(default_factory=list)
    cuda_oom: bool = False
    preempted: bool = False

    def feed(self, line: str) -> None:
        m = FATAL_PATTERN.search(line)
        if m and m.group(1) in C.FATAL_KINDS and m.group(1) not in self.fatal_kinds:
            self.fatal_kinds.append(m.group(1))
        if CUDA_OOM_PATTERN.search(line):
            self.cuda_oom = True
        if C.PREEMPTED_MARKER in line:
            self.preempted = True


def exit_code(child_rc: int, scan: OutputScan) -> tuple[int, str]:
    """Map the child's end to the contract's exit code and a one-word outcome."""
    if child_rc == 0:
        # A pod that exits 0 counts as a completed index: a preempted run must not.
        return (C.EXIT_FAILED, "preempted") if scan.preempted else (C.EXIT_OK, "completed")
    if scan.fatal_kinds:
        kind = scan.fatal_kinds[0]
        return C.FATAL_KINDS[kind], kind
    if scan.cuda_oom:
        return C.EXIT_CUDA_OOM, "cuda-oom"
    return C.EXIT_FAILED, "preempted" if scan.preempted else "failed"


def _pump(stream, scan: OutputScan) -> None:
    """Copy the child's output to ours line by line (kubectl logs) while scanning it."""
    out = sys.stdout.buffer
    for raw in iter(stream.readline, b""):
        out.write(raw)
        out.flush()
        scan.feed(raw.decode("utf-8", "replace"))
    stream.close()


def log(msg: str) -> None:
    print(f"yunshi-launch: {msg}", file=sys.stderr, flush=True)


def run(s: Settings) -> int:
    goodput_path = os.path.join(s.work_dir, C.GOODPUT_FILE)
    started = goodput.now()
    if not os.path.isfile(s.config):
        raise LaunchError(f"{C.ENV_CONFIG}: config file {s.config} does not exist")
    os.makedirs(s.work_dir, exist_ok=True)
    if s.prepare_verdict:
        # Restore runs beside training (the prepare sidecar); the train entry decides once
        # its verdict is in, right before training (yunshi_prepare.py).
        restore = Restore(False, None, False, f"resume is decided after {s.prepare_verdict}")
    else:
        restore = find_resume(s.work_dir)
    log(restore.reason)
    argv = train_argv(s, restore.checkpoint if restore.used else None)
    log("starting: " + json.dumps(argv))

    doc = goodput.load(goodput_path)
    if s.experiment:
        doc["experiment"] = s.experiment
    doc["attempts"].append(
        {
            "startedAt": started,
            "nodeRank": s.node_rank,
            "nnodes": s.nnodes,
            "nprocPerNode": s.nproc_per_node,
            "restore": {
                "found": restore.found,
                "checkpoint": restore.checkpoint,
                "used": restore.used,
            },
            "checkpoints": [],
        }
    )
    _try(goodput.save, goodput_path, doc)

    stop: dict = {"at": None, "child": None}

    def on_signal(signum, _frame):
        # Forward the first signal only: a second SIGTERM would cut torchrun's own graceful
        # shutdown short. Only to the direct child: dataloader workers must live until the
        # iteration boundary, and torchrun relays the signal to its ranks itself.
        if stop["at"] is not None:
            return
        stop["at"] = time.monotonic()
        stop["wall"] = goodput.now()
        stop["signal"] = signal.Signals(signum).name
        if stop["child"] is not None:
            try:
                stop["child"].send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    # Own process group: on timeout the whole tree (torchrun, ranks, dataloader workers) dies.
    child = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    stop["child"] = child
    log(f"started training as pid {child.pid} (process group {child.pid})")
    if stop["at"] is not None:
        # The signal came while the child was being started.
        child.send_signal(signal.SIGTERM)
    scan = OutputScan()
    pump = threading.Thread(target=_pump, args=(child.stdout, scan), daemon=True)
    pump.start()

    killed = False
    announced = False
    while True:
        try:
            rc = child.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            pass
        if stop["at"] is not None and not announced:
            announced = True
            log(f"{stop['signal']}: asked training to checkpoint and stop (grace {s.grace_seconds:g}s)")
        if stop["at"] is not None and not killed and time.monotonic() - stop["at"] > s.grace_seconds:
            log(f"grace period of {s.grace_seconds:g}s over: killing training")
            killed = True
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    # Leftover processes of the group (e.g. orphaned dataloader workers) go too.
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    pump.join(timeout=5)

    if stop["at"] is not None and rc != 0 and not scan.fatal_kinds and not scan.cuda_oom:
        code, outcome = C.EXIT_FAILED, "preempted"
    else:
        code, outcome = exit_code(rc, scan)
    fields = {"endedAt": goodput.now(), "exitCode": code, "outcome": outcome, "childExitCode": rc}
    if stop["at"] is not None:
        fields["sigtermAt"] = stop["wall"]
        fields["killedAfterGrace"] = killed
    _try(goodput.update_current, goodput_path, **fields)
    log(f"training exited with {rc}: {outcome}, exit code {code}")
    return code


def _try(fn, *args, **kwargs) -> None:
    # goodput.json is a report: failing to write it must never fail or stop training.
    try:
        fn(*args, **kwargs)
    except OSError as e:
        log(f"warning: cannot write goodput.json: {e}")


def termination_message(message: str) -> None:
    """Put the reason into the container's termination message (`yunshi status` shows it).

    Only into a file that exists (the kubelet creates /dev/termination-log in a pod), never
    through a symlink, never failing: the exit code already says what happened."""
    path = os.environ.get(C.ENV_TERMINATION_LOG, "/dev/termination-log")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        os.write(fd, message.encode("utf-8", "replace")[:4096])
    except OSError:
        pass
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="yunshi-launch",
        description="Run MMDetection training from the pod environment (see docs/trainer.md).",
    )
    parser.add_argument("--print-contract", action="store_true", help="print the pod contract as JSON and exit")
    parser.add_argument("--dry-run", action="store_true", help="print the training argv as JSON and exit")
    args = parser.parse_args(argv)
    if args.print_contract:
        print(json.dumps(C.as_json(), indent=2))
        return C.EXIT_OK
    try:
        settings = read_settings(dict(os.environ))
        if args.dry_run:
            restore = (
                Restore(False, None, False, "decided after prepare")
                if settings.prepare_verdict
                else find_resume(settings.work_dir)
            )
            print(json.dumps(train_argv(settings, restore.checkpoint if restore.used else None)))
            return C.EXIT_OK
        return run(settings)
    except LaunchError as e:
        log(f"configuration error: {e}")
        termination_message(f"exit {C.EXIT_CONFIG_ERROR}: {e}")
        return C.EXIT_CONFIG_ERROR
    except CheckpointError as e:
        log(f"checkpoint error: {e}")
        termination_message(f"exit {C.EXIT_CHECKPOINT_ERROR}: {e}")
        return C.EXIT_CHECKPOINT_ERROR


if __name__ == "__main__":
    sys.exit(main())
