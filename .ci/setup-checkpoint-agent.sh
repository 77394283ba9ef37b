#!/usr/bin/env bash
# Tools for `npm run bench:checkpoint` only (the agent's tests need none of this):
# awscli and rclone, the baselines the agent is compared with. Idempotent.
set -euo pipefail

need=()
command -v aws >/dev/null 2>&1 || need+=(awscli)
command -v rclone >/dev/null 2>&1 || need+=(rclone)
if [ "${#need[@]}" -eq 0 ]; then
  echo "setup-checkpoint-agent: awscli and rclone already installed"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
echo "setup-checkpoint-agent: installed ${need[*]}"
