"""Checkpoint at the next iteration boundary after SIGTERM, then stop training.

The launcher forwards SIGTERM (spot interruption, eviction, cancel) to the training process;
under torchrun, torchrun relays it to every rank. The signal handler only sets a flag; the
hook acts at the end of the next training iteration:
- all ranks agree first (an all-reduce of the flag), so every rank stops after the same
  iteration even if only one node was signalled and no rank waits in a collective forever;
- the checkpoint goes through MMEngine: the CheckpointHook's own save when it checkpoints by
  iteration (file name, max_keep_ckpts and `last_checkpoint` as usual), else
  `runner.save_checkpoint` with the iteration in its meta and `last_checkpoint` rewritten by
  rank 0 (atomically, after the file is flushed to disk);
- at the last iteration of an epoch with epoch checkpoints, it waits for the epoch's end and
  saves a normal epoch checkpoint, so no finished epoch is trained twice;
- then it raises Preempted, which the train entry turns into a clean exit.
Resuming a mid-epoch checkpoint restarts that epoch at batch 0 (EpochBasedTrainLoop), with
the weights, optimizer and iteration count of the moment it was saved.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time

_requested_at: float | None = None
_iterations_started = 0


class Preempted(Exception):
    """Training stopped after SIGTERM; `checkpoint` holds everything needed to resume."""

    def __init__(self, checkpoint: str, iteration: int) -> None:
        super().__init__(f"preempted at iteration {iteration}: {checkpoint}")
        self.checkpoint = checkpoint
        self.iteration = iteration


def _on_sigterm(_signum, _frame) -> None:
    global _requested_at
    if _requested_at is None:
        _requested_at = time.time()


def install_signal_handler() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)


def stop_requested() -> bool:
    return _requested_at is not None


def iterations_started() -> int:
    return _iterations_started


def _write_last_checkpoint(work_dir: str, path: str) -> None:
    """Same content as MMEngine's CheckpointHook writes, but replaced atomically."""
    fd, tmp = tempfile.mkstemp(prefix=".last_checkpoint.", dir=work_dir)
    with os.fdopen(fd, "w") as f:
        f.write(path)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(work_dir, "last_checkpoint"))


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def register_hook() -> None:
    """Define and register YunshiPreemptionHook (imports MMEngine, so not at module load)."""
    from mmengine.dist import all_reduce, barrier, get_dist_info, is_main_process
    from mmengine.hooks import CheckpointHook, Hook
    from mmengine.registry import HOOKS

    if HOOKS.get("YunshiPreemptionHook") is not None:
        return

    class YunshiPreemptionHook(Hook):
        # Runs after CheckpointHook (VERY_LOW) so an interval save of the same iteration
        # is seen and not repeated.
        priority = "LOWEST"

        def __init__(self) -> None:
            self._pending_epoch_end = False

        def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
            global _iterations_started
            _iterations_started += 1

        def _agreed(self) -> bool:
            import torch

            flag = torch.tensor([1 if stop_requested() else 0], dtype=torch.int32)
            _, world_size = get_dist_info()
            if world_size > 1:
                all_reduce(flag, op="max")
            return bool(flag.item())

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            if self._pending_epoch_end or not self._agreed():
                return
            ckpt_hook = self._checkpoint_hook(runner)
            if (
                ckpt_hook is not None
                and ckpt_hook.by_epoch
                and self.end_of_epoch(runner.train_loop.dataloader, batch_idx)
            ):
                self._pending_epoch_end = True
                return
            iteration = runner.iter + 1
            runner.logger.info(f"SIGTERM: saving a checkpoint at iteration {iteration} and stopping")
            started = time.time()
            if ckpt_hook is not None and not ckpt_hook.by_epoch:
                expected = ckpt_hook.file_backend.join_path(
                    ckpt_hook.out_dir, ckpt_hook.filename_tmpl.format(iteration)
                )
                if runner.message_hub.get_info("last_ckpt") != expected:
                    ckpt_hook._save_checkpoint(runner)
                path = expected
            else:
                path = self._save_mid_epoch(runner, ckpt_hook, iteration)
            self._stop(runner, path, iteration, started)

        def after_train_epoch(self, runner) -> None:
            if not self._pending_epoch_end:
                return
            ckpt_hook = self._checkpoint_hook(runner)
            epoch = runner.epoch + 1
            expected = ckpt_hook.file_backend.join_path(ckpt_hook.out_dir, ckpt_hook.filename_tmpl.format(epoch))
            started = time.time()
            runner.logger.info(
                f"SIGTERM: saving a checkpoint at iteration {runner.iter} (end of epoch {epoch}) and stopping"
            )
            if runner.message_hub.get_info("last_ckpt") != expected:
                ckpt_hook._save_checkpoint(runner)
            self._stop(runner, expected, runner.iter, started)

        @staticmethod
        def _checkpoint_hook(runner):
            for hook in runner.hooks:
                if isinstance(hook, CheckpointHook):
                    return hook
            return None

        @staticmethod
        def _save_mid_epoch(runner, ckpt_hook, iteration: int) -> str:
            out_dir = ckpt_hook.out_dir if ckpt_hook is not None else runner.work_dir
            filename = f"iter_{iteration}.pth"
            kwargs = {}
            if ckpt_hook is not None:
                kwargs = dict(
                    save_optimizer=ckpt_hook.save_optimizer,
                    save_param_scheduler=ckpt_hook.save_param_scheduler,
                    backend_args=ckpt_hook.backend_args,
                )
            # Epoch = the unfinished one: resuming repeats it rather than skipping its rest.
            runner.save_checkpoint(
                out_dir, filename, meta=dict(epoch=runner.epoch, iter=iteration), by_epoch=False, **kwargs
            )
            path = os.path.join(out_dir, filename)
            if is_main_process():
                _fsync(path)
                _write_last_checkpoint(runner.work_dir, path)
            return path

        @staticmethod
        def _stop(runner, path: str, iteration: int, started: float) -> None:
            import yunshi_goodput_hook

            yunshi_goodput_hook.record_checkpoint(path, started, reason="preemption")
            barrier()
            raise Preempted(path, iteration)

    HOOKS.register_module(module=YunshiPreemptionHook)
