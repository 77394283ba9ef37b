#!/usr/bin/env python3
"""`yunshi export --format onnx` inside the trainer's Python: MMDeploy 1.3.1, verified.

    yunshi_export.py --checkpoint best.pth [--sha256 HEX] [--config config.py] --out-dir DIR
                     --sample PICTURE [--sample PICTURE ...]

1. Exports with MMDeploy's `torch2onnx` and the detection ONNX Runtime deploy config
   (configs/mmdet/detection/detection_onnxruntime_dynamic.py of MMDeploy 1.3.1, written out
   in full below because the PyPI wheel ships no configs) → DIR/end2end.onnx, and the
   MMDeploy SDK files (deploy.json, pipeline.json, detail.json) with `export2SDK`.
2. Writes DIR/model.json (classes and the test-time preprocessing) and DIR/predict.py
   (yunshi_onnx_predict.py: ONNX Runtime + NumPy + OpenCV, no MMDetection needed).
3. Verifies what ships: predict.py's detector and MMDetection's inference_detector on the
   same sample pictures must find the same objects — every detection with a score ≥
   --score-thr on either side matched on the other side with the same label, every box
   corner within --box-tol pixels and the score within --score-tol. A failed verification
   exits 1 and leaves DIR/verification.json saying what differed; nothing is uploaded.
4. Measures the export time and the CPU latency of both (median of --repeats runs per
   picture after one warm-up) into DIR/verification.json.

Progress is one JSON object a line on stdout; exit codes 0 ok, 2 bad input, 1 failure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

from yunshi_model import BadInput, config_of  # noqa: E402

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
HERE = Path(__file__).resolve().parent

# MMDeploy 1.3.1 configs/mmdet/detection/detection_onnxruntime_dynamic.py with its bases
# (_base_/onnx_config.py, mmdet/_base_/base_static.py, base_dynamic.py,
# _base_/backends/onnxruntime.py) merged.
DEPLOY_CONFIG = dict(
    onnx_config=dict(
        type="onnx",
        export_params=True,
        keep_initializers_as_inputs=False,
        opset_version=11,
        save_file="end2end.onnx",
        input_names=["input"],
        output_names=["dets", "labels"],
        input_shape=None,
        optimize=True,
        dynamic_axes={
            "input": {0: "batch", 2: "height", 3: "width"},
            "dets": {0: "batch", 1: "num_dets"},
            "labels": {0: "batch", 1: "num_dets"},
        },
    ),
    codebase_config=dict(
        type="mmdet",
        task="ObjectDetection",
        model_type="end2end",
        post_processing=dict(
            score_threshold=0.05,
            confidence_threshold=0.005,
            iou_threshold=0.5,
            max_output_boxes_per_class=200,
            pre_top_k=5000,
            keep_top_k=100,
            background_label_id=-1,
        ),
    ),
    backend_config=dict(type="onnxruntime"),
)


def emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}, ensure_ascii=False), flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Export a trained MMDetection model to ONNX and verify it")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument(
        "--sha256",
        help="the checkpoint's SHA-256 as its manifest committed it: a file that differs is refused (cluster export)",
    )
    p.add_argument("--config", type=Path)
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument(
        "--sample", action="append", type=Path, default=[], help="a picture to verify on (default: 4 val pictures)"
    )
    p.add_argument("--score-thr", type=float, default=0.3)
    p.add_argument("--box-tol", type=float, default=1.0, help="pixels")
    p.add_argument("--score-tol", type=float, default=0.01)
    p.add_argument("--repeats", type=int, default=5)
    return p.parse_args(argv)


def preprocessing_of(cfg) -> dict:
    """model.json's preprocessing from the test pipeline; BadInput for what predict.py cannot repeat."""
    pipeline = cfg.test_dataloader.dataset.pipeline
    resizes = [t for t in pipeline if t["type"].split(".")[-1] == "Resize"]
    if len(resizes) != 1 or not resizes[0].get("keep_ratio", False) or "scale" not in resizes[0]:
        raise BadInput(
            "export supports test pipelines with one Resize(scale=..., keep_ratio=True) (what yunshi renders "
            f"from train.imageScale); this config has {[t['type'] for t in pipeline]}"
        )
    pre = cfg.model.data_preprocessor
    return {
        "scale": list(resizes[0]["scale"]),
        "mean": list(pre.get("mean", [0.0, 0.0, 0.0])),
        "std": list(pre.get("std", [1.0, 1.0, 1.0])),
        "bgr_to_rgb": bool(pre.get("bgr_to_rgb", False)),
        "pad_size_divisor": int(pre.get("pad_size_divisor", 1)),
        "pad_value": float(pre.get("pad_value", 0)),
    }


def match(torch_dets: list[dict], onnx_dets: list[dict], score_thr: float, box_tol: float, score_tol: float):
    """Greedy one-to-one matching by label and box distance; returns (problems, worst box, worst score)."""
    problems, worst_box, worst_score = [], 0.0, 0.0

    def corners(d):
        x, y, w, h = d["bbox"]
        return (x, y, x + w, y + h)

    def dist(a, b):
        return max(abs(p - q) for p, q in zip(corners(a), corners(b), strict=True))

    for side, ours, theirs in (("PyTorch", torch_dets, onnx_dets), ("ONNX", onnx_dets, torch_dets)):
        used: set[int] = set()
        for d in sorted(ours, key=lambda x: -x["score"]):
            if d["score"] < score_thr:
                continue
            # The other side may have it just under the threshold: compare against all of it.
            options = [
                (dist(d, o), i) for i, o in enumerate(theirs) if i not in used and o["category_id"] == d["category_id"]
            ]
            if not options:
                problems.append(f"{side} found {d['category']} {d['score']:.3f} at {d['bbox']}; the other side has no match")
                continue
            box, i = min(options)
            used.add(i)
            score = abs(theirs[i]["score"] - d["score"])
            worst_box, worst_score = max(worst_box, box), max(worst_score, score)
            if box > box_tol or score > score_tol:
                problems.append(
                    f"{side} {d['category']} {d['score']:.4f} {d['bbox']} vs {theirs[i]['score']:.4f} {theirs[i]['bbox']}: "
                    f"box off by {box:.3f} px, score by {score:.4f}"
                )
    return problems, worst_box, worst_score


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def val_pictures(cfg, count: int = 4) -> list[Path]:
    """The first pictures of the config's validation set, when they are on this machine."""
    ds = cfg.val_dataloader.dataset
    root = Path(ds.get("data_root") or "")
    ann = root / ds.ann_file
    if not ann.is_file():
        return []
    images = json.loads(ann.read_text(encoding="utf-8")).get("images", [])
    folder = root / (ds.get("data_prefix", {}).get("img") or "")
    found = [folder / im["file_name"] for im in images[:count]]
    return [p for p in found if p.is_file()]


def check_sha256(checkpoint: Path, expected: str) -> None:
    """BadInput unless the file is the one the manifest committed (it may have been replaced since)."""
    import hashlib

    if not checkpoint.is_file():
        raise BadInput(f"--checkpoint {checkpoint}: no such file")
    h = hashlib.sha256()
    with checkpoint.open("rb") as f:
        for chunk in iter(lambda: f.read(4 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != expected.lower():
        raise BadInput(
            f"--checkpoint {checkpoint}: SHA-256 {h.hexdigest()} is not the manifest's {expected}; "
            "the checkpoint was replaced after the export was submitted: submit the export again"
        )


def export(args: argparse.Namespace) -> int:
    if args.sha256 is not None:
        check_sha256(args.checkpoint, args.sha256)
    cfg = config_of(args.checkpoint, args.config)
    if not args.sample:
        args.sample = val_pictures(cfg)
        if not args.sample:
            raise BadInput(
                "no pictures to verify the export on: the config's validation set is not on this machine; "
                "pass --sample PICTURE (a few typical pictures)"
            )
    for s in args.sample:
        if not s.is_file():
            raise BadInput(f"--sample {s}: no such picture")
    import mmcv

    samples = []
    for s in args.sample:
        img = mmcv.imfrombytes(s.read_bytes())
        if img is None:
            raise BadInput(f"--sample {s}: cannot be decoded as an image")
        samples.append((s, img))

    preprocessing = preprocessing_of(cfg)
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    # The MMDeploy/ORT stack is imported only now: it is heavy and optional for training.
    import onnxruntime
    import torch
    from mmdeploy.apis import torch2onnx
    from mmdeploy.backend.sdk.export_info import export2SDK
    from mmdeploy.version import __version__ as mmdeploy_version
    from mmengine.config import Config

    deploy_cfg = Config(DEPLOY_CONFIG)
    model_cfg_file = out / "model_config.py"
    cfg.dump(str(model_cfg_file))
    deploy_cfg.dump(str(out / "deploy_config.py"))

    emit("exporting", tool=f"mmdeploy {mmdeploy_version}", opset=DEPLOY_CONFIG["onnx_config"]["opset_version"])
    t0 = time.monotonic()
    torch2onnx(
        str(samples[0][0]), str(out), "end2end.onnx", deploy_cfg, cfg, str(args.checkpoint), device="cpu"
    )
    export_seconds = time.monotonic() - t0
    export2SDK(deploy_cfg, cfg, str(out), pth=str(args.checkpoint), device="cpu")
    emit("exported", seconds=round(export_seconds, 2), bytes=(out / "end2end.onnx").stat().st_size)

    from yunshi_model import load_detector

    model = load_detector(args.checkpoint, args.config, "cpu")
    classes = list(model.dataset_meta["classes"])
    (out / "model.json").write_text(
        json.dumps({"classes": classes, **preprocessing}, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    shutil.copyfile(HERE / "yunshi_onnx_predict.py", out / "predict.py")

    from mmdet.apis import inference_detector
    from yunshi_onnx_predict import OnnxDetector
    from yunshi_predict import coco_results

    torch.set_num_threads(max(1, torch.get_num_threads()))
    detector = OnnxDetector(out)
    report = {
        "tool": f"mmdeploy {mmdeploy_version}",
        "onnxruntime": onnxruntime.__version__,
        "torch": torch.__version__,
        "deploy_config": "detection_onnxruntime_dynamic (MMDeploy 1.3.1)",
        "tolerance": {"score_thr": args.score_thr, "box_px": args.box_tol, "score": args.score_tol},
        "export_seconds": round(export_seconds, 2),
        "pictures": [],
    }
    failed = False
    for i, (path, img) in enumerate(samples, start=1):
        torch_dets = coco_results(i, str(path), inference_detector(model, img), classes, 0.0)
        onnx_dets = detector.detect(img, 0.0)
        problems, worst_box, worst_score = match(torch_dets, onnx_dets, args.score_thr, args.box_tol, args.score_tol)
        torch_ms = median_ms(lambda img=img: inference_detector(model, img), args.repeats)
        onnx_ms = median_ms(lambda img=img: detector.detect(img, args.score_thr), args.repeats)
        kept = sum(d["score"] >= args.score_thr for d in torch_dets)
        entry = {
            "file": str(path),
            "detections": kept,
            "max_box_diff_px": round(worst_box, 4),
            "max_score_diff": round(worst_score, 5),
            "pytorch_ms": round(torch_ms, 1),
            "onnxruntime_ms": round(onnx_ms, 1),
            "problems": problems,
        }
        report["pictures"].append(entry)
        failed = failed or bool(problems)
        emit("verified", index=i, total=len(samples), **entry)
    compared = sum(p["detections"] for p in report["pictures"])
    if compared == 0:
        # Agreement on "nothing found" proves nothing about boxes, scores or labels.
        failed = True
        report["problem"] = (
            f"no detection with score ≥ {args.score_thr} in the sample pictures: nothing was compared; "
            "pass --sample pictures that show the classes (or train the model further)"
        )
    report["verified"] = not failed
    for key in ("pytorch_ms", "onnxruntime_ms"):
        report[f"median_{key}"] = round(statistics.median(p[key] for p in report["pictures"]), 1)
    (out / "verification.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    if failed:
        emit("verification-failed", report=str(out / "verification.json"), problem=report.get("problem"))
        return EXIT_FAILED
    emit("done", out_dir=str(out), **{k: v for k, v in report.items() if k != "pictures"})
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return export(args)
    except BadInput as err:
        emit("bad-input", message=str(err))
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
