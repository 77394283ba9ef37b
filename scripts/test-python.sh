#!/usr/bin/env bash
# Python tests of the trainer image (images/trainer/tests) in the virtualenv .venv/.
#
# Creates .venv/ from the pinned images/trainer/requirements*.txt, or reuses it when those
# files and the interpreter have not changed (a stamp file records their hash). mmcv 2.1.0
# is a source package on PyPI: scripts/mmcv-wheel.sh first tries OpenMMLab's prebuilt wheel
# (short timeout), else compiles its CPU ops (17-20 min on 2 cores), and says which; the
# wheel is kept under pip's cache dir, keyed by torch and Python version, so later runs
# install it in seconds.
#
#   scripts/test-python.sh               set up (if needed) and run pytest
#   scripts/test-python.sh --setup-only  set up only (.ci/setup-trainer.sh)
#   scripts/test-python.sh -k sigterm    extra arguments go to pytest
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
req_dir=images/trainer
venv=.venv

setup_only=false
if [[ "${1:-}" == "--setup-only" ]]; then
  setup_only=true
  shift
fi

# torch 2.1.2 publishes wheels for CPython 3.8 to 3.11 only.
pick_python() {
  local candidate
  for candidate in "${YUNSHI_PYTHON:-}" python3.11 python3.10 python3; do
    [[ -n "$candidate" ]] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 11) else 1)'; then
      echo "$candidate"
      return 0
    fi
  done
  echo "test-python: need Python 3.10 or 3.11 (torch 2.1.2 has no wheels for newer); set YUNSHI_PYTHON" >&2
  return 1
}

python="$(pick_python)"
py_tag="$("$python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
stamp="$(cat "$req_dir"/requirements*.txt | sha256sum | cut -c1-16)-$py_tag"

# One setup at a time: two runs (a test and a `submit --local`, say) that both find the stamp
# stale would each delete and refill .venv/ under the other. The second waits, then finds
# the first one's venv ready. flock is util-linux; without it (macOS) there is no lock.
if command -v flock >/dev/null 2>&1; then
  lock="${TMPDIR:-/tmp}/yunshi-venv-$(printf '%s' "$repo" | sha256sum | cut -c1-16).lock"
  exec {lock_fd}>"$lock"
  if ! flock -n "$lock_fd"; then
    echo "test-python: another setup of $venv is running; waiting for it"
    flock "$lock_fd"
  fi
fi

if [[ -f "$venv/.yunshi-stamp" && "$(cat "$venv/.yunshi-stamp")" == "$stamp" ]]; then
  echo "test-python: reusing $venv ($stamp)"
else
  start=$SECONDS
  # Recreate rather than patch: --no-deps installs would leave stale packages behind.
  rm -rf "$venv"
  "$python" -m venv "$venv"
  pip=("$venv/bin/python" -m pip)
  "${pip[@]}" install --quiet --no-deps --only-binary=:all: \
    -r "$req_dir/requirements-torch.txt" -r "$req_dir/requirements-test.txt"
  echo "test-python: torch and test tools installed in $((SECONDS - start))s"

  torch_version="$(grep -E '^torch==' "$req_dir/requirements-torch.txt" | cut -d= -f3)"
  mmcv_pin="$(grep -E '^mmcv==' "$req_dir/requirements.txt")"
  wheel_dir="$("${pip[@]}" cache dir)/yunshi-wheels/${mmcv_pin/==/-}-torch${torch_version}-${py_tag}"
  # Prebuilt from OpenMMLab's index when reachable, else compiled; prints which.
  "$repo/scripts/mmcv-wheel.sh" "$venv/bin/python" "$wheel_dir" "$mmcv_pin" "$torch_version"
  "${pip[@]}" install --quiet --no-deps --only-binary=:all: --find-links "$wheel_dir" \
    -r "$req_dir/requirements.txt"
  "$venv/bin/python" - <<'EOF'
import mmcv, mmdet, mmengine, torch
from mmcv.ops import RoIAlign, nms
boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=torch.float32)
keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)[1]
assert keep.tolist() == [0, 2], keep
feat = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
out = RoIAlign((2, 2), 1.0, 0)(feat, torch.tensor([[0, 0, 0, 4, 4]], dtype=torch.float32))
assert out.shape == (1, 1, 2, 2), out.shape
print(f"test-python: torch {torch.__version__}, mmcv {mmcv.__version__} (ops ok), "
      f"mmengine {mmengine.__version__}, mmdet {mmdet.__version__}")
EOF
  echo "$stamp" >"$venv/.yunshi-stamp"
  echo "test-python: $venv ready in $((SECONDS - start))s"
fi

# Setup done: pytest runs need no lock.
[[ -n "${lock_fd:-}" ]] && exec {lock_fd}>&-

if [[ "$setup_only" == true ]]; then
  exit 0
fi
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$req_dir/tests" "$@"
