"""`yunshi dataset convert` output is what MMDetection 3.3 trains on.

The LabelImg (VOC, YOLO) and labelme fixtures in test/fixtures/dataset/ (written by the
tools' own writers, Chinese folder, file and class names) are converted with the CLI, then
loaded with pycocotools and mmdet's CocoDataset, and the quickstart model (the spec in
examples/quickstart.yaml, rendered by `yunshi config`) trains one iteration on the VOC one.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, render_config

FIXTURES = REPO / "test" / "fixtures" / "dataset"
CLASSES = ["行人", "车辆"]


def convert(src: str, fmt: str, out: Path) -> Path:
    tsx = REPO / "node_modules" / ".bin" / "tsx"
    split = ["--split", "folders"] if src == "voc-exif" else []
    proc = subprocess.run(
        [str(tsx), "jobs/cli.ts", "dataset", "convert", str(FIXTURES / src), "-o", str(out), "--from", fmt,
         "--classes", ",".join(CLASSES), *split],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(
    scope="module",
    params=[("voc-labelimg", "voc"), ("voc-exif", "voc"), ("yolo-labelimg", "yolo"), ("labelme", "labelme")],
)
def converted(request, tmp_path_factory) -> Path:
    src, fmt = request.param
    return convert(src, fmt, tmp_path_factory.mktemp("转换") / "数据 集")


def test_pycocotools_loads_it(converted):
    from pycocotools.coco import COCO

    for subset in ("train", "val"):
        coco = COCO(str(converted / "annotations" / f"{subset}.json"))
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == CLASSES
        for img in coco.loadImgs(coco.getImgIds()):
            assert (converted / subset / img["file_name"]).is_file()
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]])):
                x, y, w, h = ann["bbox"]
                assert 0 <= x and 0 <= y and w >= 1 and h >= 1
                assert x + w <= img["width"] and y + h <= img["height"]


def test_mmdet_coco_dataset_reads_every_picture(converted):
    from mmdet.datasets import CocoDataset
    from mmdet.utils import register_all_modules

    register_all_modules()
    total = 0
    for subset in ("train", "val"):
        ds = CocoDataset(
            data_root=str(converted),
            ann_file=f"annotations/{subset}.json",
            data_prefix=dict(img=f"{subset}/"),
            metainfo=dict(classes=tuple(CLASSES)),
            pipeline=[dict(type="LoadImageFromFile"), dict(type="LoadAnnotations", with_bbox=True)],
            test_mode=False,
            filter_cfg=None,
        )
        raw = json.loads((converted / "annotations" / f"{subset}.json").read_text(encoding="utf-8"))
        assert len(ds) == len(raw["images"])
        for i in range(len(ds)):
            item = ds[i]  # decodes the picture from its (Chinese, spaced) path
            info = ds.get_data_info(i)
            assert item["img"].shape[:2] == (info["height"], info["width"])
            anns = [a for a in raw["annotations"] if a["image_id"] == info["img_id"]]
            # Every box reaches MMDetection (none silently filtered), difficult ones flagged.
            assert len(item["gt_bboxes"]) == len(anns)
            assert sorted(item["gt_ignore_flags"].tolist()) == sorted(bool(a["iscrowd"]) for a in anns)
            total += len(anns)
    assert total > 0


def test_difficult_is_kept_as_ignored(tmp_path):
    from mmdet.datasets import CocoDataset
    from mmdet.utils import register_all_modules

    register_all_modules()
    out = convert("voc-labelimg", "voc", tmp_path / "voc")
    found = []
    for subset in ("train", "val"):
        ds = CocoDataset(
            data_root=str(out), ann_file=f"annotations/{subset}.json", data_prefix=dict(img=f"{subset}/"),
            metainfo=dict(classes=tuple(CLASSES)), pipeline=[], filter_cfg=None,
        )
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            found += [(info["img_path"], inst["ignore_flag"]) for inst in info["instances"] if inst["ignore_flag"]]
    # 图片 01.xml's third object is <difficult>1</difficult>.
    assert [(Path(p).name, f) for p, f in found] == [("图片 01.jpg", 1)]


def test_phone_photo_boxes_land_on_their_objects(tmp_path):
    """LabelImg labels EXIF-rotated photos as stored; mmcv decodes them upright. After
    convert, each box must cover its painted object in the picture MMDetection decodes."""
    import numpy as np
    from mmdet.datasets import CocoDataset
    from mmdet.utils import register_all_modules

    register_all_modules()
    out = convert("voc-exif", "voc", tmp_path / "exif")
    colours = {0: np.array([40, 30, 30]), 1: np.array([30, 60, 200])}  # RGB, make-fixtures.py
    checked = 0
    for subset in ("train", "val"):
        ds = CocoDataset(
            data_root=str(out), ann_file=f"annotations/{subset}.json", data_prefix=dict(img=f"{subset}/"),
            metainfo=dict(classes=tuple(CLASSES)),
            pipeline=[dict(type="LoadImageFromFile"), dict(type="LoadAnnotations", with_bbox=True)],
            filter_cfg=None,
        )
        for i in range(len(ds)):
            item = ds[i]
            img = item["img"][:, :, ::-1]  # BGR → RGB
            assert img.shape[:2] == (128, 96)  # upright
            for box, label in zip(item["gt_bboxes"].tensor.numpy(), item["gt_bboxes_labels"]):
                x1, y1, x2, y2 = (int(round(v)) for v in box)
                inner = img[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2].reshape(-1, 3).astype(float)
                mean = inner.mean(axis=0)
                assert np.abs(mean - colours[int(label)]).max() < 40, (ds.get_data_info(i)["img_path"], box, mean)
                checked += 1
    assert checked == 4


def test_quickstart_model_trains_one_iteration(tmp_path):
    from mmengine.config import Config
    from mmengine.runner import Runner
    from mmdet.utils import register_all_modules

    register_all_modules()
    data = convert("voc-labelimg", "voc", tmp_path / "数据")
    spec = yaml.safe_load((REPO / "examples" / "quickstart.yaml").read_text(encoding="utf-8"))
    spec["dataset"] = {
        "uri": "s3://yunshi-test/vision/datasets/路口/",
        "train": {"annotations": "annotations/train.json", "images": "train/"},
        "val": {"annotations": "annotations/val.json", "images": "val/"},
        "classes": CLASSES,
    }
    config = render_config(spec, data, tmp_path / "cfg")
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(tmp_path / "work")
    # One iteration of exactly the quickstart model and data pipeline; no schedule, no val.
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=1, val_interval=1000)
    cfg.param_scheduler = []
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=1000)
    overrides = cfg.pop("yunshi_index_overrides", None)
    if overrides:  # what yunshi_train.load_config does with list-indexing cfgOptions
        cfg.merge_from_dict(dict(overrides), allow_list_keys=True)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    scalars = runner.message_hub.log_scalars
    assert scalars["train/loss"].current() > 0
    assert scalars["train/loss_bbox"].current() >= 0
