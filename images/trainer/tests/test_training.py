"""Real MMDetection 3.3 training on CPU through the launcher, configs from the renderer.

Each test renders its experiment with `jobs/cli.ts config`, starts `yunshi_launch.py` with
only the pod's environment variables, and checks what a pod would leave in its work dir.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time

import pytest
import torch
import yunshi_contract as C
from conftest import launch, render_config, spec, wait_for

# One ResNet-18 Faster R-CNN iteration at 128×96 takes well under a second on one core;
# these limits only stop a hung run.
RUN_TIMEOUT = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def checkpoint_meta(path: str) -> dict:
    return torch.load(path, map_location="cpu")["meta"]


def child_pid(run) -> int:
    """The training process group's leader, from the launcher's own log line."""
    wait_for(lambda: "started training as pid" in run.output(), 60, run, "the training process")
    return int(re.search(r"started training as pid (\d+)", run.output()).group(1))


@pytest.fixture(scope="module")
def first_run(dataset, tmp_path_factory):
    """One epoch (4 iterations), a checkpoint every 2 iterations, and one list-index override."""
    d = tmp_path_factory.mktemp("first")
    cfg_options = dict(spec()["train"]["cfgOptions"])
    cfg_options["train_dataloader.dataset.pipeline.3.prob"] = 0.25
    config = render_config(spec(**{"train.cfgOptions": cfg_options}), dataset, d)
    run = launch(config, d / "work", d / "run.log")
    rc = run.wait(RUN_TIMEOUT)
    assert rc == 0, run.output()[-4000:]
    return run, config


def test_trains_logs_losses_and_checkpoints(first_run):
    run, config = first_run
    assert C.INDEX_OVERRIDES_KEY in config.read_text(encoding="utf-8")
    out = run.output()
    losses = re.findall(r"Epoch\(train\) +\[1\]\[(\d)/4\].*loss: ([0-9.]+).*loss_cls: [0-9.]+.*loss_bbox: [0-9.]+", out)
    assert [int(i) for i, _ in losses] == [1, 2, 3, 4]
    assert all(float(loss) > 0 for _, loss in losses)
    work = run.work_dir
    assert run.last_checkpoint() == str(work / "iter_4.pth")
    assert (work / "iter_2.pth").is_file() and (work / "iter_4.pth").is_file()
    assert checkpoint_meta(str(work / "iter_4.pth"))["iter"] == 4
    assert "resumed epoch" not in out
    # The list-index override reached the Runner (the dumped config is what it built).
    dumped = (work / "config.py").read_text(encoding="utf-8")
    assert C.INDEX_OVERRIDES_KEY not in dumped
    assert re.search(r"type='RandomFlip'[^)]*prob=0\.25|prob=0\.25[^)]*type='RandomFlip'", dumped)

    attempt = run.goodput()["attempts"][0]
    assert run.goodput()["experiment"] == "trainer-test"
    assert attempt["restore"] == {"found": False, "checkpoint": None, "used": False}
    assert attempt["firstIteration"] == 1 and attempt["lastIteration"] == 4
    assert attempt["startedAt"] <= attempt["runnerStartedAt"] <= attempt["firstIterationAt"] <= attempt["lastIterationAt"]
    assert [c["iter"] for c in attempt["checkpoints"]] == [2, 4]
    assert all(c["endedAt"] >= c["startedAt"] for c in attempt["checkpoints"])
    assert attempt["checkpoints"][-1]["file"] == str(work / "iter_4.pth")
    assert (attempt["exitCode"], attempt["outcome"]) == (0, "completed")


def test_killed_run_resumes_where_it_stopped_and_keeps_load_from_first(first_run, dataset, tmp_path):
    pretrained = str(first_run[0].work_dir / "iter_4.pth")
    cfg_options = dict(spec()["train"]["cfgOptions"], load_from=pretrained)
    config = render_config(spec(**{"train.epochs": 2, "train.cfgOptions": cfg_options}), dataset, tmp_path)
    work = tmp_path / "work"

    first = launch(config, work, tmp_path / "run1.log")
    pid = child_pid(first)
    wait_for(lambda: bool(first.last_checkpoint()), RUN_TIMEOUT, first, "a first checkpoint")
    # Node loss: everything dies at once, nothing gets to clean up.
    os.killpg(pid, signal.SIGKILL)
    os.killpg(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    killed_at = first.last_checkpoint()
    killed_iter = checkpoint_meta(killed_at)["iter"]
    assert f"Load checkpoint from {pretrained}" in first.output()
    assert "resumed epoch" not in first.output()

    second = launch(config, work, tmp_path / "run2.log")
    assert second.wait(RUN_TIMEOUT) == 0, second.output()[-4000:]
    out = second.output()
    assert f"resuming from {killed_at}" in out
    assert re.search(rf"resumed epoch: \d+, iter: {killed_iter}\b", out)
    assert f"Load checkpoint from {pretrained}" not in out

    first_attempt, second_attempt = second.goodput()["attempts"]
    assert first_attempt["restore"]["used"] is False and "endedAt" not in first_attempt
    assert second_attempt["restore"] == {"found": True, "checkpoint": killed_at, "used": True}
    assert second_attempt["loaded"]["resumed"] is True and second_attempt["loaded"]["iter"] == killed_iter
    assert second_attempt["firstIteration"] == killed_iter + 1
    final = checkpoint_meta(second.last_checkpoint())
    assert final["iter"] == second_attempt["lastIteration"] > killed_iter
    assert second_attempt["outcome"] == "completed"


@pytest.mark.parametrize("every", [{"epochs": 1}, {"iters": 100}], ids=["epoch-checkpoints", "iter-checkpoints"])
def test_sigterm_checkpoints_at_the_next_iteration_and_exits_within_grace(dataset, tmp_path, every):
    grace = 60
    config = render_config(
        spec(**{"train.epochs": 2, "train.workersPerGpu": 1, "checkpoint.every": every}), dataset, tmp_path
    )
    run = launch(config, tmp_path / "work", tmp_path / "run.log", YUNSHI_GRACE_SECONDS=grace)
    wait_for(lambda: re.search(r"Epoch\(train\) +\[1\]\[2/4\]", run.output()), RUN_TIMEOUT, run, "iteration 2")
    sent = time.monotonic()
    run.proc.send_signal(signal.SIGTERM)
    rc = run.wait(grace + 30)
    elapsed = time.monotonic() - sent
    out = run.output()
    assert rc == C.EXIT_FAILED, out[-4000:]  # retryable, and not "completed"
    assert elapsed < grace, f"exited {elapsed:.1f}s after SIGTERM"

    saved = re.findall(r"SIGTERM: saving a checkpoint at iteration (\d+)", out)
    assert len(saved) == 1
    iteration = int(saved[0])
    # Stopped right after the save: no training iteration logged past it.
    assert len(re.findall(r"Epoch\(train\)", out)) == iteration
    assert iteration < 8
    ckpt = run.last_checkpoint()
    meta = checkpoint_meta(ckpt)
    if "epochs" in every and iteration % 4 == 0:
        # SIGTERM in an epoch's last iteration: the normal end-of-epoch checkpoint.
        assert ckpt == str(run.work_dir / f"epoch_{iteration // 4}.pth")
        assert (meta["iter"], meta["epoch"]) == (iteration, iteration // 4)
    else:
        # Mid-epoch: the unfinished epoch is recorded, so resuming repeats it.
        assert ckpt == str(run.work_dir / f"iter_{iteration}.pth")
        assert (meta["iter"], meta["epoch"]) == (iteration, (iteration - 1) // 4)
    attempt = run.goodput()["attempts"][0]
    assert attempt["outcome"] == "preempted" and attempt["killedAfterGrace"] is False
    assert attempt["lastIteration"] == iteration
    assert attempt["checkpoints"][-1]["reason"] == "preemption"
    assert attempt["checkpoints"][-1]["startedAt"] >= attempt["sigtermAt"]

    # The preemption checkpoint is a normal resume point.
    again = launch(config, run.work_dir, tmp_path / "run2.log")
    assert again.wait(RUN_TIMEOUT) == 0, again.output()[-4000:]
    assert re.search(rf"resumed epoch: {meta['epoch']}, iter: {iteration}\b", again.output())


def test_two_cpu_processes_train_together_and_only_rank_0_writes(dataset, tmp_path):
    probe = tmp_path / "probe"
    probe.mkdir()
    cfg_options = dict(
        spec()["train"]["cfgOptions"],
        custom_imports={"imports": ["rank_probe"], "allow_failed_imports": False},
    )
    config = render_config(spec(**{"train.cfgOptions": cfg_options, "checkpoint.every": {"iters": 1}}), dataset, tmp_path)
    run = launch(
        config,
        tmp_path / "work",
        tmp_path / "run.log",
        YUNSHI_NPROC_PER_NODE=2,
        YUNSHI_MASTER_PORT=free_port(),
        RANK_PROBE_DIR=probe,
    )
    assert run.wait(RUN_TIMEOUT) == 0, run.output()[-4000:]
    out = run.output()
    assert "torch.distributed.run" in out and '"--launcher", "pytorch"' in out  # argv is JSON-logged
    assert '"--nproc_per_node", "2"' in out and "Distributed training: True" in out
    # 8 images, 2 ranks, 2 per batch: 2 iterations, each rank seeing its own half.
    assert re.search(r"Epoch\(train\) +\[1\]\[2/2\]", out)
    assert sorted(p.name for p in probe.iterdir()) == ["loaded-rank-0", "loaded-rank-1", "rank-0.txt"]
    written = (probe / "rank-0.txt").read_text().split()
    assert written == [str(run.work_dir / "iter_1.pth"), str(run.work_dir / "iter_2.pth")]
    assert run.last_checkpoint() == str(run.work_dir / "iter_2.pth")


def test_config_error_exits_with_the_do_not_retry_code(dataset, tmp_path):
    cfg_options = dict(spec()["train"]["cfgOptions"], **{"model.backbone.depth": 7})
    config = render_config(spec(**{"train.cfgOptions": cfg_options}), dataset, tmp_path)
    run = launch(config, tmp_path / "work", tmp_path / "run.log")
    rc = run.wait(RUN_TIMEOUT)
    assert rc == C.EXIT_CONFIG_ERROR and rc in C.DO_NOT_RETRY_EXIT_CODES, run.output()[-4000:]
    assert f"{C.FATAL_MARKER} (config): KeyError" in run.output()
    assert run.goodput()["attempts"][0]["outcome"] == "config"


def test_missing_dataset_exits_with_the_dataset_code(tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    config = render_config(spec(), empty, tmp_path)
    run = launch(config, tmp_path / "work", tmp_path / "run.log")
    rc = run.wait(RUN_TIMEOUT)
    assert rc == C.EXIT_DATASET_ERROR, run.output()[-4000:]
    assert re.search(rf"{re.escape(C.FATAL_MARKER)} \(dataset\): FileNotFoundError: .*annotations/train\.json", run.output())


def test_sigterm_under_torchrun_stops_both_ranks_after_one_checkpoint(dataset, tmp_path):
    probe = tmp_path / "probe"
    probe.mkdir()
    cfg_options = dict(
        spec()["train"]["cfgOptions"],
        custom_imports={"imports": ["rank_probe"], "allow_failed_imports": False},
    )
    config = render_config(
        spec(**{"train.cfgOptions": cfg_options, "train.epochs": 4, "checkpoint.every": {"epochs": 1}}),
        dataset,
        tmp_path,
    )
    run = launch(
        config,
        tmp_path / "work",
        tmp_path / "run.log",
        YUNSHI_NPROC_PER_NODE=2,
        YUNSHI_MASTER_PORT=free_port(),
        RANK_PROBE_DIR=probe,
    )
    wait_for(lambda: re.search(r"Epoch\(train\) +\[1\]\[1/2\]", run.output()), RUN_TIMEOUT, run, "iteration 1")
    sent = time.monotonic()
    run.proc.send_signal(signal.SIGTERM)
    rc = run.wait(60)
    out = run.output()
    # torchrun relays SIGTERM to the ranks and gives them 30 s before SIGKILL.
    assert rc == C.EXIT_FAILED and time.monotonic() - sent < 30, out[-4000:]
    saved = re.findall(r"SIGTERM: saving a checkpoint at iteration (\d+)", out)
    assert len(saved) == 1  # logged by rank 0; both ranks stopped after the same iteration
    iteration = int(saved[0])
    assert len(re.findall(r"Epoch\(train\)", out)) == iteration
    assert out.count(C.PREEMPTED_MARKER) == 2  # one line per rank
    ckpt = run.last_checkpoint()
    assert checkpoint_meta(ckpt)["iter"] == iteration
    assert (probe / "rank-0.txt").read_text().split() == [ckpt] and not (probe / "rank-1.txt").exists()
    assert run.goodput()["attempts"][0]["outcome"] == "preempted"


def test_builds_while_prepare_runs_then_resumes_from_what_it_restored(first_run, tmp_path):
    """The pod's order since prepare became a sidecar: the trainer imports and builds the
    Runner while the dataset and checkpoint arrive, waits for the verdict, then resumes."""
    _, config = first_run
    restored = first_run[0].work_dir / "iter_4.pth"
    work = tmp_path / "work"
    work.mkdir()
    verdict = tmp_path / "status" / "prepared.json"
    verdict.parent.mkdir()
    run = launch(config, work, tmp_path / "run.log", YUNSHI_PREPARE_VERDICT=verdict)
    # The Runner (model, hooks) is built, and the trainer waits for prepare's verdict.
    wait_for(lambda: "ready to train; waiting for" in run.output(), RUN_TIMEOUT, run, "the wait")
    time.sleep(1)
    assert "Epoch(train)" not in run.output() and run.proc.poll() is None
    # What restore does: place the checkpoint, then last_checkpoint, then the verdict.
    (work / "iter_4.pth").write_bytes(restored.read_bytes())
    (work / "last_checkpoint").write_text(str(work / "iter_4.pth"))
    tmp = verdict.with_suffix(".tmp")
    tmp.write_text('{"ok": true, "seconds": 12.5}')
    tmp.rename(verdict)
    assert run.wait(RUN_TIMEOUT) == 0, run.output()[-4000:]
    out = run.output()
    assert f"resume is decided after {verdict}" in out
    waited = float(re.search(r"prepared \(waited ([\d.]+) s after the Runner was built\)", out).group(1))
    assert waited >= 1.0
    assert f"resuming from {work / 'iter_4.pth'}" in out
    assert re.search(r"resumed epoch: \d+, iter: 4\b", out)
    attempt = run.goodput()["attempts"][-1]
    assert attempt["restore"] == {"found": True, "checkpoint": str(work / "iter_4.pth"), "used": True}


@pytest.mark.parametrize(
    "verdict, code, said",
    [
        ({"ok": False, "step": "restore", "exitCode": 2, "error": "LATEST.json is not JSON"}, 6, "(checkpoint)"),
        ({"ok": False, "step": "fetch-dataset", "exitCode": 2, "error": "nothing found at s3://b/d/"}, 4, "(dataset)"),
        ({"ok": False, "step": "restore", "exitCode": 1, "error": "503 SlowDown"}, 1, "a retry may fix it"),
    ],
    ids=["corrupt-manifest", "no-dataset", "network"],
)
def test_a_failed_prepare_step_exits_with_its_code(first_run, tmp_path, verdict, code, said):
    _, config = first_run
    path = tmp_path / "prepared.json"
    path.write_text(json.dumps(verdict))
    run = launch(config, tmp_path / "work", tmp_path / "run.log", YUNSHI_PREPARE_VERDICT=path)
    assert run.wait(RUN_TIMEOUT) == code, run.output()[-4000:]
    out = run.output()
    assert said in out and verdict["error"] in out
    assert "Epoch(train)" not in out
