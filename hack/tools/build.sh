#!/usr/bin/env bash
# Builds the pinned test tools from the Go module proxy and caches them; prints the bin directory.
# A second run is a no-op.
#   build.sh [TOOL ...]   tools: etcd kube-apiserver kubectl helm3 helm4 luahealth promtool
#                         (default: all but promtool, which only the alert-rule test asks for by name)
#   PCO_CACHE             cache root (default ~/.cache/partner-center-operator)
# The demo and the control plane need only etcd, kube-apiserver and kubectl; helm and luahealth
# are for the chart and Argo CD tests, promtool (Prometheus' rule checker) for the alerting rules.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${PCO_CACHE:-$HOME/.cache/partner-center-operator}
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0

kube_version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$here/kubernetes/go.mod")
etcd_version=$(awk '$1=="require" && $2=="go.etcd.io/etcd/server/v3" {print $3}' "$here/etcd/go.mod")
# The cache key is the content of go.mod + go.sum (not their path: every clone shares the cache),
# so a changed dependency set rebuilds.
key() { cat "$here/$1/go.mod" "$here/$1/go.sum" | sha256sum | cut -c1-12; }
bin="$cache/bin"
mkdir -p "$bin"

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(etcd kube-apiserver kubectl helm3 helm4 luahealth)
for w in "${wanted[@]}"; do
  case $w in etcd|kube-apiserver|kubectl|helm3|helm4|luahealth|promtool) ;; *) echo "build.sh: unknown tool '$w'" >&2; exit 2 ;; esac
done
wants() { [[ " ${wanted[*]} " == *" $1 "* ]]; }

build() { # module dir, output name, package, ldflags
  local dir=$1 name=$2 pkg=$3 ldflags=$4 out="$bin/$2-$(key "$1")"
  wants "$name" || return 0
  if [ ! -x "$out" ]; then
    echo "building $name ($pkg): a few minutes on a cold machine ..." >&2
    local started=$SECONDS
    # A per-process temporary name: concurrent test binaries may build the same tool at once.
    (cd "$here/$dir" && go build -trimpath -ldflags "$ldflags" -o "$out.tmp.$$" "$pkg") && mv -f "$out.tmp.$$" "$out"
    echo "built $name in $((SECONDS - started)) s" >&2
  fi
  ln -sfn "$(basename "$out")" "$bin/$name"
}

minor=${kube_version#v1.}; minor=${minor%%.*}
# Without these, kube-apiserver reports v0.0.0-master and kubectl warns about version skew.
kv="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kv="$kv -X $p.gitVersion=$kube_version -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
build etcd etcd pco.local/tools/etcd "-s -w"
build kubernetes kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$kv"
build kubernetes kubectl k8s.io/kubernetes/cmd/kubectl "$kv"

# helm: without -X version, `helm version` says v3.x-dev/v4-dev and chart `kubeVersion` checks
# misfire; helm 3 also takes its default Kubernetes version (for lint/template) from ldflags,
# derived like helm's Makefile does from the client-go it is built with (tests pass --kube-version).
req() { awk -v m="$2" '($1=="require" && $2==m) || ($1==m) {print ($1=="require") ? $3 : $2}' "$here/$1/go.mod" | head -1; }
h3=$(req helm3 helm.sh/helm/v3); h4=$(req helm4 helm.sh/helm/v4)
cg=$(req helm3 k8s.io/client-go); cg_minor=${cg#v0.}; cg_minor=${cg_minor%%.*}
h3flags="-s -w -X helm.sh/helm/v3/internal/version.version=$h3 -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  h3flags="$h3flags -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$cg_minor"
done
build helm3 helm3 helm.sh/helm/v3/cmd/helm "$h3flags"
build helm4 helm4 helm.sh/helm/v4/cmd/helm \
  "-s -w -X helm.sh/helm/v4/internal/version.version=$h4 -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
# Runs an Argo CD health.lua in gopher-lua, the Lua VM Argo CD embeds.
build luahealth luahealth pco.local/tools/luahealth "-s -w"
# Prometheus' own rule checker (`promtool check rules`, `promtool test rules`) for the chart's
# PrometheusRule. Taken from Debian's pinned prometheus package, not built from the module proxy:
# Prometheus' module pulls in every cloud SDK of its service discovery, a 40-minute build on
# 2 cores, for a checker whose rule syntax has not changed since this release.
promtool_deb=prometheus_2.42.0+ds-5+deb12u1_amd64.deb
promtool_sha=81d59a24fce84f7fbe97a45a4f2914b6a5881b5cd1db2a6a0e129e515e1a5f55
if wants promtool; then
  out="$bin/promtool-${promtool_sha:0:12}"
  if [ ! -x "$out" ]; then
    echo "fetching promtool (Debian $promtool_deb) ..." >&2
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    # The mirror's pool needs no apt index (nor root); apt-get download is the fallback. A pin that
    # Debian has superseded is gone from both: bump promtool_deb and promtool_sha.
    curl -sfL -o "$tmp/$promtool_deb" "http://deb.debian.org/debian/pool/main/p/prometheus/$promtool_deb" ||
      (cd "$tmp" && apt-get download -q "prometheus=2.42.0+ds-5+deb12u1" >/dev/null 2>&1) ||
      { echo "build.sh: cannot fetch $promtool_deb (superseded in Debian? bump the pin)" >&2; exit 1; }
    echo "$promtool_sha  $tmp/$promtool_deb" | sha256sum -c --quiet -
    dpkg-deb -x "$tmp/$promtool_deb" "$tmp/x"
    mv -f "$tmp/x/usr/bin/promtool" "$out.tmp.$$" && mv -f "$out.tmp.$$" "$out"
  fi
  ln -sfn "$(basename "$out")" "$bin/promtool"
fi
echo "$bin"
