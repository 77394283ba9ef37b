"""The launcher's decisions, without training: environment, resume, argv, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yunshi_contract as C
import yunshi_launch as L
from conftest import LAUNCHER

BASE_ENV = {"YUNSHI_CONFIG": "/c/config.py", "YUNSHI_WORK_DIR": "/w", "CUDA_VISIBLE_DEVICES": ""}


def settings(**env) -> L.Settings:
    return L.read_settings({**BASE_ENV, **env})


def test_defaults_are_the_pod_paths_and_one_cpu_process():
    s = L.read_settings({"CUDA_VISIBLE_DEVICES": ""})
    assert (s.config, s.work_dir) == (C.CONFIG_FILE, C.WORK_DIR)
    assert (s.nnodes, s.node_rank, s.nproc_per_node) == (1, 0, 1)
    assert (s.master_addr, s.master_port, s.grace_seconds) == ("127.0.0.1", 29500, C.DEFAULT_GRACE_SECONDS)


def test_nproc_defaults_to_visible_gpus():
    assert L.read_settings({"CUDA_VISIBLE_DEVICES": "0,1,2"}).nproc_per_node == 3
    assert L.read_settings({"CUDA_VISIBLE_DEVICES": "0,1", "YUNSHI_NPROC_PER_NODE": "1"}).nproc_per_node == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"YUNSHI_NNODES": "two"}, "YUNSHI_NNODES='two' is not an integer"),
        ({"YUNSHI_NNODES": "0"}, "YUNSHI_NNODES=0 is below 1"),
        ({"YUNSHI_NNODES": "2", "YUNSHI_NODE_RANK": "2", "YUNSHI_MASTER_ADDR": "m"}, "must be below"),
        ({"YUNSHI_NNODES": "2", "YUNSHI_NODE_RANK": "1"}, "YUNSHI_MASTER_ADDR is required"),
        ({"YUNSHI_GRACE_SECONDS": "soon"}, "is not a number of seconds"),
        ({"YUNSHI_MASTER_PORT": "-1"}, "YUNSHI_MASTER_PORT=-1 is below 1"),
    ],
)
def test_bad_environment_is_named(env, message):
    with pytest.raises(L.LaunchError, match=message):
        settings(**env)


def test_bad_environment_exits_with_the_config_error_code(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNSHI_")}
    env.update({"YUNSHI_NNODES": "x", "YUNSHI_WORK_DIR": str(tmp_path)})
    proc = subprocess.run([sys.executable, str(LAUNCHER)], env=env, capture_output=True, text=True)
    assert proc.returncode == C.EXIT_CONFIG_ERROR
    assert "YUNSHI_NNODES='x' is not an integer" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_config_file_exits_3(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNSHI_")}
    env.update({"YUNSHI_CONFIG": str(tmp_path / "nope.py"), "YUNSHI_WORK_DIR": str(tmp_path / "w")})
    proc = subprocess.run([sys.executable, str(LAUNCHER)], env=env, capture_output=True, text=True)
    assert proc.returncode == C.EXIT_CONFIG_ERROR
    assert "nope.py does not exist" in proc.stderr


def test_resume_only_from_an_existing_named_file(tmp_path):
    assert L.find_resume(str(tmp_path)) == L.Restore(False, None, False, L.find_resume(str(tmp_path)).reason)
    marker = tmp_path / "last_checkpoint"
    marker.write_text("")
    r = L.find_resume(str(tmp_path))
    assert (r.found, r.used) == (True, False)
    (tmp_path / "iter_4.pth").write_bytes(b"x")
    marker.write_text(str(tmp_path / "iter_4.pth"))
    r = L.find_resume(str(tmp_path))
    assert (r.found, r.checkpoint, r.used) == (True, str(tmp_path / "iter_4.pth"), True)
    # A relative name is taken relative to the work dir.
    marker.write_text("iter_4.pth\n")
    assert L.find_resume(str(tmp_path)).checkpoint == str(tmp_path / "iter_4.pth")


def _refused(work: Path, match: str) -> None:
    with pytest.raises(L.CheckpointError, match=match):
        L.find_resume(str(work))


def test_a_named_but_missing_checkpoint_fails_loudly(tmp_path):
    # Restore places the file before it writes last_checkpoint: a missing one is a broken
    # volume or restore step, and starting from scratch would silently lose the run.
    (tmp_path / "last_checkpoint").write_text(str(tmp_path / "iter_4.pth"))
    _refused(tmp_path, r"names .*iter_4\.pth, which does not exist\. Restore places the file")


def test_only_a_regular_file_inside_the_work_dir_is_resumed_from(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "elsewhere.pth"
    outside.write_bytes(b"attacker")
    marker = work / "last_checkpoint"
    marker.write_text(str(outside))
    _refused(work, r"outside the work dir")
    marker.write_text("../elsewhere.pth")
    _refused(work, r"outside the work dir")
    marker.write_text(str(work))
    _refused(work, r"outside the work dir")
    # A symlink inside the work dir that points outside it.
    (work / "epoch_1.pth").symlink_to(outside)
    marker.write_text(str(work / "epoch_1.pth"))
    _refused(work, r"outside the work dir")
    # A symlink that stays inside is still not a regular file.
    (work / "epoch_2.pth").write_bytes(b"x")
    (work / "epoch_3.pth").symlink_to(work / "epoch_2.pth")
    marker.write_text(str(work / "epoch_3.pth"))
    _refused(work, r"is a symlink; only a regular file")
    (work / "epoch_4.pth").mkdir()
    marker.write_text(str(work / "epoch_4.pth"))
    _refused(work, r"is not a regular file")
    # last_checkpoint itself a symlink: it could make the launcher read any file.
    marker.unlink()
    (tmp_path / "fake").write_text(str(work / "epoch_2.pth"))
    marker.symlink_to(tmp_path / "fake")
    _refused(work, r"last_checkpoint is a symlink; refusing to follow it")


def test_unreadable_markers_are_clear_errors_not_tracebacks(tmp_path):
    marker = tmp_path / "last_checkpoint"
    marker.write_bytes(b"/yunshi/work/\xff\xfeepoch_1.pth")
    _refused(tmp_path, r"is not UTF-8 text \(byte 13: b'\\xff'\); it must hold one path")
    marker.write_text(str(tmp_path / ("n" * 300 + ".pth")))
    _refused(tmp_path, r"cannot be read: File name too long")
    marker.write_text("a\0b")
    _refused(tmp_path, r"must hold one path")
    marker.unlink()
    marker.mkdir()
    _refused(tmp_path, r"cannot read .*last_checkpoint: Is a directory")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"/etc/passwd", "outside the work dir"),
        (b"\xff\xfe", "is not UTF-8 text"),
        (None, "which does not exist"),
    ],
)
def test_checkpoint_errors_exit_6_with_a_termination_message(tmp_path, content, message):
    work = tmp_path / "work"
    work.mkdir()
    (work / "last_checkpoint").write_bytes(content if content is not None else str(work / "epoch_9.pth").encode())
    config = tmp_path / "config.py"
    config.write_text("x = 1\n")
    termination = tmp_path / "termination-log"
    termination.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNSHI_")}
    env.update(
        {"YUNSHI_CONFIG": str(config), "YUNSHI_WORK_DIR": str(work), "YUNSHI_TERMINATION_LOG": str(termination)}
    )
    proc = subprocess.run([sys.executable, str(LAUNCHER)], env=env, capture_output=True, text=True)
    assert proc.returncode == C.EXIT_CHECKPOINT_ERROR == 6, proc.stderr
    assert "checkpoint error: " in proc.stderr and message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert termination.read_text().startswith("exit 6: ") and message in termination.read_text()
    assert C.EXIT_CHECKPOINT_ERROR in C.DO_NOT_RETRY_EXIT_CODES


def test_single_process_uses_launcher_none_and_explicit_resume():
    argv = L.train_argv(settings(), None, python="py")
    assert argv == ["py", L.TRAIN_ENTRY, "/c/config.py", "--work-dir", "/w", "--launcher", "none"]
    argv = L.train_argv(settings(), "/w/iter_4.pth", python="py")
    assert argv[-2:] == ["--resume", "/w/iter_4.pth"]
    # Never the bare --resume, which would drop load_from.
    assert all(a != "--resume" or argv[i + 1].endswith(".pth") for i, a in enumerate(argv))


def test_several_processes_use_torchrun_and_launcher_pytorch():
    s = settings(
        YUNSHI_NNODES="2",
        YUNSHI_NODE_RANK="1",
        YUNSHI_NPROC_PER_NODE="8",
        YUNSHI_MASTER_ADDR="job-0.job",
        YUNSHI_MASTER_PORT="29500",
    )
    argv = L.train_argv(s, None, python="py")
    assert argv == [
        "py", "-m", "torch.distributed.run",
        "--nnodes", "2", "--node_rank", "1", "--nproc_per_node", "8",
        "--master_addr", "job-0.job", "--master_port", "29500", "--max_restarts", "0",
        L.TRAIN_ENTRY, "/c/config.py", "--work-dir", "/w", "--launcher", "pytorch",
    ]  # fmt: skip


def test_dry_run_prints_the_argv(tmp_path):
    (tmp_path / "iter_2.pth").write_bytes(b"x")
    (tmp_path / "last_checkpoint").write_text(str(tmp_path / "iter_2.pth"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNSHI_")}
    env.update({"YUNSHI_WORK_DIR": str(tmp_path), "YUNSHI_NPROC_PER_NODE": "2"})
    proc = subprocess.run([sys.executable, str(LAUNCHER), "--dry-run"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    argv = json.loads(proc.stdout)
    assert "torch.distributed.run" in argv and argv[-2:] == ["--resume", str(tmp_path / "iter_2.pth")]


@pytest.mark.parametrize(
    ("rc", "lines", "expected"),
    [
        (0, ["Epoch(train) [1][4/4] loss: 1.2"], (C.EXIT_OK, "completed")),
        (0, [f"{C.PREEMPTED_MARKER}: checkpoint /w/iter_3.pth saved at iteration 3"], (C.EXIT_FAILED, "preempted")),
        (3, [f"{C.FATAL_MARKER} (config): KeyError: 'Foo is not in the model registry'"], (3, "config")),
        (1, [f"{C.FATAL_MARKER} (dataset): FileNotFoundError: x"], (4, "dataset")),
        (1, ["torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"], (5, "cuda-oom")),
        (1, ["RuntimeError: NCCL communicator was aborted"], (C.EXIT_FAILED, "failed")),
        (-9, [], (C.EXIT_FAILED, "failed")),
    ],
)
def test_exit_codes_follow_the_output(rc, lines, expected):
    scan = L.OutputScan()
    for line in lines:
        scan.feed(line)
    assert L.exit_code(rc, scan) == expected


def test_runs_through_a_symlink_like_the_image(tmp_path):
    link = tmp_path / "yunshi-launch"
    link.symlink_to(LAUNCHER)
    proc = subprocess.run([sys.executable, str(link), "--print-contract"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["indexOverridesKey"] == C.INDEX_OVERRIDES_KEY


def test_launcher_imports_only_the_standard_library():
    code = (
        f"import sys; sys.path.insert(0, {str(LAUNCHER.parent)!r}); import yunshi_launch;"
        "print([n for n in ('torch', 'mmengine', 'mmdet', 'mmcv', 'numpy') if n in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_no_shell_anywhere():
    for name in ("yunshi_launch.py", "yunshi_train.py", "yunshi_preemption.py"):
        src = (Path(LAUNCHER).parent / name).read_text()
        assert "shell=True" not in src and "os.system" not in src and "os.popen" not in src
