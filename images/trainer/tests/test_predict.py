"""yunshi_predict.py on a model trained here: JSON equal to MMDetection's own inference_detector,
labels drawn as CJK glyphs (read from the pixels), and the bad-input exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TRAINER, launch, render_config, spec

PREDICT = TRAINER / "yunshi_predict.py"


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory) -> Path:
    """One epoch (4 iterations) of the tiny Faster R-CNN; its last checkpoint."""
    d = tmp_path_factory.mktemp("predict-model")
    config = render_config(spec(**{"checkpoint.every": {"iters": 4}}), dataset, d)
    run = launch(config, d / "work", d / "run.log")
    assert run.wait(240) == 0, run.output()[-4000:]
    return Path(run.last_checkpoint())


def run_predict(*args: str) -> tuple[int, list[dict], str]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    p = subprocess.run(
        [sys.executable, str(PREDICT), *args], capture_output=True, text=True, timeout=300, env=env
    )
    events = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    return p.returncode, events, p.stderr


def test_json_equals_inference_detector_on_the_same_checkpoint(trained, dataset, tmp_path):
    images = dataset / "images"
    out = tmp_path / "out"
    code, events, err = run_predict("--checkpoint", str(trained), "--out-dir", str(out), "--score-thr", "0", str(images))
    assert code == 0, err[-3000:]
    pictures = sorted(p for p in images.iterdir() if p.suffix == ".jpg")
    assert [e["index"] for e in events if e["event"] == "image"] == list(range(1, len(pictures) + 1))
    got = json.loads((out / "detections.json").read_text(encoding="utf-8"))

    from mmdet.apis import inference_detector, init_detector
    from yunshi_model import config_of

    model = init_detector(config_of(trained), str(trained), device="cpu")
    expected = []
    for image_id, p in enumerate(pictures, start=1):
        inst = inference_detector(model, str(p)).pred_instances
        for (x1, y1, x2, y2), score, label in zip(
            inst.bboxes.tolist(), inst.scores.tolist(), inst.labels.tolist(), strict=True
        ):
            expected.append((image_id, str(p), label + 1, [x1, y1, x2 - x1, y2 - y1], score))
    assert expected, "the model found nothing at score 0: nothing to compare"
    assert len(got) == len(expected)
    for g, (image_id, file_name, category_id, bbox, score) in zip(got, expected, strict=True):
        assert (g["image_id"], g["file_name"], g["category_id"]) == (image_id, file_name, category_id)
        assert g["category"] == ["行人", "车辆"][category_id - 1]
        assert g["bbox"] == pytest.approx(bbox, abs=1e-3)
        assert g["score"] == pytest.approx(score, abs=1e-5)
        # PNG per picture.
    for p in pictures:
        assert (out / f"{p.stem}.png").stat().st_size > 1000


def text_components(img: np.ndarray, region: tuple[slice, slice]):
    """Connected components of the label text (light grey on the dark label background)."""
    from scipy import ndimage

    crop = img[region]
    ink = (crop.mean(axis=2) > 80) & (np.ptp(crop, axis=2) < 40)
    labels, n = ndimage.label(ink)
    return [labels == i for i in range(1, n + 1)]


def is_tofu(mask: np.ndarray) -> bool:
    """A hollow rectangle: ink along most of its bounding box's outline and none inside."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
    if y1 - y0 < 5 or x1 - x0 < 3:
        return False
    box = mask[y0 : y1 + 1, x0 : x1 + 1]
    outline = np.concatenate([box[0], box[-1], box[:, 0], box[:, -1]])
    return outline.mean() > 0.7 and not box[2:-2, 2:-2].any()


def draw_label(tmp_path: Path, family: list[str], name: str) -> np.ndarray:
    """yunshi_predict.draw() on one 行人 box with the given font list; the drawn pixels."""
    import matplotlib
    import mmcv
    import torch
    from mmdet.structures import DetDataSample
    from mmdet.visualization import DetLocalVisualizer
    from mmengine.structures import InstanceData

    import yunshi_predict

    picture = tmp_path / "plain.png"
    # A coloured background, so that only the grey label text counts as ink.
    mmcv.imwrite(np.full((120, 160, 3), (40, 140, 40), np.uint8), str(picture))
    sample = DetDataSample()
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[30.0, 40.0, 130.0, 110.0]]), scores=torch.tensor([0.9]), labels=torch.tensor([0])
    )
    vis = DetLocalVisualizer(name=f"test-{name}")
    vis.dataset_meta = {"classes": ("行人", "车辆")}
    matplotlib.rcParams["font.family"] = ["sans-serif"]
    matplotlib.rcParams["font.sans-serif"] = family
    out = tmp_path / f"{name}.png"
    yunshi_predict.draw(vis, picture, sample, 0.3, out)
    return mmcv.imread(str(out), channel_order="rgb")


def test_chinese_labels_are_glyphs_not_tofu(tmp_path):
    import yunshi_fonts

    font = yunshi_fonts.find_font("行人车辆")
    if font is None:
        pytest.skip(f"no CJK font on this machine: {yunshi_fonts.INSTALL_HINT}")
    tofu = draw_label(tmp_path, ["DejaVu Sans"], "tofu")
    cjk = draw_label(tmp_path, [font.family, "DejaVu Sans"], "cjk")
    # The box is at (30, 40)-(130, 110) drawn ×4: the label sits at its top-left corner.
    diff = np.argwhere(np.abs(tofu.astype(int) - cjk.astype(int)).sum(axis=2) > 60)
    assert len(diff) > 50, "the font made no difference to the label"
    (y0, x0), (y1, x1) = diff.min(axis=0), diff.max(axis=0)
    assert 4 * 40 - 40 <= y0 and y1 <= 4 * 40 + 60 and 4 * 30 - 10 <= x0 and x1 <= 4 * 130, (y0, y1, x0, x1)
    region = (slice(y0 - 2, y1 + 3), slice(x0 - 2, x1 + 3))
    # The check can fail: DejaVu Sans has no 行 or 人, and its stand-in glyphs are boxes.
    assert sum(is_tofu(c) for c in text_components(tofu, region)) >= 2
    components = text_components(cjk, region)
    assert len(components) >= 4, "too few strokes for 行人 and a score"
    assert not any(is_tofu(c) for c in components)


def test_an_undecodable_picture_stops_before_anything_is_written(trained, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    code, events, _ = run_predict("--checkpoint", str(trained), "--out-dir", str(out), str(bad))
    assert code == 2
    assert events[-1]["event"] == "bad-input"
    assert "broken.png" in events[-1]["message"] and "cannot be decoded" in events[-1]["message"]
    assert not out.exists()


def test_missing_picture_and_a_file_that_is_no_checkpoint(trained, tmp_path):
    code, events, _ = run_predict("--checkpoint", str(trained), "--out-dir", str(tmp_path / "o"), "nope.png")
    assert code == 2 and "nope.png: no such file or folder" in events[-1]["message"]
    fake = tmp_path / "fake.pth"
    fake.write_bytes(b"not a checkpoint")
    pic = tmp_path / "p.png"
    import mmcv

    mmcv.imwrite(np.zeros((8, 8, 3), np.uint8), str(pic))
    code, events, _ = run_predict("--checkpoint", str(fake), "--out-dir", str(tmp_path / "o"), str(pic))
    assert code == 2 and "not a PyTorch checkpoint" in events[-1]["message"]
