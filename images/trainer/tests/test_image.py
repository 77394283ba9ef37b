"""The image's static parts: Dockerfile lint, pins shared with this venv, the CJK font setup."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from conftest import REPO, TRAINER

HADOLINT = Path(sys.prefix) / "bin" / "hadolint"


def pins(name: str) -> dict[str, str]:
    out = {}
    for line in (TRAINER / name).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s#]+)", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def test_dockerfiles_pass_hadolint():
    dockerfiles = sorted(REPO.glob("images/*/Dockerfile"))
    assert TRAINER / "Dockerfile" in dockerfiles
    for dockerfile in dockerfiles:
        proc = subprocess.run([str(HADOLINT), str(dockerfile)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{dockerfile}:\n{proc.stdout}{proc.stderr}"


def test_every_requirement_is_pinned_and_installed_here():
    for name in ("requirements.txt", "requirements-torch.txt", "requirements-test.txt"):
        lines = [ln for ln in (TRAINER / name).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        assert all("==" in ln for ln in lines), f"{name}: unpinned line"
        for package, version in pins(name).items():
            installed = metadata.version(package)
            assert installed.split("+")[0] == version, f"{package}: pinned {version}, installed {installed}"


def test_the_version_matrix():
    req = pins("requirements.txt")
    assert req["mmcv"] == "2.1.0"  # mmdet 3.3.0 asserts mmcv < 2.2.0
    assert req["mmdet"] == "3.3.0" and req["mmengine"].startswith("0.10.")
    assert int(req["numpy"].split(".")[0]) < 2  # torch 2.1 predates NumPy 2
    assert "opencv-python" not in req and "opencv-python-headless" in req
    assert pins("requirements-torch.txt")["torch"] == "2.1.2"
    dockerfile = (TRAINER / "Dockerfile").read_text()
    assert "FROM pytorch/pytorch:2.1.2-cuda11.8-cudnn8-runtime" in dockerfile
    assert "download.openmmlab.com/mmcv/dist/cu118/torch2.1" in dockerfile
    assert "--only-binary=:all:" in dockerfile and "--no-deps" in dockerfile
    assert re.search(r"^USER 1000:1000$", dockerfile, re.M)
    assert 'ENTRYPOINT ["yunshi-launch"]' in dockerfile


def test_matplotlibrc_puts_a_cjk_font_first():
    import matplotlib

    rc = matplotlib.rc_params_from_file(str(TRAINER / "matplotlibrc"), use_default_template=False)
    assert rc["font.sans-serif"][0] == "Noto Sans CJK SC"
    assert rc["font.family"] == ["sans-serif"]


def test_chinese_labels_find_glyphs_with_the_image_fonts(tmp_path):
    """Where fonts-noto-cjk is installed (the image; optional here), 行人 and 车辆 have glyphs."""
    if not list(Path("/usr/share/fonts").rglob("NotoSansCJK*")):
        pytest.skip("fonts-noto-cjk not installed on this machine (the image installs it)")
    code = (
        "import matplotlib.font_manager as fm; from matplotlib.ft2font import FT2Font;"
        "p = fm.findfont(fm.FontProperties(family=['sans-serif'])); f = FT2Font(p);"
        "assert all(f.get_char_index(ord(c)) for c in '行人车辆'), p; print(p)"
    )
    env = dict(os.environ, MPLCONFIGDIR=str(tmp_path), MATPLOTLIBRC=str(TRAINER / "matplotlibrc"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "NotoSansCJK" in proc.stdout
