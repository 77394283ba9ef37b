"""YunshiGoodputHook: the training process's part of goodput.json.

It adds to the attempt the launcher opened: when the Runner started, when a checkpoint was
loaded (resume or load_from), the first and the last training iteration, and each checkpoint
save (start, end, epoch/iter, file). Only local rank 0 writes (one file per node's work dir);
saves happen on global rank 0 only, as in MMEngine. Writes happen at the first iteration,
after each save and at the end, never per iteration.
"""

from __future__ import annotations

import os
from typing import Any

import yunshi_contract as C
import yunshi_goodput as goodput
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

_active: "YunshiGoodputHook | None" = None


def _local_rank_zero() -> bool:
    return os.environ.get("LOCAL_RANK", "0") == "0"


@HOOKS.register_module()
class YunshiGoodputHook(Hook):
    priority = "LOWEST"

    def __init__(self) -> None:
        global _active
        _active = self
        self.path: str | None = None
        self.work_dir: str | None = None
        self.fields: dict[str, Any] = {}
        self.pending: dict[str, Any] | None = None
        self.saves: list[dict[str, Any]] = []

    # -- events -------------------------------------------------------------------------
    def before_run(self, runner) -> None:
        self.work_dir = runner.work_dir
        self.path = os.path.join(runner.work_dir, C.GOODPUT_FILE)
        self.fields["runnerStartedAt"] = goodput.now()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get("meta", {}) if isinstance(checkpoint, dict) else {}
        self.fields["loaded"] = {
            "at": goodput.now(),
            "resumed": bool(getattr(runner, "_resume", False)),
            "epoch": meta.get("epoch"),
            "iter": meta.get("iter"),
        }

    def before_train(self, runner) -> None:
        self.fields["trainingStartedAt"] = goodput.now()
        self.fields["startIteration"] = runner.iter

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        t = goodput.now()
        self.fields["lastIterationAt"] = t
        self.fields["lastIteration"] = runner.iter + 1
        first = "firstIterationAt" not in self.fields
        if first:
            self.fields["firstIterationAt"] = t
            self.fields["firstIteration"] = runner.iter + 1
        if self._finish_pending() or first:
            self.flush()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get("meta", {})
        self.pending = {"startedAt": goodput.now(), "epoch": meta.get("epoch"), "iter": meta.get("iter")}

    def after_train_epoch(self, runner) -> None:
        if self._finish_pending():
            self.flush()

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self._finish_pending():
            self.flush()

    def after_train(self, runner) -> None:
        self._finish_pending()
        self.fields["trainingEndedAt"] = goodput.now()
        self.flush()

    # -- recording ----------------------------------------------------------------------
    def _finish_pending(self, reason: str = "schedule", path: str | None = None) -> bool:
        if self.pending is None:
            return False
        save = dict(self.pending)
        save["endedAt"] = goodput.now()
        save["seconds"] = round(save["endedAt"] - save["startedAt"], 3)
        save["file"] = path or self._last_checkpoint()
        save["reason"] = reason
        self.saves.append(save)
        self.pending = None
        return True

    def _last_checkpoint(self) -> str | None:
        try:
            with open(os.path.join(self.work_dir or ".", C.LAST_CHECKPOINT_FILE), encoding="utf-8") as f:
                return f.read().strip() or None
        except OSError:
            return None

    def record_checkpoint(self, path: str, started: float, reason: str) -> None:
        if self.pending is not None:
            self._finish_pending(reason, path)
        elif self.saves and self.saves[-1]["file"] == path:
            # The scheduled save of this very iteration already wrote it.
            self.saves[-1]["alsoFor"] = reason
        elif os.environ.get("RANK", "0") == "0":
            now = goodput.now()
            self.saves.append(
                {"startedAt": started, "endedAt": now, "seconds": round(now - started, 3), "file": path, "reason": reason}
            )
        self.flush()

    def flush(self) -> None:
        if self.path is None or not _local_rank_zero():
            return
        try:
            doc = goodput.load(self.path)
            if not doc["attempts"]:
                doc["attempts"].append({"startedAt": self.fields.get("runnerStartedAt", goodput.now())})
            attempt = doc["attempts"][-1]
            attempt.update(self.fields)
            attempt["checkpoints"] = list(self.saves)
            goodput.save(self.path, doc)
        except OSError as e:
            print(f"yunshi: cannot write {self.path}: {e}", flush=True)


def record_checkpoint(path: str, started: float, reason: str) -> None:
    if _active is not None:
        _active.record_checkpoint(path, started, reason)


def flush() -> None:
    if _active is not None:
        _active.flush()
