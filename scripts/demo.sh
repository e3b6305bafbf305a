#!/usr/bin/env bash
# make demo: the reference scenario on embedded clusters. For now it runs the
# first half of the story (two regions' clusters, the agent beside europe, a
# mirror of LH.* and a producer in south-america); the failover half arrives
# with the failover and provider issues. Every file it writes is under .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=.demo
AGENT=bin/kafka-failover-agent
NA_PORT=${NA_PORT:-19092} EU_PORT=${EU_PORT:-29092} API_PORT=${API_PORT:-18080}
rm -rf "$DEMO" && mkdir -p "$DEMO"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; echo "demo: stopped all processes; logs are in $DEMO/"; }
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }

say "starting cluster north-america on 127.0.0.1:$NA_PORT and europe on 127.0.0.1:$EU_PORT"
$AGENT dev-cluster --name north-america --listen 127.0.0.1:$NA_PORT --data-dir $DEMO/north-america > $DEMO/north-america.log 2>&1 & pids+=($!)
$AGENT dev-cluster --name europe --listen 127.0.0.1:$EU_PORT --data-dir $DEMO/europe > $DEMO/europe.log 2>&1 & pids+=($!)

say "starting the agent beside europe (API on 127.0.0.1:$API_PORT)"
head -c 24 /dev/urandom | base64 > $DEMO/token
head -c 32 /dev/urandom | base64 > $DEMO/secret.key
$AGENT run --listen 127.0.0.1:$API_PORT --state-bootstrap 127.0.0.1:$EU_PORT --token-file $DEMO/token --secret-key-file $DEMO/secret.key > $DEMO/agent.log 2>&1 & pids+=($!)
API=http://127.0.0.1:$API_PORT
for _ in $(seq 1 100); do curl -fs $API/readyz >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs $API/readyz >/dev/null || { echo "demo: the agent did not become ready; see $DEMO/agent.log"; exit 1; }
auth=(-H "Authorization: Bearer $(cat $DEMO/token)")
put() { curl -fsS "${auth[@]}" -X PUT "$API$1" -d "$2" >/dev/null; echo "PUT $1"; }

say "declaring the clusters and the mirror north-america -> europe of LH.* (what terraform apply will do)"
put /v1/clusters/north-america "{\"bootstrap_servers\":[\"127.0.0.1:$NA_PORT\"]}"
put /v1/clusters/europe "{\"bootstrap_servers\":[\"127.0.0.1:$EU_PORT\"]}"
put /v1/mirrors/na-to-eu '{"source":"north-america","target":"europe","topics":{"include":["LH\\..*"]},"groups":{"include":["consumer-.*"]},"refresh_interval":"1s"}'

say "south-america producer writes 300 orders to north-america"
go run ./examples/three-region-failover/producer -bootstrap 127.0.0.1:$NA_PORT -n 300 -every 5ms

say "waiting for the mirror to catch up"
for _ in $(seq 1 60); do
  lag=$(curl -fs "${auth[@]}" $API/v1/mirrors/na-to-eu/status | sed -n 's/.*"lag_records": \([0-9]*\).*/\1/p' | tail -1)
  parts=$(curl -fs "${auth[@]}" $API/v1/mirrors/na-to-eu/status | grep -c '"partition"' || true)
  [ "${parts:-0}" -ge 9 ] && [ "${lag:-1}" = 0 ] && break
  sleep 0.5
done
status=$(curl -fs "${auth[@]}" $API/v1/mirrors/na-to-eu/status)
echo "mirror na-to-eu: state $(sed -n 's/^  "state": "\(.*\)",/\1/p' <<<"$status"), $(grep -c '"partition"' <<<"$status") partitions, lag $(sed -n 's/^  "lag_records": \([0-9]*\)/\1/p' <<<"$status") records"

say "records per topic on each cluster (read with kcat, read_committed)"
printf '%-18s %14s %8s\n' topic north-america europe
for t in LH.ORDERS LH.CANCELLATIONS LH.STOCK; do
  na=$(kcat -C -b 127.0.0.1:$NA_PORT -t $t -e -q -X isolation.level=read_committed -f '%o\n' 2>/dev/null | wc -l)
  eu=$(kcat -C -b 127.0.0.1:$EU_PORT -t $t -e -q -X isolation.level=read_committed -f '%o\n' 2>/dev/null | wc -l)
  printf '%-18s %14s %8s\n' "$t" "$na" "$eu"
done
say "done: the failover half of the demo comes with the failover and provider issues"
