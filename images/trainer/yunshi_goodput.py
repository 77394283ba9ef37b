"""goodput.json: when each attempt of a job started, restored, trained and saved.

Standard library only (the launcher uses it). The launcher opens an attempt before it starts
training and closes it after training exits; in between, the training process (local rank 0)
adds its events. The two never write at the same time, and every write replaces the file
atomically, so a reader (the snapshot sidecar) never sees half a file.
Format: docs/trainer.md. All times are Unix seconds (float).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any

FORMAT_VERSION = 1


def now() -> float:
    return round(time.time(), 3)


def load(path: str) -> dict[str, Any]:
    """The file's content, or a fresh document when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if isinstance(doc, dict) and isinstance(doc.get("attempts"), list):
            return doc
    except (OSError, ValueError):
        pass
    return {"version": FORMAT_VERSION, "attempts": []}


def save(path: str, doc: dict[str, Any]) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".goodput.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def update_current(path: str, **fields: Any) -> None:
    """Set fields on the newest attempt (opening one when the file has none)."""
    doc = load(path)
    if not doc["attempts"]:
        doc["attempts"].append({"startedAt": now()})
    doc["attempts"][-1].update(fields)
    save(path, doc)


def append_to_current(path: str, key: str, item: Any) -> None:
    """Append an item to a list field of the newest attempt."""
    doc = load(path)
    if not doc["attempts"]:
        doc["attempts"].append({"startedAt": now()})
    doc["attempts"][-1].setdefault(key, []).append(item)
    save(path, doc)
