#!/usr/bin/env bash
# Installs into the cluster of $KUBECONFIG what the operator needs, without Helm: the CRDs, the
# admission policies (deploy/admission/: reseller-guard, in-use-protection), the provider-admin and
# operator roles, and bindings of the operator roles to the user `operator` (the local control
# plane's operator identity).
#   hack/install-dev.sh NAMESPACE...   namespaces whose connection Secrets the operator may read
#                                      (the first is the provider namespace: it also holds the Lease)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 PROVIDER_NAMESPACE [RESELLER_NAMESPACE...]" >&2; exit 2; }
kubectl apply -f crds/ >/dev/null
kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
kubectl apply -f deploy/admission/ -f deploy/rbac/provider-admin.yaml -f deploy/rbac/operator.yaml >/dev/null
kubectl create clusterrolebinding pco-operator --clusterrole=partner-center-operator --user=operator \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
for ns in "$@"; do
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl -n "$ns" create rolebinding pco-operator-secrets --clusterrole=partner-center-operator-secrets \
    --user=operator --dry-run=client -o yaml | kubectl apply -f - >/dev/null
done
kubectl -n "$1" create rolebinding pco-operator-lease --clusterrole=partner-center-operator-leader-election \
  --user=operator --dry-run=client -o yaml | kubectl apply -f - >/dev/null
