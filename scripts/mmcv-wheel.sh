#!/usr/bin/env bash
# Puts an mmcv wheel for this Python and torch into DEST, and says where it came from.
#
#   scripts/mmcv-wheel.sh PYTHON DEST MMCV_PIN TORCH_VERSION
#   e.g. scripts/mmcv-wheel.sh .venv/bin/python ~/.cache/pip/yunshi-wheels/x mmcv==2.1.0 2.1.2
#
# 1. cached:   DEST already holds an mmcv wheel (a previous run) → nothing to do.
# 2. prebuilt: OpenMMLab's wheel index for the torch minor version (CPU by default) →
#              download only, within YUNSHI_MMCV_TIMEOUT seconds (default 60): on a machine
#              without internet this fails fast and we fall back (issue 15).
# 3. compiled: the source package from PyPI, with mmcv's CPU ops (17–20 min on 2 cores).
#
# Settings (environment):
#   YUNSHI_MMCV_FIND_LINKS  where prebuilt wheels are looked up (pip --find-links: a URL or
#                           a directory); default OpenMMLab's index for this torch; "none"
#                           skips straight to the compile.
#   YUNSHI_MMCV_TIMEOUT     seconds allowed for the prebuilt download (default 60).
#   YUNSHI_MMCV_COMPILE     executable that compiles the wheel, run as
#                           `$YUNSHI_MMCV_COMPILE PYTHON OUTDIR MMCV_PIN` (argv, no shell);
#                           default: the compile below. Tests put a stand-in here so that
#                           checking the fallback does not take 20 minutes.
# The last line on stdout is `mmcv-wheel: <cached|prebuilt|compiled> <wheel file>`.
set -euo pipefail

if (($# != 4)); then
  echo "usage: scripts/mmcv-wheel.sh PYTHON DEST MMCV_PIN TORCH_VERSION" >&2
  exit 2
fi
python="$1"
dest="$2"
pin="$3"
torch_version="$4"
if [[ ! "$pin" =~ ^mmcv==[0-9]+(\.[0-9]+)*$ ]]; then
  echo "mmcv-wheel: MMCV_PIN ${pin@Q}: expected mmcv==X.Y.Z" >&2
  exit 2
fi
if [[ ! "$torch_version" =~ ^([0-9]+\.[0-9]+)(\.[0-9]+)?$ ]]; then
  echo "mmcv-wheel: TORCH_VERSION ${torch_version@Q}: expected X.Y.Z such as 2.1.2" >&2
  exit 2
fi
# OpenMMLab publishes one index per torch minor version: cpu/torch2.1, cu118/torch2.1, ...
torch_minor="${BASH_REMATCH[1]}"
mkdir -p "$dest"

found_wheel() { compgen -G "$dest/mmcv-*.whl" | head -n 1; }

if wheel="$(found_wheel)" && [[ -n "$wheel" ]]; then
  echo "mmcv-wheel: cached $wheel"
  exit 0
fi

links="${YUNSHI_MMCV_FIND_LINKS:-https://download.openmmlab.com/mmcv/dist/cpu/torch${torch_minor}/index.html}"
timeout_s="${YUNSHI_MMCV_TIMEOUT:-60}"
tmp="$dest.tmp.$$"
trap 'rm -rf "$tmp"' EXIT

if [[ "$links" != "none" ]]; then
  echo "mmcv-wheel: trying a prebuilt $pin from $links (at most ${timeout_s}s)"
  rm -rf "$tmp"
  # --no-index: only that index, never PyPI's source package; --only-binary: a wheel or nothing.
  if timeout "$timeout_s" "$python" -m pip download --quiet --no-deps --only-binary=:all: \
    --no-index --find-links "$links" --timeout 15 --retries 0 -d "$tmp" "$pin"; then
    mv "$tmp"/mmcv-*.whl "$dest"/
    echo "mmcv-wheel: prebuilt $(found_wheel)"
    exit 0
  fi
  echo "mmcv-wheel: no prebuilt wheel for this Python and torch ${torch_minor} there (or no network); compiling"
fi

rm -rf "$tmp"
mkdir -p "$tmp"
start=$SECONDS
if [[ -n "${YUNSHI_MMCV_COMPILE:-}" ]]; then
  "$YUNSHI_MMCV_COMPILE" "$python" "$tmp" "$pin"
else
  echo "mmcv-wheel: compiling $pin CPU ops (17-20 min on 2 cores; once, kept in $dest)"
  # -g0 -O1 (appended after Python's -g -O3): about 3-5x faster to compile on 2 cores;
  # this wheel only serves the CPU tests, the image uses OpenMMLab's prebuilt CUDA wheel.
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" CFLAGS="${CFLAGS:-} -g0 -O1" \
    "$python" -m pip wheel --quiet --no-deps --no-build-isolation -w "$tmp" "$pin"
fi
if ! compgen -G "$tmp/mmcv-*.whl" >/dev/null; then
  echo "mmcv-wheel: the compile produced no mmcv wheel" >&2
  exit 1
fi
mv "$tmp"/mmcv-*.whl "$dest"/
echo "mmcv-wheel: compiled $(found_wheel) in $((SECONDS - start))s"
