"""yunshi_export.py's parts that decide whether an export is trusted: the shipped predict.py
preprocesses exactly like MMDetection, and the PyTorch/ONNX comparison fails when they differ.
(The full export of the trained quickstart runs in test/after-training/quickstart.e2e.test.ts.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import render_config, spec

pytest.importorskip("onnxruntime")
pytest.importorskip("mmdeploy")

from yunshi_export import match, preprocessing_of  # noqa: E402
from yunshi_onnx_predict import OnnxDetector  # noqa: E402


def det(category_id: int, bbox: list[float], score: float) -> dict:
    return {"category_id": category_id, "category": ["行人", "车辆"][category_id - 1], "bbox": bbox, "score": score}


def test_predict_py_preprocesses_exactly_like_mmdetection(dataset, tmp_path):
    """The tensor predict.py feeds ONNX Runtime equals MMDetection's (test pipeline + data preprocessor)."""
    from mmdet.apis import init_detector
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from mmdet.utils import get_test_pipeline_cfg
    import mmcv

    config = render_config(spec(**{"train.imageScale": [150, 100]}), dataset, tmp_path)
    cfg = Config.fromfile(str(config))
    cfg.pop("yunshi_index_overrides", None)
    info = {"classes": ["行人", "车辆"], **preprocessing_of(cfg)}
    (tmp_path / "model.json").write_text(json.dumps(info), encoding="utf-8")
    detector = OnnxDetector.__new__(OnnxDetector)  # preprocessing only: no ONNX model needed
    detector.info = info

    model = init_detector(cfg, None, device="cpu")
    picture = next((dataset / "images").glob("*.jpg"))
    img = mmcv.imread(str(picture))
    ours, (sx, sy) = detector.preprocess(img)

    pipeline_cfg = get_test_pipeline_cfg(cfg)
    pipeline_cfg[0].type = "mmdet.LoadImageFromNDArray"
    data = Compose(pipeline_cfg)(dict(img=img, img_id=0))
    batch = model.data_preprocessor({"inputs": [data["inputs"]], "data_samples": [data["data_samples"]]}, False)
    theirs = batch["inputs"].numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    meta = data["data_samples"].metainfo
    assert (sx, sy) == pytest.approx(tuple(meta["scale_factor"]))


def test_matching_accepts_small_differences_and_fails_on_real_ones():
    torch_side = [det(1, [10, 20, 30, 60], 0.95), det(2, [50, 40, 70, 35], 0.88), det(2, [0, 0, 5, 5], 0.1)]
    onnx_side = [det(1, [10.3, 20.1, 30, 60], 0.951), det(2, [50, 40, 70.4, 35], 0.875)]
    problems, worst_box, worst_score = match(torch_side, onnx_side, 0.3, 1.0, 0.01)
    assert problems == []
    assert worst_box == pytest.approx(0.4) and worst_score == pytest.approx(0.005)

    # A wrong label, a box 3 px off, a score 0.05 off, a detection missing on one side.
    for broken in (
        [det(2, [10, 20, 30, 60], 0.95), onnx_side[1]],
        [det(1, [13, 20, 30, 60], 0.95), onnx_side[1]],
        [det(1, [10, 20, 30, 60], 0.90), onnx_side[1]],
        [onnx_side[0]],
    ):
        problems, _, _ = match(torch_side, broken, 0.3, 1.0, 0.01)
        assert problems, broken
    # A detection only ONNX finds is a problem too.
    problems, _, _ = match(torch_side[:2], [*onnx_side, det(1, [90, 10, 20, 40], 0.7)], 0.3, 1.0, 0.01)
    assert any(p.startswith("ONNX found 行人") for p in problems)


def test_a_checkpoint_that_is_not_the_committed_one_is_refused_before_anything_is_written(tmp_path, capsys):
    """Cluster export passes the manifest's SHA-256: a replaced file exits 2 and writes nothing."""
    import hashlib

    from yunshi_export import main

    ckpt = tmp_path / "best.pth"
    ckpt.write_bytes(b"not the committed bytes")
    out = tmp_path / "out"
    committed = hashlib.sha256(b"the committed bytes").hexdigest()
    code = main(["--checkpoint", str(ckpt), "--sha256", committed, "--out-dir", str(out)])
    assert code == 2
    event = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert event["event"] == "bad-input"
    assert committed in event["message"] and "submit the export again" in event["message"]
    assert not out.exists()

    # The committed bytes pass the check and reach the checkpoint loader (which refuses them).
    ckpt.write_bytes(b"the committed bytes")
    assert main(["--checkpoint", str(ckpt), "--sha256", committed, "--out-dir", str(out)]) == 2
    event = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "not a PyTorch checkpoint" in event["message"]
