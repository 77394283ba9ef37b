#!/usr/bin/env python3
"""`yunshi predict` inside the trainer's Python: run a trained detector on pictures.

    yunshi_predict.py --checkpoint best.pth [--config config.py] --out-dir DIR
                      [--score-thr 0.3] [--device cpu|cuda] IMAGE_OR_DIR...

For every picture: MMDetection's own `init_detector`/`inference_detector`, then
DetLocalVisualizer draws the boxes and the class names (a CJK font is chosen so Chinese
names render as glyphs, see yunshi_fonts) into DIR/<name>.png. All detections at or above
the score threshold go to DIR/detections.json in the COCO results format
(image_id, category_id, bbox [x, y, w, h], score), with file_name and category added.

Every picture is decoded before the model is loaded, so an unreadable one stops the run
before anything is written. Progress is one JSON object a line on stdout (the CLI reads
it); exit codes: 0 ok, 2 bad input (nothing written), 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

from yunshi_model import BadInput  # noqa: E402

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
RESULTS_FILE = "detections.json"
# Small pictures are drawn enlarged (nearest neighbour) so the labels stay legible: the
# visualizer sizes its text from the box sizes, which are a few pixels in a 160×120 picture.
MIN_DRAWN_SIDE = 640


def emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}, ensure_ascii=False), flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Detect objects in pictures with a trained MMDetection model")
    p.add_argument("inputs", nargs="+", help="pictures, or folders of pictures")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--config", type=Path, help="default: the config saved in the checkpoint")
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--score-thr", type=float, default=0.3)
    p.add_argument("--device", default="cpu")
    return p.parse_args(argv)


def collect_images(inputs: list[str]) -> list[Path]:
    """Files as given; folders expanded to their pictures (sorted, not recursive)."""
    found: list[Path] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            pics = sorted(c for c in p.iterdir() if c.is_file() and c.suffix.lower() in IMAGE_SUFFIXES)
            if not pics:
                raise BadInput(f"{raw}: no pictures in this folder ({', '.join(IMAGE_SUFFIXES)})")
            found.extend(pics)
        elif p.is_file():
            found.append(p)
        else:
            raise BadInput(f"{raw}: no such file or folder")
    return found


def check_decodable(images: list[Path]) -> None:
    """Decode every picture once, as mmcv will (bytes → cv2), and name all that fail."""
    import mmcv

    bad = []
    for p in images:
        try:
            ok = mmcv.imfrombytes(p.read_bytes()) is not None
        except Exception:  # noqa: BLE001  (cv2 and pillow raise various errors)
            ok = False
        if not ok:
            bad.append(str(p))
    if bad:
        raise BadInput(
            f"{len(bad)} of {len(images)} pictures cannot be decoded as images: {', '.join(bad[:10])}"
            + (" …" if len(bad) > 10 else "")
            + "; remove them or convert them to PNG or JPEG"
        )


def output_names(images: list[Path]) -> list[str]:
    """<stem>.png for each picture; a repeated stem gets a counter."""
    seen: dict[str, int] = {}
    names = []
    for p in images:
        n = seen.get(p.stem, 0)
        seen[p.stem] = n + 1
        names.append(f"{p.stem}.png" if n == 0 else f"{p.stem}-{n + 1}.png")
    return names


def coco_results(image_id: int, file_name: str, sample, classes, score_thr: float) -> list[dict]:
    """The detections of one picture in COCO results format (scores ≥ score_thr)."""
    inst = sample.pred_instances
    out = []
    for (x1, y1, x2, y2), score, label in zip(
        inst.bboxes.tolist(), inst.scores.tolist(), inst.labels.tolist(), strict=True
    ):
        if score < score_thr:
            continue
        out.append(
            {
                "image_id": image_id,
                "file_name": file_name,
                # COCO category ids count from 1 in the order of dataset.classes.
                "category_id": int(label) + 1,
                "category": classes[int(label)],
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "score": score,
            }
        )
    return out


def draw(visualizer, image_path: Path, sample, score_thr: float, out_file: Path) -> None:
    import mmcv

    img = mmcv.imread(str(image_path), channel_order="rgb")
    scale = max(1, math.ceil(MIN_DRAWN_SIDE / max(img.shape[:2])))
    shown = sample
    if scale > 1:
        img = mmcv.imrescale(img, scale, interpolation="nearest")
        shown = sample.clone()
        shown.pred_instances.bboxes = shown.pred_instances.bboxes * scale
    visualizer.add_datasample(
        image_path.name,
        img,
        data_sample=shown,
        draw_gt=False,
        show=False,
        pred_score_thr=score_thr,
        out_file=str(out_file),
    )


def predict(args: argparse.Namespace) -> int:
    images = collect_images(args.inputs)
    check_decodable(images)

    import yunshi_fonts
    from yunshi_model import load_detector

    started = time.monotonic()
    model = load_detector(args.checkpoint, args.config, args.device)
    classes = tuple(model.dataset_meta["classes"])
    font = yunshi_fonts.use_font_for("".join(classes))
    if font is None:
        emit("warning", message=f"no installed font can draw {'、'.join(classes)}: labels will be boxes; "
             + yunshi_fonts.INSTALL_HINT)
    emit("model", classes=list(classes), device=args.device, font=None if font is None else font.family,
         seconds=round(time.monotonic() - started, 2))

    from mmdet.apis import inference_detector
    from mmdet.visualization import DetLocalVisualizer

    visualizer = DetLocalVisualizer(name=f"yunshi-predict-{os.getpid()}")
    visualizer.dataset_meta = model.dataset_meta
    args.out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    names = output_names(images)
    for index, (path, name) in enumerate(zip(images, names, strict=True), start=1):
        t0 = time.monotonic()
        sample = inference_detector(model, str(path))
        seconds = time.monotonic() - t0
        found = coco_results(index, str(path), sample, classes, args.score_thr)
        results.extend(found)
        draw(visualizer, path, sample, args.score_thr, args.out_dir / name)
        emit("image", index=index, total=len(images), file=str(path), output=str(args.out_dir / name),
             detections=len(found), labels=[d["category"] for d in found], seconds=round(seconds, 3))
    results_file = args.out_dir / RESULTS_FILE
    results_file.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    emit("done", images=len(images), detections=len(results), results=str(results_file),
         out_dir=str(args.out_dir), seconds=round(time.monotonic() - started, 2))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return predict(args)
    except BadInput as err:
        emit("bad-input", message=str(err))
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
