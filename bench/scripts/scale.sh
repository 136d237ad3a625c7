#!/usr/bin/env bash
# Scale measurement for the control loops: a release `rk3s server`, `rk3s agent --simulate N`
# simulated nodes, then one Deployment of R replicas; prints the time from create to all pods
# bound and to all Running, and the memory (VmRSS) of the server and of the agent.
#   bench/scripts/scale.sh [NODES] [REPLICAS]       (defaults 1000 and 10000)
# Uses the release binary at $CARGO_TARGET_DIR/release/rk3s (build it first). Cleans up its
# processes and temp dir on exit.
set -euo pipefail
NODES=${1:-1000}
REPLICAS=${2:-10000}
BIN=${RK3S_BIN:-${CARGO_TARGET_DIR:-/var/cache/rk3s-target}/release/rk3s}
DIR=$(mktemp -d /tmp/rk3s-scale.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$1/status"; }
export KUBECONFIG=$DIR/kc.yaml HOME=$DIR
"$BIN" server --data-dir "$DIR/data" --https-listen-port "$PORT" --bind-address 127.0.0.1 \
  --write-kubeconfig "$KUBECONFIG" --disable-agent --cluster-cidr 10.64.0.0/10 --config /dev/null >"$DIR/server.log" 2>&1 &
pids+=($!); server=$!
until [ -f "$KUBECONFIG" ] && kubectl get --raw /readyz >/dev/null 2>&1; do sleep 0.2; done
echo "server ready; idle RSS $(rss $server)"
"$BIN" agent --simulate "$NODES" --kubeconfig "$KUBECONFIG" >"$DIR/agent.log" 2>&1 &
pids+=($!); agent=$!
t0=$(date +%s.%N)
until [ "$(kubectl get nodes --no-headers 2>/dev/null | grep -c ' Ready ')" -ge "$NODES" ]; do sleep 1; done
t1=$(date +%s.%N)
echo "$NODES nodes Ready after $(echo "$t1 - $t0" | bc) s; server RSS $(rss $server), agent RSS $(rss $agent)"
kubectl create deployment scale --image=busybox --replicas="$REPLICAS" >/dev/null
t2=$(date +%s.%N); bound_at=""
while true; do
  out=$(kubectl get pods -l app=scale -o jsonpath='{range .items[*]}{.spec.nodeName}{" "}{.status.phase}{"\n"}{end}' 2>/dev/null || true)
  bound=$(echo "$out" | awk 'NF==2' | wc -l); running=$(echo "$out" | awk '$2=="Running"' | wc -l)
  now=$(date +%s.%N)
  if [ -z "$bound_at" ] && [ "$bound" -ge "$REPLICAS" ]; then bound_at=$(echo "$now - $t2" | bc); fi
  if [ "$running" -ge "$REPLICAS" ]; then break; fi
  if [ "$(echo "$now - $t2 > 900" | bc)" = 1 ]; then echo "gave up after 900 s: bound $bound, running $running"; break; fi
  sleep 2
done
t3=$(date +%s.%N)
echo "deployment of $REPLICAS: all bound after ${bound_at:-?} s ($(echo "scale=0; $REPLICAS / ${bound_at:-1}" | bc) pods/s incl. pod creation), all Running after $(echo "$t3 - $t2" | bc) s"
per_node=$(awk -v n="$NODES" '/VmRSS/ {printf "%.1f", $2 / n}' "/proc/$agent/status")
echo "server RSS $(rss $server) holding $NODES nodes and $REPLICAS pods; agent RSS $(rss $agent) (${per_node} KiB per simulated node)"
