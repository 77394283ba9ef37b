"""A tiny COCO detection dataset with Chinese class names, made at test time.

Small images with filled rectangles: tall ones are 行人 (pedestrian), wide ones 车辆
(vehicle). Some file names are Chinese too: mmcv reads the bytes and decodes them, so
non-ASCII paths must work end to end.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

CLASSES = ["行人", "车辆"]


def _image(rng: random.Random, width: int, height: int):
    img = Image.new("RGB", (width, height), tuple(rng.randrange(40, 90) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    boxes = []
    for _ in range(rng.randint(1, 3)):
        cat = rng.randrange(len(CLASSES))
        w, h = (rng.randint(8, 16), rng.randint(24, 40)) if cat == 0 else (rng.randint(28, 48), rng.randint(12, 20))
        x, y = rng.randint(0, width - w - 1), rng.randint(0, height - h - 1)
        color = (230, 60, 60) if cat == 0 else (60, 200, 230)
        draw.rectangle([x, y, x + w, y + h], fill=color)
        boxes.append((cat, [float(x), float(y), float(w), float(h)]))
    return img, boxes


def _split(root: Path, name: str, count: int, rng: random.Random, width: int, height: int) -> None:
    images, annotations = [], []
    for i in range(count):
        file_name = f"{name}_{i}.jpg" if i % 2 else f"{name}_图像_{i}.jpg"
        img, boxes = _image(rng, width, height)
        img.save(root / "images" / file_name, quality=90)
        images.append({"id": i + 1, "file_name": file_name, "width": width, "height": height})
        for cat, bbox in boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": cat + 1,
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                }
            )
    doc = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(CLASSES)],
    }
    (root / "annotations" / f"{name}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def make_dataset(root: Path, train: int = 8, val: int = 2, width: int = 128, height: int = 96) -> Path:
    """Write annotations/{train,val}.json and images/ under root; returns root."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    _split(root, "train", train, rng, width, height)
    _split(root, "val", val, rng, width, height)
    return root
