"""Which training failures a retry cannot fix (Determined-style: by type and message).

- "cuda-oom": CUDA out of memory anywhere (exit 5): lower train.batchPerGpu or use a
  bigger GPU; restarting on the same GPU fails the same way.
- "dataset": a missing or unreadable annotation file or image under the dataset's
  directories (exit 4).
- "config": the config does not load, or the Runner and its parts (model, dataloaders,
  optimizer, hooks) fail to build before the first iteration (exit 3).
Everything else (NCCL timeouts, lost nodes, a crash mid-training) stays retryable (exit 1).
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import yunshi_contract as C

# Errors raised while building from a config: unknown registry types, bad arguments,
# failed assertions on values, missing keys.
_BUILD_ERRORS = (KeyError, TypeError, ValueError, AssertionError, AttributeError, ImportError, NameError, SyntaxError)


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _dataset_dirs(cfg) -> list[str]:
    """data_root and annotation files of every dataloader in the config."""
    dirs: list[str] = []
    if cfg is None:
        return dirs

    def visit(ds) -> None:
        if not hasattr(ds, "get"):
            return
        root = ds.get("data_root") or ""
        for key in ("data_root", "ann_file"):
            value = ds.get(key)
            if isinstance(value, str) and value:
                dirs.append(os.path.normpath(os.path.join(root, value) if key == "ann_file" else value))
        for key in ("dataset", "datasets"):
            inner = ds.get(key)
            for item in inner if isinstance(inner, list) else [inner]:
                visit(item)

    for name in ("train_dataloader", "val_dataloader", "test_dataloader"):
        loader = cfg.get(name) if hasattr(cfg, "get") else None
        if loader and hasattr(loader, "get"):
            visit(loader.get("dataset"))
    return [d for d in dirs if d not in (".", "")]


def _is_dataset_error(exc: BaseException, dirs: list[str]) -> bool:
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        name = exc.filename if isinstance(exc.filename, str) else ""
        text = name or str(exc)
        return any(d in text for d in dirs) or not dirs
    if isinstance(exc, json.JSONDecodeError):
        return True
    # A DataLoader worker re-raises its error with the type kept but the filename only in
    # the message text ("No such file or directory: '/yunshi/data/...'").
    text = str(exc)
    return ("No such file or directory" in text or "cannot identify image" in text) and any(d in text for d in dirs)


def classify(exc: BaseException, cfg, stage: str, iterations: int) -> str | None:
    """"cuda-oom", "dataset", "config" or None (retryable)."""
    dirs = _dataset_dirs(cfg)
    for e in _chain(exc):
        if type(e).__name__ == "OutOfMemoryError" or "CUDA out of memory" in str(e):
            return "cuda-oom"
    for e in _chain(exc):
        if _is_dataset_error(e, dirs) and (dirs or stage == "train"):
            return "dataset"
    if stage == "config":
        return "config"
    if iterations == 0 and isinstance(exc, _BUILD_ERRORS):
        return "config"
    return None


def report_fatal(kind: str, exc: BaseException, with_traceback: bool = True) -> None:
    """The traceback, then the marker line the launcher maps to an exit code."""
    if with_traceback:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    first_line = (str(exc).strip().splitlines() or [""])[0][:500]
    print(f"{C.FATAL_MARKER} ({kind}): {type(exc).__name__}: {first_line}", file=sys.stderr, flush=True)
