"""The train entry the launcher runs: MMDetection's tools/train.py plus what yunshi needs.

Same arguments and steps as mmdet 3.3.0's tools/train.py, and:
- pops `yunshi_index_overrides` from the config and applies it like --cfg-options would
  (merge_from_dict with allow_list_keys=True) before the Runner is built;
- registers the preemption hook (checkpoint at the next iteration boundary after SIGTERM)
  and the goodput hook;
- `--resume` requires a path: the bare form would also clear load_from;
- in a pod, the dataset and the checkpoint arrive while this imports and builds the Runner:
  it waits for the prepare sidecar's verdict right before `runner.train()` and resumes from
  what restore placed (yunshi_prepare.py);
- CPU-only distributed runs (tests) use gloo and DDP without device ids;
- fatal errors print one marker line (yunshi_contract.FATAL_MARKER) the launcher maps to
  the contract's exit codes: config 3, dataset 4, CUDA out of memory 5.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

import yunshi_preemption  # noqa: E402  (first: SIGTERM must be caught from the very start)

yunshi_preemption.install_signal_handler()

import yunshi_contract as C  # noqa: E402
import yunshi_goodput as goodput  # noqa: E402
import yunshi_prepare  # noqa: E402
from yunshi_errors import classify, report_fatal  # noqa: E402
from yunshi_resume import CheckpointError  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(description="Train a detector (yunshi)")
    parser.add_argument("config", help="train config file path")
    parser.add_argument("--work-dir", help="the dir to save logs and models")
    parser.add_argument("--amp", action="store_true", default=False, help="enable automatic-mixed-precision training")
    parser.add_argument("--auto-scale-lr", action="store_true", help="enable automatically scaling LR")
    parser.add_argument("--resume", metavar="CHECKPOINT", help="resume from this checkpoint file")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, help="override settings: key=value ...")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)
    args = parser.parse_args(argv)
    if "LOCAL_RANK" not in os.environ:
        os.environ["LOCAL_RANK"] = str(args.local_rank)
    return args


def load_config(args: argparse.Namespace):
    """Config.fromfile + the same overrides as tools/train.py, in the same order."""
    from mmengine.config import Config

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    overrides = cfg.pop(C.INDEX_OVERRIDES_KEY, None)
    if overrides:
        # A _base_ merge replaces lists wholesale, so list-indexing keys come separately.
        cfg.merge_from_dict(dict(overrides), allow_list_keys=True)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = os.path.abspath(args.work_dir)
    elif cfg.get("work_dir", None) is None:
        cfg.work_dir = os.path.join("./work_dirs", os.path.splitext(os.path.basename(args.config))[0])
    if args.amp:
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.loss_scale = "dynamic"
    if args.auto_scale_lr:
        if "auto_scale_lr" in cfg and "enable" in cfg.auto_scale_lr and "base_batch_size" in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            raise RuntimeError('Can not find "auto_scale_lr" or "auto_scale_lr.enable" or '
                               '"auto_scale_lr.base_batch_size" in your configuration file.')  # fmt: skip
    if args.resume:
        # Explicit path only: resume=True with load_from=None would search the work dir.
        cfg.resume = True
        cfg.load_from = args.resume
    custom_hooks = list(cfg.get("custom_hooks", None) or [])
    custom_hooks.append(dict(type="YunshiGoodputHook", priority="LOWEST"))
    custom_hooks.append(dict(type="YunshiPreemptionHook", priority="LOWEST"))
    cfg.custom_hooks = custom_hooks
    return cfg


def adapt_to_cpu(cfg) -> None:
    """Distributed training without a GPU (the CI tests): gloo, and DDP without device ids.

    MMEngine's pytorch launcher calls torch.cuda.set_device and wraps the model with
    device_ids=[LOCAL_RANK], which both fail without CUDA; on GPUs nothing changes."""
    import torch
    import torch.distributed as dist

    if torch.cuda.is_available() or cfg.launcher != "pytorch":
        return
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    cfg.env_cfg.setdefault("dist_cfg", {})["backend"] = "gloo"
    if cfg.get("model_wrapper_cfg", None) is None:
        cfg.model_wrapper_cfg = dict(
            type="MMDistributedDataParallel",
            device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get("find_unused_parameters", False),
        )


def _record_restore(work_dir: str, restore) -> None:
    """goodput.json's attempt learns what it resumed from (the launcher could not know yet)."""
    try:
        goodput.update_current(
            os.path.join(work_dir, C.GOODPUT_FILE),
            restore={"found": restore.found, "checkpoint": restore.checkpoint, "used": restore.used},
        )
    except OSError as e:
        print(f"yunshi-train: warning: cannot write goodput.json: {e}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stage = "config"
    cfg = None
    try:
        importlib.import_module("yunshi_goodput_hook")  # registers YunshiGoodputHook
        from mmdet.utils import setup_cache_size_limit_of_dynamo
        from mmengine.registry import RUNNERS
        from mmengine.runner import Runner

        yunshi_preemption.register_hook()
        setup_cache_size_limit_of_dynamo()
        cfg = load_config(args)
        # From here, build errors before the first iteration still count as config errors
        # (yunshi_errors.classify), anything else (e.g. a rendezvous failure) is retryable.
        stage = "train"
        adapt_to_cpu(cfg)
        runner = Runner.from_cfg(cfg) if "runner_type" not in cfg else RUNNERS.build(cfg)
        verdict = os.environ.get(C.ENV_PREPARE_VERDICT, "")
        if verdict and not args.resume:
            prepared = yunshi_prepare.resume_after_prepare(verdict, cfg.work_dir)
            yunshi_prepare.apply_resume(runner, prepared.restore)
            if os.environ.get("LOCAL_RANK", "0") == "0":
                print(f"yunshi-train: prepared (waited {prepared.waited_s:.1f} s after the Runner was built); "
                      f"{prepared.restore.reason}", file=sys.stderr, flush=True)  # fmt: skip
                _record_restore(cfg.work_dir, prepared.restore)
        runner.train()
    except yunshi_prepare.PrepareFailed as e:
        if e.kind is None:
            print(f"yunshi-train: {e} (a retry may fix it)", file=sys.stderr, flush=True)
            return C.EXIT_FAILED
        report_fatal(e.kind, e, with_traceback=False)
        return C.FATAL_KINDS[e.kind]
    except CheckpointError as e:
        report_fatal("checkpoint", e, with_traceback=False)
        return C.EXIT_CHECKPOINT_ERROR
    except yunshi_preemption.Preempted as p:
        print(f"{C.PREEMPTED_MARKER}: checkpoint {p.checkpoint} saved at iteration {p.iteration}", flush=True)
        return C.EXIT_OK
    except BaseException as e:  # noqa: BLE001  (classify everything, then re-raise)
        if isinstance(e, (SystemExit, KeyboardInterrupt)):
            raise
        kind = classify(e, cfg, stage, yunshi_preemption.iterations_started())
        if kind is not None:
            report_fatal(kind, e)
            return C.FATAL_KINDS[kind]
        raise
    finally:
        # Record the last iteration also when training failed.
        if "yunshi_goodput_hook" in sys.modules:
            sys.modules["yunshi_goodput_hook"].flush()
    return C.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
