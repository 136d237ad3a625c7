#!/usr/bin/env bash
# Scale measurement for the control loops: a release `rk3s server`, `rk3s agent --simulate N`
# simulated nodes, then
#  1. a Deployment of R replicas: time from create to all R pods Running and Ready (the
#     Deployment's readyReplicas), and the memory (VmRSS) of the server and the agent holding them;
#  2. scheduler throughput: with the kube-scheduler Lease held by a stand-in holder, a second
#     Deployment of R replicas is created (all Pending); the Lease is released and the time until
#     the scheduler has bound all R is measured from the server's own request counter. The
#     simulated nodes are paused meanwhile, as upstream's scheduler_perf runs no kubelets
#     (PAUSE_AGENT=0 keeps them running).
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
cleanup() { for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DIR"; }
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
metric() { kubectl get --raw /metrics | awk -v m="$1" 'index($0, m) == 1 {s += $NF} END {printf "%d", s}'; }
ready_replicas() { kubectl get deploy "$1" -o jsonpath='{.status.readyReplicas}' 2>/dev/null || true; }
kubectl create deployment scale --image=busybox --replicas="$REPLICAS" >/dev/null
t2=$(date +%s.%N)
until [ "$(ready_replicas scale)" = "$REPLICAS" ]; do
  if [ "$(echo "$(date +%s.%N) - $t2 > 900" | bc)" = 1 ]; then echo "gave up after 900 s: $(ready_replicas scale) ready"; exit 1; fi
  sleep 0.5
done
t3=$(date +%s.%N)
echo "deployment of $REPLICAS: all Running and Ready after $(echo "$t3 - $t2" | bc) s ($(echo "scale=0; $REPLICAS / ($t3 - $t2)" | bc) pods/s end to end)"
per_node=$(awk -v n="$NODES" '/VmRSS/ {printf "%.1f", $2 / n}' "/proc/$agent/status")
echo "server RSS $(rss $server) holding $NODES nodes and $REPLICAS pods; agent RSS $(rss $agent) (${per_node} KiB per simulated node)"

# Scheduler throughput.
micro_now() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }
kubectl patch lease -n kube-system kube-scheduler --type=merge \
  -p "{\"spec\":{\"holderIdentity\":\"bench-stand-in\",\"leaseDurationSeconds\":3600,\"renewTime\":\"$(micro_now)\"}}" >/dev/null
sleep 5 # the scheduler notices at its next renewal (every 2 s) and stops
kubectl create deployment sched --image=busybox --replicas="$REPLICAS" >/dev/null
until [ "$(kubectl get rs -l app=sched -o jsonpath='{.items[0].status.replicas}' 2>/dev/null)" = "$REPLICAS" ]; do sleep 0.5; done
sleep 2
binds0=$(metric 'apiserver_request_total{verb="CREATE",resource="pods",code="201"}')
# As upstream's scheduler_perf, the scheduler is measured without kubelets at work: the simulated
# nodes are paused (well inside the 40 s node grace period) while it binds.
if [ "${PAUSE_AGENT:-1}" = 1 ]; then kill -STOP "$agent"; fi
kubectl patch lease -n kube-system kube-scheduler --type=merge \
  -p "{\"spec\":{\"holderIdentity\":null,\"leaseDurationSeconds\":1,\"renewTime\":\"$(micro_now)\"}}" >/dev/null
t4=$(date +%s.%N)
until [ "$(( $(metric 'apiserver_request_total{verb="CREATE",resource="pods",code="201"}') - binds0 ))" -ge "$REPLICAS" ]; do
  if [ "$(echo "$(date +%s.%N) - $t4 > 600" | bc)" = 1 ]; then echo "gave up binding after 600 s"; exit 1; fi
  sleep 0.2
done
t5=$(date +%s.%N)
if [ "${PAUSE_AGENT:-1}" = 1 ]; then kill -CONT "$agent"; fi
echo "scheduler (simulated nodes $([ "${PAUSE_AGENT:-1}" = 1 ] && echo paused || echo running)): $REPLICAS pending pods bound after $(echo "$t5 - $t4" | bc) s ($(echo "scale=0; $REPLICAS / ($t5 - $t4)" | bc) pods/s; includes up to 2 s of lease takeover)"
