"""A trained detector from a checkpoint, for predict and export.

MMEngine's Runner stores the whole merged config (`meta.cfg`, Config.pretty_text) and the
dataset's class names (`meta.dataset_meta`) in every checkpoint it saves, so a checkpoint
alone is enough to rebuild the model it came from; `--config` overrides that.
"""

from __future__ import annotations

from pathlib import Path

import yunshi_contract as C


class BadInput(Exception):
    """Something the user passed cannot be used (exit 2)."""


def config_of(checkpoint: Path, config: Path | None = None):
    """The training config: the given file, else the one saved inside the checkpoint."""
    import torch
    from mmengine.config import Config

    if config is not None:
        cfg = Config.fromfile(str(config))
        overrides = cfg.pop(C.INDEX_OVERRIDES_KEY, None)
        if overrides:
            # As the trainer applies them (yunshi_train.load_config).
            cfg.merge_from_dict(dict(overrides), allow_list_keys=True)
        return cfg
    try:
        ckpt = torch.load(str(checkpoint), map_location="cpu")
    except Exception as err:  # noqa: BLE001  (any unpickling failure means the same)
        raise BadInput(f"{checkpoint}: not a PyTorch checkpoint ({type(err).__name__}: {err})") from err
    text = ckpt.get("meta", {}).get("cfg") if isinstance(ckpt, dict) else None
    if not isinstance(text, str):
        raise BadInput(
            f"{checkpoint}: this checkpoint carries no training config (meta.cfg); "
            "pass --config with the config.py it was trained with"
        )
    # Saved after the trainer applied the list-indexing overrides: nothing left to apply.
    return Config.fromstring(text, file_format=".py")


def load_detector(checkpoint: Path, config: Path | None = None, device: str = "cpu"):
    """mmdet.apis.init_detector on the checkpoint, with the class names it was trained on."""
    from mmdet.apis import init_detector

    model = init_detector(config_of(checkpoint, config), str(checkpoint), device=device)
    classes = tuple(model.dataset_meta.get("classes", ()))
    if not classes:
        raise BadInput(f"{checkpoint}: no class names in the checkpoint (meta.dataset_meta.classes)")
    return model
