"""The trainer's side of the prepare verdict (yunshi_prepare.py), without MMDetection."""

from __future__ import annotations

import json
import os

import pytest
import yunshi_contract as C
import yunshi_prepare as P


def test_waits_until_the_verdict_appears_and_reports_while_waiting(tmp_path, capsys):
    path = tmp_path / "prepared.json"
    clock = {"t": 0.0}

    def sleep(s):
        clock["t"] += s
        if clock["t"] >= 45:
            path.write_text('{"ok": true, "seconds": 44}')

    doc, waited = P.wait_for_verdict(str(path), poll_s=1.0, sleep=sleep, clock=lambda: clock["t"])
    assert doc == {"ok": True, "seconds": 44} and waited == 45
    assert "waiting for the dataset and checkpoint (30 s so far)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "step, agent_code, kind",
    [("restore", 2, "checkpoint"), ("fetch-dataset", 2, "dataset"), ("fetch-pretrained", 2, "config"),
     ("restore", 1, None), ("fetch-dataset", 1, None)],
)  # fmt: skip
def test_input_errors_do_not_retry_and_the_rest_do(step, agent_code, kind):
    with pytest.raises(P.PrepareFailed) as e:
        P.check_verdict({"ok": False, "step": step, "exitCode": agent_code, "error": "why"})
    assert e.value.kind == kind and e.value.step == step and "why" in str(e.value)
    if kind is not None:
        assert C.FATAL_KINDS[kind] == C.PREPARE_FAILURE_EXIT[step]
        assert C.FATAL_KINDS[kind] in C.DO_NOT_RETRY_EXIT_CODES


def test_an_ok_verdict_resumes_from_what_restore_placed(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "epoch_3.pth").write_bytes(b"x")
    (work / C.LAST_CHECKPOINT_FILE).write_text(str(work / "epoch_3.pth"))
    (tmp_path / "v.json").write_text('{"ok": true, "seconds": 1}')
    prepared = P.resume_after_prepare(str(tmp_path / "v.json"), str(work))
    assert prepared.restore.used and prepared.restore.checkpoint == str(work / "epoch_3.pth")

    class Runner:
        _resume = False
        _load_from = "pretrained.pth"

    r = Runner()
    P.apply_resume(r, prepared.restore)
    assert (r._resume, r._load_from) == (True, str(work / "epoch_3.pth"))
    # A first run keeps load_from (the pretrained weights).
    fresh = P.resume_after_prepare(str(tmp_path / "v.json"), str(tmp_path))
    r2 = Runner()
    P.apply_resume(r2, fresh.restore)
    assert (r2._resume, r2._load_from) == (False, "pretrained.pth")


def test_an_ok_verdict_with_a_hostile_last_checkpoint_is_a_checkpoint_error(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / C.LAST_CHECKPOINT_FILE).write_text("/etc/passwd")
    (tmp_path / "v.json").write_text('{"ok": true, "seconds": 1}')
    with pytest.raises(P.CheckpointError, match="outside the work dir"):
        P.resume_after_prepare(str(tmp_path / "v.json"), str(work))


def test_a_symlinked_or_malformed_verdict_is_refused(tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text('{"ok": true}')
    os.symlink(target, tmp_path / "v.json")
    with pytest.raises(OSError):
        P.read_verdict(str(tmp_path / "v.json"))
    (tmp_path / "w.json").write_text(json.dumps(["ok"]))
    with pytest.raises(ValueError, match="not a prepare verdict"):
        P.read_verdict(str(tmp_path / "w.json"))
