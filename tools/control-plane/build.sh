#!/usr/bin/env bash
# Builds the real control plane the cluster tests run against, from the pinned Go wrapper modules
# next to this script (their go.sum files are the lock), into a cache outside the repository:
#   ~/.cache/yunshi/control-plane/<versions>/bin/
# Idempotent: a module whose go.mod/go.sum and Go version are unchanged since its last successful
# build is skipped. Prints the cache directory on its last line of stdout.
#
#   tools/control-plane/build.sh            # build what is missing
#   tools/control-plane/build.sh --print-dir  # only print the cache directory
#
# Needs Go >= 1.26 (kwok v0.8.0, JobSet v0.12.0 and Kueue v0.19.1 require it) and the Go module proxy.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
source "$here/versions.sh"

cache_root="${YUNSHI_CONTROL_PLANE_CACHE:-$HOME/.cache/yunshi/control-plane}"
dir="$cache_root/$CONTROL_PLANE_KEY"
if [[ "${1:-}" == "--print-dir" ]]; then
  echo "$dir"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: Go is required (https://go.dev/dl/, >= 1.26)" >&2; exit 2; }
mkdir -p "$dir/bin" "$dir/stamps"
go_version="$(go env GOVERSION)"
parallel="${YUNSHI_BUILD_PARALLEL:-$(nproc)}"

# Kubernetes reports v0.0.0 unless its version variables are set at link time.
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION"
  k8s_ldflags+=" -X $pkg.gitMajor=$(cut -d. -f1 <<<"${KUBERNETES_VERSION#v}")"
  k8s_ldflags+=" -X $pkg.gitMinor=$(cut -d. -f2 <<<"$KUBERNETES_VERSION")"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean"
done

build_module() {
  local module="$1" ldflags="$2"
  local stamp="$dir/stamps/$module"
  local want
  want="$go_version $(cat "$here/$module/go.mod" "$here/$module/go.sum" | sha256sum | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "build.sh: $module is up to date" >&2
    return
  fi
  local tools
  tools="$(cd "$here/$module" && go list -f '{{range .Tool}}{{.}} {{end}}' -m 2>/dev/null || true)"
  if [[ -z "$tools" ]]; then
    tools="$(sed -n '/^tool (/,/^)/p' "$here/$module/go.mod" | grep -v -e '^tool' -e '^)' | tr -d '\t' | tr '\n' ' ')"
  fi
  echo "build.sh: building $module: $tools" >&2
  local start=$SECONDS
  # -mod=readonly: go.sum is the lock; a build never edits it.
  # shellcheck disable=SC2086
  (cd "$here/$module" && go build -mod=readonly -p "$parallel" -ldflags "-s -w $ldflags" -o "$dir/bin/" $tools)
  echo "$want" >"$stamp"
  echo "build.sh: $module built in $((SECONDS - start)) s" >&2
}

# Order: the largest first, so an interrupted CI build has its most expensive part cached.
for module in ${CONTROL_PLANE_MODULES:-kubernetes controllers}; do
  case "$module" in
    kubernetes) build_module kubernetes "$k8s_ldflags" ;;
    *) build_module "$module" "" ;;
  esac
done
# etcd's main package is go.etcd.io/etcd/server/v3, which go build names "server".
if [[ -f "$dir/bin/server" ]]; then mv -f "$dir/bin/server" "$dir/bin/etcd"; fi

# What the start-up needs from the same module versions: CRDs and webhook manifests of JobSet
# and Kueue (the envtest way: CRDs from directories, webhooks re-pointed at local processes),
# and kwok's node stages.
mod_dir() { (cd "$here/controllers" && go list -m -f '{{.Dir}}' "$1"); }
assets="$dir/assets"
if [[ ! -f "$assets/.complete" ]]; then
  (cd "$here/controllers" && go mod download sigs.k8s.io/jobset sigs.k8s.io/kueue sigs.k8s.io/kwok)
  rm -rf "$assets" && mkdir -p "$assets/jobset" "$assets/kueue" "$assets/kwok"
  jobset="$(mod_dir sigs.k8s.io/jobset)" kueue="$(mod_dir sigs.k8s.io/kueue)" kwok="$(mod_dir sigs.k8s.io/kwok)"
  cp "$jobset"/config/components/crd/bases/*.yaml "$assets/jobset/"
  cp "$jobset/config/components/webhook/manifests.yaml" "$assets/jobset/webhooks.yaml"
  cp "$kueue"/config/components/crd/bases/*.yaml "$assets/kueue/"
  cp "$kueue/config/components/webhook/manifests.yaml" "$assets/kueue/webhooks.yaml"
  cp "$kwok/kustomize/stage/node/fast/node-initialize.yaml" "$assets/kwok/"
  cp "$kwok/kustomize/stage/node/heartbeat-with-lease/"*.yaml "$assets/kwok/"
  rm -f "$assets/kwok/kustomization.yaml"
  chmod -R u+w "$assets"
  touch "$assets/.complete"
fi
echo "$dir"
