"""Which checkpoint training resumes from: only a regular file inside the work dir that
`last_checkpoint` names (anything else named there fails with exit 6).

The launcher asks before it starts training when restore already ran (an init step, as in
older pods and in tests); the train entry asks after the prepare sidecar's verdict when
restore runs beside the trainer (yunshi_prepare.py).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

import yunshi_contract as C


class CheckpointError(Exception):
    """`last_checkpoint` names something training must not resume from (exit 6).

    Restore places the checkpoint and only then writes `last_checkpoint`, always naming a
    regular file inside the work dir. Anything else means the work dir volume, the restore
    step or the bucket is broken or hostile; starting from scratch would silently throw the
    run's progress away, and resuming from another path would load a file nobody verified."""


@dataclass(frozen=True)
class Restore:
    """What `<work_dir>/last_checkpoint` offered and whether training resumes from it."""

    found: bool
    checkpoint: str | None
    used: bool
    reason: str


def _inside(path: str, root: str) -> bool:
    return path != root and os.path.commonpath([path, root]) == root


def find_resume(work_dir: str) -> Restore:
    """Resume only from a regular file inside the work dir that `last_checkpoint` names.

    No `last_checkpoint` (or an empty one) is a first run: the config's load_from applies.
    Everything else that cannot be resumed from raises CheckpointError (see there).

    `tools/train.py --resume` without a path also clears load_from, silently dropping the
    pretrained weights on a first run; so the launcher always passes an explicit path, and
    nothing at all when there is no checkpoint."""
    marker = os.path.join(work_dir, C.LAST_CHECKPOINT_FILE)
    try:
        # O_NOFOLLOW: a symlink in its place could make the launcher read any file.
        fd = os.open(marker, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return Restore(False, None, False, "no last_checkpoint: starting from load_from")
    except OSError as e:
        if os.path.islink(marker):
            raise CheckpointError(f"{marker} is a symlink; refusing to follow it") from None
        raise CheckpointError(f"cannot read {marker}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise CheckpointError(f"cannot read {marker}: {e.strerror or e}") from None
    try:
        named = raw.decode("utf-8").strip()
    except UnicodeDecodeError as e:
        raise CheckpointError(
            f"{marker} is not UTF-8 text (byte {e.start}: {raw[e.start:e.start + 1]!r}); it must hold one path"
        ) from None
    if not named:
        return Restore(True, None, False, "last_checkpoint is empty: starting from load_from")
    if "\0" in named or "\n" in named:
        raise CheckpointError(f"{marker} must hold one path; it holds {named[:200]!r}")
    root = os.path.realpath(work_dir)
    path = os.path.normpath(named if os.path.isabs(named) else os.path.join(work_dir, named))
    if not _inside(path, os.path.normpath(work_dir)) or not _inside(os.path.realpath(path), root):
        raise CheckpointError(
            f"{marker} names {path!r}, outside the work dir {work_dir}; only a checkpoint inside it is resumed from"
        )
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise CheckpointError(
            f"{marker} names {path}, which does not exist. Restore places the file before it writes "
            "last_checkpoint, so the work dir volume or the restore step is broken; see the restore container's log"
        ) from None
    except OSError as e:
        raise CheckpointError(f"{marker} names {path!r}, which cannot be read: {e.strerror or e}") from None
    if stat.S_ISLNK(st.st_mode):
        raise CheckpointError(f"{marker} names {path}, which is a symlink; only a regular file is resumed from")
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{marker} names {path}, which is not a regular file")
    return Restore(True, path, True, f"resuming from {path}")


