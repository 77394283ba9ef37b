#!/usr/bin/env python3
"""Detect objects with an exported yunshi model: ONNX Runtime, NumPy and OpenCV only.

    python predict.py PICTURE... [--score-thr 0.3]

Shipped next to end2end.onnx and model.json by `yunshi export` (as predict.py), and used
by the export itself to verify the ONNX model against PyTorch, so what is verified is what
ships. The preprocessing repeats the training config's test pipeline exactly as MMDetection
does it: Resize with keep_ratio (mmcv.imrescale: cv2 bilinear), BGR→RGB, (x - mean) / std,
zero padding to a multiple of the size divisor. The network returns boxes in the resized
picture's pixels; they are divided by the scale factor, as MMDetection's rescale does.
Prints one JSON object per picture: {file, detections: [{category, category_id, bbox
[x, y, w, h], score}]}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

MODEL_FILE = "end2end.onnx"
INFO_FILE = "model.json"


class OnnxDetector:
    def __init__(self, model_dir: Path, providers: list[str] | None = None):
        import onnxruntime as ort

        self.info = json.loads((model_dir / INFO_FILE).read_text(encoding="utf-8"))
        options = ort.SessionOptions()
        self.session = ort.InferenceSession(
            str(model_dir / MODEL_FILE), options, providers=providers or ["CPUExecutionProvider"]
        )

    def preprocess(self, bgr: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
        h, w = bgr.shape[:2]
        long_edge, short_edge = max(self.info["scale"]), min(self.info["scale"])
        factor = min(long_edge / max(h, w), short_edge / min(h, w))
        new_w, new_h = int(w * factor + 0.5), int(h * factor + 0.5)
        img = cv2.resize(bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        scale = (new_w / w, new_h / h)
        img = img.astype(np.float32)
        if self.info["bgr_to_rgb"]:
            img = img[..., ::-1]
        img = (img - np.array(self.info["mean"], np.float32)) / np.array(self.info["std"], np.float32)
        d = self.info["pad_size_divisor"]
        pad_h, pad_w = -(-new_h // d) * d, -(-new_w // d) * d
        padded = np.full((pad_h, pad_w, 3), self.info["pad_value"], np.float32)
        padded[:new_h, :new_w] = img
        return padded.transpose(2, 0, 1)[None].copy(), scale

    def detect(self, bgr: np.ndarray, score_thr: float = 0.3) -> list[dict]:
        tensor, (sx, sy) = self.preprocess(bgr)
        dets, labels = self.session.run(["dets", "labels"], {"input": tensor})
        h, w = bgr.shape[:2]
        out = []
        for (x1, y1, x2, y2, score), label in zip(dets[0].tolist(), labels[0].tolist(), strict=True):
            if score < score_thr:
                continue
            x1, x2 = min(max(x1 / sx, 0.0), w), min(max(x2 / sx, 0.0), w)
            y1, y2 = min(max(y1 / sy, 0.0), h), min(max(y2 / sy, 0.0), h)
            out.append(
                {
                    "category": self.info["classes"][int(label)],
                    "category_id": int(label) + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "score": score,
                }
            )
        return out


def read_image(path: Path) -> np.ndarray:
    """BGR pixels; np.fromfile + imdecode so non-ASCII (Chinese) paths work too."""
    img = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"{path}: cannot be decoded as an image")
    return img


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pictures", nargs="+", type=Path)
    p.add_argument("--score-thr", type=float, default=0.3)
    p.add_argument("--model-dir", type=Path, default=Path(__file__).resolve().parent)
    args = p.parse_args(argv)
    detector = OnnxDetector(args.model_dir)
    for picture in args.pictures:
        found = detector.detect(read_image(picture), args.score_thr)
        print(json.dumps({"file": str(picture), "detections": found}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
