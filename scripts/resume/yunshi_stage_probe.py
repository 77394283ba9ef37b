"""Stage timer for `npm run bench:resume` (issue 15): time to the first iteration after a restart.

Loaded into a real training run through the config (custom_imports + custom_hooks, set by
scripts/bench-resume.ts through the spec's cfgOptions), so the launcher, the train entry and
MMEngine run unchanged. Prints one line per stage, with the wall-clock time it was reached:

    yunshi-stage: <stage> <unix seconds>

  imports            torch, MMEngine's runner and MMDetection's models are imported
                     (this module is imported while the config is read, before the Runner)
  model-built        Runner built (model, data pipeline), loops and optimizer built: before_run
  checkpoint-loaded  load_or_resume() done (weights, optimizer state, iteration): before_train
  first-iteration    the first training iteration after that finished: after_train_iter

Not part of the trainer image: measurement only.
"""

from __future__ import annotations

import time


def _mark(stage: str) -> None:
    print(f"yunshi-stage: {stage} {time.time():.3f}", flush=True)


# What the train entry imports anyway; importing it here makes the "imports" stage end at
# a well-defined point instead of spreading over the Runner's start.
import torch  # noqa: E402,F401
import mmengine.runner  # noqa: E402,F401
import mmdet.models  # noqa: E402,F401
from mmengine.hooks import Hook  # noqa: E402
from mmengine.registry import HOOKS  # noqa: E402

_mark("imports")


@HOOKS.register_module()
class YunshiStageProbeHook(Hook):
    priority = "VERY_HIGH"

    def __init__(self) -> None:
        self._first_done = False

    def before_run(self, runner) -> None:
        _mark("model-built")

    def before_train(self, runner) -> None:
        _mark("checkpoint-loaded")

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not self._first_done:
            self._first_done = True
            _mark("first-iteration")
