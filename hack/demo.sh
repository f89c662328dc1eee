#!/usr/bin/env bash
# The demo: on a fresh machine, build what is needed, start a local control plane and the Partner
# Center emulator, apply examples/, run the operator, wait until everything has converged and show
# what a user wants to see. `--keep` leaves everything running (prints how to use and stop it).
set -euo pipefail
cd "$(dirname "$0")/.."
keep=false; [ "${1:-}" = "--keep" ] && keep=true
dir=${PCO_DEMO_DIR:-/tmp/pco-demo}
emulator_addr=127.0.0.1:18085
say() { if [ -t 1 ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }

say "building (first run: several minutes)"
# Only what the demo runs: etcd, kube-apiserver and kubectl (helm and luahealth are for the tests).
bash hack/tools/build.sh etcd kube-apiserver kubectl >/dev/null
# Not --quiet: a cold build takes minutes, and its progress should show.
cargo build --workspace --bin partner-center-operator --bin partner-center-emulator
op=target/debug/partner-center-operator
emu=target/debug/partner-center-emulator

bash hack/control-plane.sh stop "$dir" 2>/dev/null || true
rm -rf "$dir"; mkdir -p "$dir"
pids=()
cleanup() {
  if ! $keep; then
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    bash hack/control-plane.sh stop "$dir" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

say "starting the control plane (etcd + kube-apiserver) and the Partner Center emulator"
bash hack/control-plane.sh start "$dir"
# shellcheck disable=SC1091
source "$dir/env"
"$emu" --fixtures examples/emulator/fixtures.yaml --listen "$emulator_addr" > "$dir/emulator.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://$emulator_addr/_emulator/healthz" >/dev/null && break; sleep 0.1; done

say "installing the CRDs, the admission policy and RBAC"
bash hack/install-dev.sh csp-system reseller-northwind

say "applying examples/"
kubectl apply -f examples/00-namespaces.yaml -f examples/10-credentials.yaml >/dev/null
kubectl apply -f examples/20-connections.yaml -f examples/30-plans.yaml -f examples/40-resellers.yaml -f examples/90-misconfigured.yaml

# The operator runs as its own user with the least-privilege roles of deploy/rbac/operator.yaml.
say "running the operator"
KUBECONFIG="$dir/kubeconfig-operator" "$op" run --provider-namespace csp-system \
  --endpoint-allow-list "$emulator_addr" --admin-addr 127.0.0.1:18080 --identity demo \
  > "$dir/operator.log" 2>&1 &
pids+=($!)

say "waiting until everything has converged"
kubectl wait --for=condition=Ready pcc --all -A --timeout=120s
kubectl wait --for=condition=Ready cplan --all --timeout=60s
kubectl wait --for=condition=Ready rsl contoso contoso-test northwind northwind-wellington --timeout=60s
kubectl wait --for=condition=Ready=False rsl tailspin-demo --timeout=60s

say "customers (examples/50-customers.yaml): provisioned through the effective connection, exactly once"
kubectl apply -f examples/50-customers.yaml
kubectl -n reseller-northwind wait --for=condition=Ready cust kauri-health --timeout=120s
kubectl -n csp-system wait --for=condition=Ready cust pohutukawa-cafe --timeout=120s
kubectl -n csp-system wait --for=condition=Ready=False cust wattle-mining --timeout=60s
kubectl -n csp-system wait --for=jsonpath='{.status.provisioning.phase}'=AwaitingAcceptance cust totara-lodge --timeout=120s
kubectl get cust -A

say "adopting an existing tenant: totara-lodge waits for its Global Admin to accept the invitation"
kubectl -n csp-system get cust totara-lodge -o jsonpath='{range .status.conditions[?(@.type=="Ready")]}Ready={.status} reason={.reason}: {.message}{"\n"}{end}invitationUrl: {.status.invitationUrl}{"\n"}'
echo "(the tenant accepts, through the emulator's control API)"
curl -sf -X POST "http://$emulator_addr/_emulator/partners/22222222-2222-4222-8222-222222222222/invitations/accept" \
  -H 'content-type: application/json' \
  -d '{"tenantId":"66666666-6666-4666-8666-000000000001","domain":"totaralodge.onmicrosoft.com","companyName":"Totara Lodge","country":"NZ"}' >/dev/null
kubectl -n csp-system annotate pcc contoso-nz-production channel.csp.dev/sync-requested="demo-$(date +%s)" --overwrite >/dev/null
kubectl -n csp-system wait --for=condition=AgreementRecorded cust totara-lodge --timeout=120s
kubectl -n csp-system wait --for=condition=Ready cust totara-lodge --timeout=60s
kubectl -n csp-system get cust totara-lodge -o jsonpath='{range .status.conditions[?(@.type=="Ready")]}Ready={.status} reason={.reason}: {.message}{"\n"}{end}{range .status.conditions[?(@.type=="AgreementRecorded")]}AgreementRecorded={.status}: {.message}{"\n"}{end}'

say "the Partner Center account each customer went to"
accounts=$(kubectl get pcc -A -o go-template='{{range .items}}{{.metadata.namespace}}/{{.metadata.name}}={{.spec.partnerTenantId}} {{end}}')
kubectl get cust -A -o go-template='{{range .items}}{{printf "%s/%s" .metadata.namespace .metadata.name}} {{with .status.connection}}{{.namespace}}/{{.name}}{{else}}-{{end}} {{with .status.source}}{{.}}{{else}}-{{end}} {{with .status.associatedPartnerId}}{{.}}{{else}}-{{end}} {{range .status.conditions}}{{if eq .type "Ready"}}{{.reason}}{{end}}{{end}}
{{end}}' | while read -r cust conn source associated reason; do
  account=-
  for a in $accounts; do [ "${a%%=*}" = "$conn" ] && account=${a#*=}; done
  printf '%-36s %-45s %-9s account %-38s associated %-38s %s\n' "$cust" "$conn" "$source" "$account" "$associated" "$reason"
done

say "kubectl get channel -A"
kubectl get channel -A

say "effective connection per reseller and plan"
kubectl get rsl -o go-template='{{range .items}}{{$r := .metadata.name}}{{range .status.effectivePlans}}{{printf "%-22s %-24s " $r .plan}}{{if .connection}}{{printf "%-40s" (printf "%s/%s" .connection.namespace .connection.name)}}{{else}}{{printf "%-40s" "-"}}{{end}}{{printf " %-10s" .source}}{{if .usable}}usable{{else}}NOT USABLE: {{.reason}}{{end}}
{{end}}{{end}}'

say "the deliberately misconfigured reseller (examples/90-misconfigured.yaml)"
kubectl get rsl tailspin-demo -o jsonpath='{range .status.conditions[?(@.type=="Ready")]}Ready={.status} reason={.reason}: {.message}{"\n"}{end}'

say "and a manifest admission refuses (a plan whose name disagrees with its fields)"
cat <<'YAML' | kubectl apply -f - 2>&1 || true
apiVersion: channel.csp.dev/v1alpha1
kind: CustomerPlan
metadata: {name: eur-indirect-sandbox}
spec:
  displayName: EUR Direct Sandbox
  region: EUR
  cspType: IndirectProvider
  environment: Sandbox
  connectionRef: {namespace: csp-system, name: contoso-eur-sandbox}
YAML

if $keep; then
  say "left running"
  echo "  source $dir/env                       # kubectl as admin"
  echo "  operator log: $dir/operator.log    emulator: http://$emulator_addr"
  echo "  stop: kill ${pids[*]}; bash hack/control-plane.sh stop $dir"
fi
