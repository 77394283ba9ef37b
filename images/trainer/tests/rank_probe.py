"""Test probe, loaded into each training rank through the config's custom_imports.

Records which rank writes which file through MMEngine's local file backend (where
save_checkpoint puts the .pth bytes), one line per write in $RANK_PROBE_DIR/rank-<RANK>.txt.
"""

from __future__ import annotations

import os

from mmengine.fileio.backends.local_backend import LocalBackend

_put = LocalBackend.put


def _recording_put(self, obj, filepath):
    probe_dir = os.environ.get("RANK_PROBE_DIR")
    if probe_dir:
        with open(os.path.join(probe_dir, f"rank-{os.environ.get('RANK', 'none')}.txt"), "a") as f:
            f.write(f"{filepath}\n")
    return _put(self, obj, filepath)


LocalBackend.put = _recording_put

if os.environ.get("RANK_PROBE_DIR"):
    # Proof that this rank ran with the probe installed.
    open(os.path.join(os.environ["RANK_PROBE_DIR"], f"loaded-rank-{os.environ.get('RANK', 'none')}"), "w").close()
