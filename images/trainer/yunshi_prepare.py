"""Wait for the prepare sidecar's verdict, then decide what training resumes from.

The prepare sidecar (the checkpoint agent's `prepare`) fetches the dataset and restores the
last checkpoint while the trainer imports PyTorch and MMDetection and builds the Runner;
the train entry calls `resume_after_prepare` right before `runner.train()`, which is the
first moment the dataset or the checkpoint is needed. The verdict is written once,
atomically (temp + rename), so a file that parses is a whole one.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass

import yunshi_contract as C
from yunshi_resume import CheckpointError, Restore, find_resume

# How often to say that training is still waiting (kubectl logs, local runs).
_REPORT_EVERY_S = 30.0


class PrepareFailed(Exception):
    """A prepare step failed; `kind` is a FATAL_KINDS key (no retry) or None (retryable)."""

    def __init__(self, step: str, kind: str | None, message: str) -> None:
        super().__init__(f"prepare step {step} failed: {message}")
        self.step = step
        self.kind = kind


@dataclass(frozen=True)
class Prepared:
    waited_s: float
    restore: Restore


def read_verdict(path: str) -> dict | None:
    """The verdict, or None while there is none. Never follows a symlink."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        raw = f.read(65536)
    doc = json.loads(raw.decode("utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("ok"), bool):
        raise ValueError(f"{path}: not a prepare verdict: {raw[:200]!r}")
    return doc


def wait_for_verdict(path: str, poll_s: float = 0.2, sleep=time.sleep, clock=time.monotonic) -> tuple[dict, float]:
    """Block until the verdict exists; returns it and the seconds waited."""
    started = clock()
    reported = started
    first = True
    while True:
        doc = read_verdict(path)
        if doc is not None:
            return doc, clock() - started
        if first:
            first = False
            print(f"yunshi-train: ready to train; waiting for the dataset and checkpoint ({path})",
                  file=sys.stderr, flush=True)  # fmt: skip
        now = clock()
        if now - reported >= _REPORT_EVERY_S:
            reported = now
            print(f"yunshi-train: waiting for the dataset and checkpoint ({now - started:.0f} s so far)",
                  file=sys.stderr, flush=True)  # fmt: skip
        sleep(poll_s)


def check_verdict(doc: dict) -> None:
    """Raise PrepareFailed for a failed verdict."""
    if doc["ok"]:
        return
    step = str(doc.get("step", "prepare"))
    code = doc.get("exitCode")
    kind = C.PREPARE_FAILURE_KIND.get(step) if code == C.AGENT_INPUT_ERROR else None
    raise PrepareFailed(step, kind, str(doc.get("error", "no reason given"))[:2000])


def resume_after_prepare(verdict_path: str, work_dir: str) -> Prepared:
    """Wait for the verdict; on success, what `last_checkpoint` offers (CheckpointError if it
    names something training must not load)."""
    doc, waited = wait_for_verdict(verdict_path)
    check_verdict(doc)
    return Prepared(waited, find_resume(work_dir))


def apply_resume(runner, restore: Restore) -> None:
    """Make an already built Runner resume from the restored checkpoint.

    Runner.__init__ only stores `resume`/`load_from` (mmengine 0.10.7, pinned); they are read
    in `load_or_resume()`, inside `train()`. The same pair as `tools/train.py --resume PATH`:
    resume=True with an explicit path (a bare resume=True would search the work dir and drop
    load_from on a first run)."""
    if restore.used and restore.checkpoint is not None:
        runner._resume = True
        runner._load_from = restore.checkpoint


__all__ = ["CheckpointError", "PrepareFailed", "Prepared", "apply_resume", "check_verdict", "read_verdict",
           "resume_after_prepare", "wait_for_verdict"]  # fmt: skip
