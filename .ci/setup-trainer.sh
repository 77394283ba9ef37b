#!/usr/bin/env bash
# CI setup for the trainer's Python tests (images/trainer/tests): a Python 3.10/3.11 with
# venv and headers, a C++ compiler (mmcv 2.1.0's CPU ops are compiled from PyPI's source
# package), then the pinned virtualenv .venv/ through scripts/test-python.sh --setup-only.
# Idempotent: a second run reuses .venv/ and the mmcv wheel kept in pip's cache.
# From a clean machine: about 3 minutes of downloads (torch 2.1.2 and its CUDA libraries,
# ~2.6 GB) plus the mmcv compile; see docs/trainer.md for measured times.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

have_python() {
  local candidate
  for candidate in "${YUNSHI_PYTHON:-}" python3.11 python3.10 python3; do
    [[ -n "$candidate" ]] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    "$candidate" -c 'import sys, sysconfig, os, venv
ok = (3, 10) <= sys.version_info[:2] <= (3, 11)
ok = ok and os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))
sys.exit(0 if ok else 1)' 2>/dev/null && return 0
  done
  return 1
}

missing=()
have_python || missing+=(python3 python3-venv python3-dev)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
# The Chinese-glyph rendering test needs a CJK font (the image installs the same package).
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk fontconfig)
if ((${#missing[@]} > 0)); then
  echo "setup-trainer: installing ${missing[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

"$repo/scripts/test-python.sh" --setup-only
