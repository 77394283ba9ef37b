#!/usr/bin/env bash
# Tools for test/gitops/workflows.test.ts: actionlint (the GitHub Actions linter, a Go
# module, built once into a cache outside the repo) and shellcheck (Debian), which
# actionlint runs on every `run:` script and the test runs on ci/pipeline.sh. Idempotent;
# about 1 minute of Go build from scratch.
set -euo pipefail

ACTIONLINT_VERSION=v1.7.12
dir="${XDG_CACHE_HOME:-$HOME/.cache}/yunshi/tools/actionlint-$ACTIONLINT_VERSION"
if [ ! -x "$dir/actionlint" ]; then
  GOBIN="$dir" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
fi
"$dir/actionlint" -version | head -1

if ! command -v shellcheck >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends shellcheck
fi
shellcheck --version | head -2
