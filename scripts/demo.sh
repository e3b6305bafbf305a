#!/usr/bin/env bash
# make demo: the reference scenario on embedded clusters, start to end.
#
#  1. north-america (active) and europe (standby) run as separate dev-cluster
#     processes; the agent runs beside europe; `terraform apply` of
#     examples/three-region-failover declares clusters, mirrors and the policy.
#  2. The south-america producer and consumer follow the agent's discovery
#     answer. north-america is killed (kill -9); one `terraform apply
#     -var active_cluster=europe -var mode=forced` fails over, the
#     applications move to europe, and a table compares the report with the truth.
#  3. north-america comes back: `terraform apply -var reconcile=...` (a
#     kafka_failover_reconciliation) quarantines its divergent tail on europe
#     and rebuilds it from europe; a planned failback loses nothing.
#
# Every file it writes is under .demo/; every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=.demo
AGENT=bin/kafka-failover-agent
GO=$(command -v go || echo /usr/local/go/bin/go)
NA_PORT=${NA_PORT:-19092} EU_PORT=${EU_PORT:-29092} API_PORT=${API_PORT:-18080}
ORDERS=${ORDERS:-1200} EVERY=${EVERY:-15ms}
NA=127.0.0.1:$NA_PORT EU=127.0.0.1:$EU_PORT API=http://127.0.0.1:$API_PORT
TOPICS=(LH.ORDERS LH.CANCELLATIONS LH.STOCK)

say() { printf '\n== [%s] %s\n' "$(date +%T)" "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

# terraform on the PATH, else the OpenTofu that scripts/ensure-tools.sh finds or builds.
TF=$(command -v terraform || true)
if [ -z "$TF" ]; then
  TF=$(scripts/ensure-tools.sh | tail -1 | sed -n 's/^TF_ACC_TERRAFORM_PATH=//p')
  [ -x "$TF" ] || die "no terraform CLI (scripts/ensure-tools.sh found none)"
fi
command -v kcat >/dev/null || die "kcat is missing: run scripts/ensure-tools.sh (make tools)"

rm -rf "$DEMO" && mkdir -p "$DEMO/bin" "$DEMO/tf"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "demo: stopped all processes; logs and data are in $DEMO/"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building the sample applications into $DEMO/bin"
"$GO" build -o "$DEMO/bin/" ./examples/three-region-failover/producer ./examples/three-region-failover/consumer

wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null && return 0; sleep 0.1; done; die "nothing listens on $1"; }
start_na() {
  $AGENT dev-cluster --name north-america --listen $NA --data-dir $DEMO/north-america >> $DEMO/north-america.log 2>&1 & NA_PID=$!; pids+=($NA_PID)
  wait_port $NA
}
# count BOOTSTRAP: records of the three topics, read_committed, one number per topic.
count() { for t in "${TOPICS[@]}"; do kcat -C -b "$1" -t "$t" -e -q -X isolation.level=read_committed -f '%o\n' 2>/dev/null | wc -l; done; }
sum() { local s=0; for n in "$@"; do s=$((s + n)); done; echo $s; }

for addr in $NA $EU 127.0.0.1:$API_PORT; do
  if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then die "something already listens on $addr (another demo?); set NA_PORT, EU_PORT or API_PORT"; fi
done

say "starting cluster north-america on $NA and europe on $EU (data under $DEMO/)"
start_na
$AGENT dev-cluster --name europe --listen $EU --data-dir $DEMO/europe > $DEMO/europe.log 2>&1 & pids+=($!)
wait_port $EU

say "starting the agent beside europe (API on $API)"
head -c 24 /dev/urandom | base64 > $DEMO/token
head -c 32 /dev/urandom | base64 > $DEMO/secret.key
$AGENT run --listen 127.0.0.1:$API_PORT --state-bootstrap $EU --token-file $DEMO/token --secret-key-file $DEMO/secret.key > $DEMO/agent.log 2>&1 & pids+=($!)
for _ in $(seq 1 100); do curl -fs $API/readyz >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs $API/readyz >/dev/null || die "the agent did not become ready; see $DEMO/agent.log"
auth=(-H "Authorization: Bearer $(cat $DEMO/token)")

# Terraform: the provider from bin/ through dev_overrides (no init needed),
# state and plugin data under $DEMO/tf.
printf 'provider_installation {\n  dev_overrides {\n    "registry.terraform.io/kafka-failover/kafka" = "%s"\n  }\n  direct {}\n}\n' "$PWD/bin" > $DEMO/tf/cli.tfrc
cp examples/three-region-failover/main.tf $DEMO/tf/
export TF_CLI_CONFIG_FILE=$PWD/$DEMO/tf/cli.tfrc CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
export KAFKA_FAILOVER_TOKEN=$(cat $DEMO/token)
apply() {
  local log=$DEMO/tf/apply-$1.log; shift
  echo "\$ terraform apply $*"
  if ! "$TF" -chdir=$DEMO/tf apply -auto-approve -input=false -no-color -var agent_url=$API \
      -var "north_america_bootstrap=[\"$NA\"]" -var "europe_bootstrap=[\"$EU\"]" "$@" > "$log" 2>&1; then
    tail -30 "$log"; die "terraform apply failed; see $log"
  fi
  grep -E '^(Apply complete|[a-z_]+ = )' "$log" | sed 's/^/   /'
}

say "terraform apply examples/three-region-failover: clusters, mirrors na-to-eu and eu-to-na, policy loosehanger (north-america active)"
apply 1

say "south-america: producer ($ORDERS orders, one every $EVERY) and consumer (group consumer-southamerica) follow the agent's discovery answer"
app=(-agent $API -token-file $DEMO/token)
$DEMO/bin/producer -n $ORDERS -every $EVERY "${app[@]}" > $DEMO/producer.log 2>&1 & PROD_PID=$!; pids+=($PROD_PID)
sleep 1
$DEMO/bin/consumer -duration 150s "${app[@]}" > $DEMO/consumer.log 2>&1 & CONS_PID=$!; pids+=($CONS_PID)
progress() { printf '   producer: %s | consumer: %s records read\n' "$(grep -o '[0-9]* orders written.*' $DEMO/producer.log | tail -1 || true)" "$(grep -c ' LH-' $DEMO/consumer.log || true)"; }
for _ in 1 2 3 4 5; do sleep 2; progress; done

say "north-america is lost: kill -9 $NA_PID"
kill_ms=$(date +%s%3N)
kill -9 $NA_PID; wait $NA_PID 2>/dev/null || true
sleep 1

say "failover: terraform apply -var active_cluster=europe -var mode=forced"
apply_ms=$(date +%s%3N)
apply 2 -var active_cluster=europe -var mode=forced
reported_lost=$("$TF" -chdir=$DEMO/tf output -raw records_lost)
last_contact=$("$TF" -chdir=$DEMO/tf output -raw source_last_contact)

say "the applications follow discovery to europe"
for _ in $(seq 1 60); do grep -q ' europe LH\.' $DEMO/consumer.log && break; sleep 0.5; done
grep -m1 'discovery:' $DEMO/producer.log | sed 's/^/   /' || true
grep -m1 'discovery:' $DEMO/consumer.log | sed 's/^/   /' || true
grep -m1 ' europe LH\.' $DEMO/consumer.log | sed 's/^/   first record on europe: /' || echo "   the consumer has not read from europe yet"
while kill -0 $PROD_PID 2>/dev/null; do sleep 2; progress; done
wait $PROD_PID || die "the producer failed; see $DEMO/producer.log"
last=$(printf 'LH-%06d' "$ORDERS")
for _ in $(seq 1 60); do grep -q " $last\$" $DEMO/consumer.log && break; sleep 0.5; done
sleep 2 # the other partitions' last records
kill -TERM $CONS_PID 2>/dev/null || true; wait $CONS_PID || true
prod_summary=$(grep 'producer summary' $DEMO/producer.log); cons_summary=$(grep 'consumer summary' $DEMO/consumer.log || true)
echo "   $prod_summary"; echo "   $cons_summary"

field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }
before=$(field 'acked\[north-america\]' "$prod_summary"); after=$(field 'acked\[europe\]' "$prod_summary")
before=${before:-0} after=${after:-0}
eu_total=$(sum $(count $EU))
truly_lost=$((before + after - eu_total))
dups=$(field duplicates "$cons_summary")
first_eu=$(field 'first_ms\[europe\]' "$cons_summary")
if [ -n "$first_eu" ]; then switch=$(awk "BEGIN{printf \"%.1f s\", ($first_eu-$apply_ms)/1000}"); else switch="never"; fi
# The report is exact as of north-america's last answer; what it took
# between then and the kill is known only when it returns.
contact_age="never observed"
if [ -n "$last_contact" ]; then contact_age="$(( kill_ms - $(date -d "$last_contact" +%s%3N) )) ms before the kill"; fi

say "forced failover to europe: the result"
{
  printf '   %-52s %s\n' "records produced before the failover (north-america)" "$before"
  printf '   %-52s %s\n' "records produced after the failover (europe)" "$after"
  printf '   %-52s %s\n' "records on europe now" "$eu_total"
  printf '   %-52s %s\n' "records lost (produced - on europe)" "$truly_lost"
  printf '   %-52s %s\n' "records known lost at the failover (records_lost)" "$reported_lost (exact as of north-america's last answer, $contact_age)"
  printf '   %-52s %s\n' "records re-read by consumer-southamerica" "${dups:-?}"
  printf '   %-52s %s\n' "apply -> consumer's first record on europe" "$switch"
} | tee $DEMO/table-failover.txt

say "north-america returns (same data dir); terraform apply -var 'reconcile=[\"north-america\"]'"
start_na
apply 3 -var active_cluster=europe -var mode=forced -var 'reconcile=["north-america"]'
quarantined=$("$TF" -chdir=$DEMO/tf output -raw records_quarantined)
echo "   north-america's divergent tail: ${quarantined:-?} records quarantined in LH.*.diverged on europe; north-america rebuilt from europe by eu-to-na"

say "waiting for eu-to-na to copy europe into north-america"
for i in $(seq 1 120); do
  eu_counts=$(count $EU | tr '\n' ' '); na_counts=$(count $NA | tr '\n' ' ')
  [ "$eu_counts" = "$na_counts" ] && break
  [ $((i % 4)) = 0 ] && echo "   europe: $eu_counts  north-america: $na_counts"
  sleep 0.5
done
[ "$eu_counts" = "$na_counts" ] || die "north-america did not catch up (europe $eu_counts, north-america $na_counts)"
echo "   europe: $eu_counts  north-america: $na_counts"

say "planned failback (the producer is stopped; fencing none): terraform apply -var active_cluster=north-america -var mode=planned"
apply 4 -var active_cluster=north-america -var mode=planned -var 'reconcile=["north-america"]'
failback_lost=$("$TF" -chdir=$DEMO/tf output -raw records_lost)
active=$(curl -fsS "${auth[@]}" $API/v1/policies/loosehanger/active | tr -d '\n ')
echo "   discovery: $active"

say "planned failback to north-america: the result"
{
  printf '   %-18s %14s %8s\n' topic north-america europe
  i=0; na_c=($(count $NA)); eu_c=($(count $EU))
  for t in "${TOPICS[@]}"; do printf '   %-18s %14s %8s\n' "$t" "${na_c[$i]}" "${eu_c[$i]}"; i=$((i + 1)); done
  printf '   %-18s %14s %8s\n' total "$(sum "${na_c[@]}")" "$(sum "${eu_c[@]}")"
  printf '   %-52s %s\n' "records lost by the failback (records_lost)" "$failback_lost"
  [ "${quarantined:-?}" = "$truly_lost" ] && found=yes || found=NO
  printf '   %-52s %s\n' "records lost by the forced failover (produced - on europe)" "$truly_lost"
  printf '   %-52s %s\n' "  known at the failover (records_lost)" "$reported_lost ($contact_age)"
  printf '   %-52s %s\n' "  found on return, quarantined on europe" "${quarantined:-?} (equals the true loss: $found)"
} | tee $DEMO/table-failback.txt

say "done: logs, data and terraform state are in $DEMO/"
