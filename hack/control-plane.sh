#!/usr/bin/env bash
# A local, throw-away Kubernetes control plane: etcd + kube-apiserver on random loopback ports,
# RBAC authorization, static-token users, audit log of writes. No nodes, no controller-manager:
# no garbage collection, no namespace finalization, no pods.
#
#   hack/control-plane.sh start DIR   start, wait until ready, write DIR/env and DIR/kubeconfig-<user>
#   hack/control-plane.sh stop DIR    stop what `start DIR` started
#   hack/control-plane.sh restart-apiserver DIR
#                                     stop kube-apiserver and start it again on the same port with the
#                                     same flags and data (etcd keeps running); waits until ready
#
# Users (token auth; the token is the user name + a per-run secret, see DIR/tokens.csv):
#   admin                 system:masters
#   provider-admin        group channel:provider-admins
#   reseller-admin-{a,b,c} group channel:reseller-admins
#   operator, operator-2  no groups (tests bind what the operator needs)
# Extra kube-apiserver flags: PCO_APISERVER_EXTRA_ARGS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?usage: control-plane.sh start|stop|restart-apiserver DIR}
dir=${2:?usage: control-plane.sh start|stop|restart-apiserver DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

stop() {
  for p in apiserver etcd; do
    if [ -f "$dir/$p.pid" ]; then
      kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$(cat "$dir/$p.pid")" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$(cat "$dir/$p.pid")" 2>/dev/null || true
      rm -f "$dir/$p.pid"
    fi
  done
}
if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || [ "$cmd" = restart-apiserver ] || { echo "unknown command $cmd" >&2; exit 2; }

bin=$("$here/tools/build.sh" etcd kube-apiserver kubectl)

# kube-apiserver with the ports, flags and PKI of `start` (saved in DIR/apiserver.args).
start_apiserver() {
  # shellcheck disable=SC2046
  "$bin/kube-apiserver" $(cat "$dir/apiserver.args") >> "$dir/apiserver.log" 2>&1 &
  echo $! > "$dir/apiserver.pid"
}

wait_ready() {
  for _ in $(seq 600); do
    if "$bin/kubectl" --kubeconfig "$dir/kubeconfig-admin" get --raw /readyz >/dev/null 2>&1; then
      # RBAC bootstrap roles are written by a post-start hook; wait for the one the harness relies on.
      if "$bin/kubectl" --kubeconfig "$dir/kubeconfig-admin" get clusterrole cluster-admin >/dev/null 2>&1; then
        return 0
      fi
    fi
    if ! kill -0 "$(cat "$dir/apiserver.pid")" 2>/dev/null; then
      echo "kube-apiserver exited; last log lines:" >&2; tail -20 "$dir/apiserver.log" >&2; return 1
    fi
    sleep 0.1
  done
  echo "control plane not ready after 60s; see $dir/apiserver.log" >&2
  return 1
}

if [ "$cmd" = restart-apiserver ]; then
  [ -f "$dir/apiserver.args" ] || { echo "no control plane started in $dir" >&2; exit 1; }
  if [ -f "$dir/apiserver.pid" ]; then
    pid=$(cat "$dir/apiserver.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  start_apiserver
  wait_ready || exit 1
  echo "kube-apiserver restarted"
  exit 0
fi
free_ports() { python3 -c 'import socket
socks=[socket.socket() for _ in range(3)]
[s.bind(("127.0.0.1",0)) for s in socks]
print(" ".join(str(s.getsockname()[1]) for s in socks))'; }
read -r etcd_port peer_port api_port < <(free_ports)

pki="$dir/pki"; mkdir -p "$pki"
if [ ! -f "$pki/serving.crt" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=pco-test-ca" -days 3650 -out "$pki/ca.crt" 2>/dev/null
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/serving.key" 2>/dev/null
  openssl req -new -key "$pki/serving.key" -subj "/CN=kube-apiserver" -out "$pki/serving.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' > "$pki/ext"
  openssl x509 -req -in "$pki/serving.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -extfile "$pki/ext" -out "$pki/serving.crt" 2>/dev/null
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key" 2>/dev/null
  openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
fi
secret=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
users="admin provider-admin reseller-admin-a reseller-admin-b reseller-admin-c operator operator-2"
: > "$dir/tokens.csv"
for u in $users; do
  case $u in
    admin) groups="system:masters" ;;
    provider-admin) groups="channel:provider-admins" ;;
    reseller-admin-*) groups="channel:reseller-admins" ;;
    *) groups="" ;;
  esac
  echo "$u-$secret,$u,uid-$u,\"$groups\"" >> "$dir/tokens.csv"
done
cat > "$dir/audit-policy.yaml" <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  # Writes to the operator's kinds, Secrets, Events and Leases, metadata only (never bodies: Secrets).
  - level: Metadata
    verbs: [create, update, patch, delete]
    resources:
      - group: channel.csp.dev
      - group: ""
        resources: [secrets, events]
      - group: events.k8s.io
      - group: coordination.k8s.io
  - level: None
YAML

mkdir -p "$dir/etcd"
"$bin/etcd" --data-dir "$dir/etcd" --name pco \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "pco=http://127.0.0.1:$peer_port" --unsafe-no-fsync --log-level warn \
  > "$dir/etcd.log" 2>&1 &
echo $! > "$dir/etcd.pid"

# No argument contains spaces (DIR must not either): the flags are kept in one line for restarts.
# --audit-log-maxsize: unset, the log rotates at 100 MB (the benchmark's 50,000 resellers write more),
# and the counters in crates/test-kit/src/audit.rs read one file.
echo "--etcd-servers http://127.0.0.1:$etcd_port \
  --bind-address 127.0.0.1 --secure-port $api_port \
  --tls-cert-file $pki/serving.crt --tls-private-key-file $pki/serving.key \
  --token-auth-file $dir/tokens.csv --authorization-mode RBAC \
  --service-account-issuer https://kubernetes.default.svc --service-account-key-file $pki/sa.pub \
  --service-account-signing-key-file $pki/sa.key --service-cluster-ip-range 10.0.0.0/24 \
  --audit-policy-file $dir/audit-policy.yaml --audit-log-path $dir/audit.log --audit-log-format json \
  --audit-log-maxsize 100000 --audit-log-mode blocking --profiling=false --v=1 ${PCO_APISERVER_EXTRA_ARGS:-}" > "$dir/apiserver.args"
: > "$dir/apiserver.log"
start_apiserver

ca=$(base64 -w0 < "$pki/ca.crt")
for u in $users; do
  cat > "$dir/kubeconfig-$u" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: pco
  cluster: {server: "https://127.0.0.1:$api_port", certificate-authority-data: "$ca"}
users:
- name: $u
  user: {token: "$u-$secret"}
contexts:
- name: $u
  context: {cluster: pco, user: $u, namespace: default}
current-context: $u
YAML
done

if wait_ready; then
  cat > "$dir/env" <<ENV
export KUBECONFIG="$dir/kubeconfig-admin"
export PATH="$bin:\$PATH"
export PCO_CONTROL_PLANE_DIR="$dir"
ENV
  echo "control plane ready: https://127.0.0.1:$api_port (source $dir/env)"
  exit 0
fi
stop
exit 1
