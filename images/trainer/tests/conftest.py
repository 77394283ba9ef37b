"""Fixtures: the tiny dataset, configs rendered by the project's own renderer, launcher runs."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
TRAINER = TESTS.parent
REPO = TRAINER.parents[1]
LAUNCHER = TRAINER / "yunshi_launch.py"
sys.path.insert(0, str(TRAINER))
sys.path.insert(0, str(TESTS))

from tiny_coco import CLASSES, make_dataset  # noqa: E402

# CPU-sized from the spec alone: fp32, no GPU, tiny images, ResNet-18 without pretrained
# weights, narrow necks and heads through cfgOptions. Everything else is the renderer's
# Faster R-CNN R50-FPN config.
BASE_SPEC = {
    "version": 1,
    "name": "trainer-test",
    "model": {"config": "mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py", "pretrained": "none"},
    "dataset": {
        "uri": "s3://yunshi-test/datasets/tiny/",
        "train": {"annotations": "annotations/train.json", "images": "images/"},
        "val": {"annotations": "annotations/val.json", "images": "images/"},
        "classes": CLASSES,
    },
    "train": {
        "epochs": 1,
        "batchPerGpu": 2,
        "workersPerGpu": 0,
        "optimizer": {"type": "SGD", "lr": 0.01, "momentum": 0.9, "weightDecay": 0.0001},
        "schedule": {"policy": "step", "warmup": "linear", "warmupIters": 2, "warmupRatio": 0.1, "steps": [1]},
        "precision": "fp32",
        "imageScale": [128, 96],
        "logInterval": 1,
        "cfgOptions": {
            "model.backbone.depth": 18,
            "model.backbone.init_cfg": None,
            "model.neck.in_channels": [64, 128, 256, 512],
            # Narrow FPN and heads, fewer proposals: ~10x less work per CPU iteration.
            "model.neck.out_channels": 64,
            "model.rpn_head.in_channels": 64,
            "model.rpn_head.feat_channels": 64,
            "model.roi_head.bbox_roi_extractor.out_channels": 64,
            "model.roi_head.bbox_head.in_channels": 64,
            "model.roi_head.bbox_head.fc_out_channels": 128,
            "model.train_cfg.rpn_proposal.nms_pre": 200,
            "model.train_cfg.rpn_proposal.max_per_img": 100,
            "model.train_cfg.rcnn.sampler.num": 64,
            "model.test_cfg.rpn.nms_pre": 200,
            "model.test_cfg.rpn.max_per_img": 50,
            "model.test_cfg.rcnn.max_per_img": 20,
        },
    },
    "resources": {"nodes": 1, "gpusPerNode": 0, "spot": False},
    "checkpoint": {"every": {"iters": 2}, "keep": 2},
    "maxRuntime": "1h",
    "retries": 0,
}


def spec(**changes) -> dict:
    """BASE_SPEC with dotted-path changes, e.g. spec(**{"train.epochs": 2})."""
    s = copy.deepcopy(BASE_SPEC)
    for dotted, value in changes.items():
        node = s
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return s


def render_config(spec_doc: dict, data_root: Path, out_dir: Path) -> Path:
    """exp.yaml → config.py through `jobs/cli.ts config` (the renderer, not a hand copy)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    exp = out_dir / "exp.yaml"
    # JSON is YAML: no YAML writer needed here.
    exp.write_text(json.dumps(spec_doc, ensure_ascii=False, indent=2), encoding="utf-8")
    tsx = REPO / "node_modules" / ".bin" / "tsx"
    proc = subprocess.run(
        [str(tsx), "jobs/cli.ts", "config", str(exp), "--data-root", str(data_root)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"render failed ({proc.returncode}): {proc.stderr}"
    config = out_dir / "config.py"
    config.write_text(proc.stdout, encoding="utf-8")
    return config


@dataclass
class Run:
    proc: subprocess.Popen
    log: Path
    work_dir: Path

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(f"launcher still running after {timeout}s; log:\n{self.output()[-4000:]}")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def goodput(self) -> dict:
        return json.loads((self.work_dir / "goodput.json").read_text(encoding="utf-8"))

    def last_checkpoint(self) -> str | None:
        p = self.work_dir / "last_checkpoint"
        return p.read_text().strip() if p.exists() else None


def launch(config: Path, work_dir: Path, log: Path, **env) -> Run:
    """Start yunshi-launch as the pod would: only environment variables, no arguments."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("YUNSHI_")}
    full.update(
        {
            "YUNSHI_EXPERIMENT": "trainer-test",
            "YUNSHI_CONFIG": str(config),
            "YUNSHI_WORK_DIR": str(work_dir),
            "YUNSHI_NPROC_PER_NODE": "1",
            "YUNSHI_GRACE_SECONDS": "60",
            "CUDA_VISIBLE_DEVICES": "",
            "PYTHONPATH": str(TESTS),
        }
    )
    full.update({k: str(v) for k, v in env.items()})
    f = open(log, "wb")
    proc = subprocess.Popen(
        [sys.executable, str(LAUNCHER)],
        stdout=f,
        stderr=subprocess.STDOUT,
        env=full,
        start_new_session=True,
    )
    f.close()
    return Run(proc, log, work_dir)


def wait_for(predicate, timeout: float, run: Run | None = None, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if run is not None and run.proc.poll() is not None:
            raise AssertionError(f"launcher exited {run.proc.returncode} before {what}:\n{run.output()[-4000:]}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("数据"))
