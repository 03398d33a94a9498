#!/usr/bin/env bash
# The loopback fleet (deploy/local/run.sh: replicas behind nginx) through what happens in
# production, each scenario under a steady, bounded load (wrk: 16 connections, one thread,
# POST /convert with a 10-click session) that counts every response; exits non-zero when a
# scenario fails:
#   1 spread       every replica serves a share of the requests (each replica's /metrics)
#   2 kill -9      a replica is killed under load: no client sees a failure
#   3 rollout      a new model version lands; replicas reload one at a time (SIGHUP) under
#                  load: no failure, every replica ends on it and answers carry it
#   4 sigterm      a replica is stopped (SIGTERM) under load: it drains, no failure
#   5 corrupt      a corrupt version lands and every replica rescans under load: none
#                  serves it, no failure, /models on each says why
#   6 any folder   run.sh given a models folder of its own (as `train --models` makes)
#                  serves that folder's highest version through the balancer
# Usage: deploy/local/test.sh [BINARY] [REPLICAS] [SECONDS per scenario]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/release/clickstream}
replicas=${2:-3}
seconds=${3:-6}
[ -x "$bin" ] || cargo build --release --quiet
for tool in nginx wrk; do
  command -v "$tool" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk >/dev/null; break; }
done
# Compose's balancer uses the same proxy.conf with its own upstream file: check that pair
# parses (nginx -t resolves upstream names, so the service names become loopback here).
compose_check=$(mktemp -d)
sed -e 's/replica-[0-9]:8080/127.0.0.1:1/' -e "s#/etc/nginx/clickstream/proxy.conf#$(pwd)/deploy/nginx/proxy.conf#" \
  -e 's/listen 8080;/listen 127.0.0.1:1;/' deploy/compose/upstream.conf >"$compose_check/upstream.conf"
printf 'pid %s/nginx.pid;\nerror_log stderr;\nevents {}\nhttp { include %s/upstream.conf; }\n' "$compose_check" "$compose_check" >"$compose_check/nginx.conf"
nginx -t -q -p "$compose_check" -c "$compose_check/nginx.conf" || { echo "deploy/compose/upstream.conf does not parse with deploy/nginx/proxy.conf" >&2; exit 1; }
rm -rf "$compose_check"

FLEET_LIBRARY=1 source deploy/local/run.sh
trap fleet_stop EXIT
fleet_start "$replicas" "$bin"
work=$FLEET_DIR/test
mkdir -p "$work"

# The same 10-click session as benches/load.sh.
body=$(cat benches/convert-10-clicks.json)
cat >"$work/convert.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$body'
LUA

failures=0
report=()
# under_load NAME EVENT_FUNCTION: runs the load for $seconds with the event 2 s in, then
# records requests, failures and latency of the run.
under_load() {
  local name=$1 event=$2
  wrk -t1 -c16 -d"${seconds}s" --latency -s "$work/convert.lua" "http://$FLEET_LB/convert" >"$work/$name.wrk" &
  local load=$!
  sleep 2
  "$event"
  wait "$load"
  local requests non2xx socket p50 p99
  requests=$(awk '/requests in/ {print $1}' "$work/$name.wrk")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/$name.wrk")
  socket=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$work/$name.wrk")
  p50=$(awk '$1 == "50%" {print $2}' "$work/$name.wrk")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$name.wrk")
  LAST_FAILED=$(( ${non2xx:-0} + ${socket:-0} ))
  LAST_ROW=$(printf '%-10s %9s %7s %9s %9s' "$name" "$requests" "$LAST_FAILED" "$p50" "$p99")
}

verdict() { # name, ok (0/1), why
  if [ "$2" = 1 ]; then
    report+=("$LAST_ROW   ok")
  else
    report+=("$LAST_ROW   FAILED: $3")
    failures=$((failures + 1))
  fi
}

served() { # replica index -> POST /convert answered 200 so far
  curl -sf "http://127.0.0.1:${REPLICA_PORTS[$1]}/metrics" |
    awk '/^http_requests_total/ && /route="\/convert"/ && /status="200"/ {s += $NF} END {print s + 0}'
}

# Copies version 1 of convert as version N (only the manifest's number changes; it passes
# the self-test), written beside and renamed into place as a publisher does. CORRUPT=1
# appends to its weights, so its checksum fails.
publish() {
  local n=$1 staging="$FLEET_MODELS/convert/.staging-$1"
  cp -r "$FLEET_MODELS/convert/1" "$staging"
  python3 - "$staging/manifest.json" "$n" <<'PY'
import json, sys
path, version = sys.argv[1], int(sys.argv[2])
m = json.load(open(path))
m["version"] = version
json.dump(m, open(path, "w"))
PY
  [ "${CORRUPT:-0}" = 1 ] && printf '  ' >>"$staging/weights.json"
  mv "$staging" "$FLEET_MODELS/convert/$n"
}

default_version() { # replica index
  curl -sf "http://127.0.0.1:${REPLICA_PORTS[$1]}/models/convert" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["default_version"])'
}

# 1: spread
before=(); for i in "${!REPLICA_PORTS[@]}"; do before[i]=$(served "$i"); done
nothing() { :; }
under_load spread nothing
ok=1 shares=""
total=0; for i in "${!REPLICA_PORTS[@]}"; do d[i]=$(( $(served "$i") - before[i] )); total=$((total + d[i])); done
for i in "${!REPLICA_PORTS[@]}"; do
  shares+="${d[i]} "
  # Each replica takes at least a third of its even share.
  [ $((d[i] * replicas * 3)) -ge "$total" ] || ok=0
done
[ "$LAST_FAILED" = 0 ] || ok=0
verdict spread "$ok" "requests per replica: $shares"
spread_shares=$shares

# 2: a replica killed
kill_one() { kill -KILL "${REPLICA_PIDS[1]}"; }
under_load kill-9 kill_one
verdict kill-9 "$([ "$LAST_FAILED" = 0 ] && echo 1 || echo 0)" "$LAST_FAILED failed requests"
fleet_start_replica 1

# 3: a rolling model update
rollout() {
  publish 2
  for i in "${!REPLICA_PIDS[@]}"; do
    kill -HUP "${REPLICA_PIDS[i]}"
    sleep 0.5
  done
}
under_load rollout rollout
ok=1 why=""
for i in "${!REPLICA_PORTS[@]}"; do
  v=$(default_version "$i"); [ "$v" = 2 ] || { ok=0; why+="replica $i on version $v; "; }
done
for _ in $(seq 12); do
  v=$(curl -sf -H 'Content-Type: application/json' -d "$body" "http://$FLEET_LB/convert" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["model_version"])')
  [ "$v" = 2 ] || { ok=0; why+="an answer from version $v; "; break; }
done
[ "$LAST_FAILED" = 0 ] || { ok=0; why+="$LAST_FAILED failed requests"; }
verdict rollout "$ok" "$why"

# 4: a replica stopped with SIGTERM
stop_one() { kill -TERM "${REPLICA_PIDS[2 % replicas]}"; }
under_load sigterm stop_one
ok=1; [ "$LAST_FAILED" = 0 ] || ok=0
wait "${REPLICA_PIDS[2 % replicas]}" 2>/dev/null; code=$?
[ "$code" = 0 ] || ok=0
verdict sigterm "$ok" "$LAST_FAILED failed requests, the replica exited with $code"
fleet_start_replica $((2 % replicas))

# 5: a corrupt version lands
corrupt() {
  CORRUPT=1 publish 3
  for pid in "${REPLICA_PIDS[@]}"; do kill -HUP "$pid"; done
}
under_load corrupt corrupt
sleep 0.5
ok=1 why=""
for i in "${!REPLICA_PORTS[@]}"; do
  info=$(curl -sf "http://127.0.0.1:${REPLICA_PORTS[i]}/models/convert")
  reason=$(echo "$info" | python3 -c 'import json, sys
m = json.load(sys.stdin)
print(next((f["reason"] for f in m["failed"] if f["version"] == 3), ""), "|", m["default_version"])')
  case $reason in
    *checksum*"| 2") ;;
    *) ok=0; why+="replica $i: $reason; " ;;
  esac
done
[ "$LAST_FAILED" = 0 ] || { ok=0; why+="$LAST_FAILED failed requests"; }
verdict corrupt "$ok" "$why"

# 6: run.sh, as a user starts it, over a models folder of the user's (the fleet's folder
# now holds convert versions 1 and 2 and a corrupt 3, so its default is 2, not the
# repository's 1).
own=$(mktemp -d)
cp -r "$FLEET_MODELS/." "$own/"
deploy/local/run.sh 2 "$bin" "$own" >"$work/run.out" 2>&1 &
run_pid=$!
ok=0 why="run.sh never said where its balancer is"
for _ in $(seq 100); do
  lb=$(awk '/^balancer:/ {print $2}' "$work/run.out")
  if [ -n "$lb" ]; then
    got=$(curl -sf "$lb/models/convert" | python3 -c 'import json, sys; print(json.load(sys.stdin)["default_version"])' || true)
    served=$(awk '/^balancer:/ {print $NF}' "$work/run.out")
    if [ "$got" = 2 ] && [ "$served" = "$own" ]; then ok=1 why=""; else why="default version ${got:-none} from $served"; fi
    break
  fi
  sleep 0.2
done
# A TERM that lands between run.sh's last echo and its `wait` is held by bash until nginx
# exits, which it never does (seen once in CI under load: the run hung): so it is sent
# again until run.sh has stopped its fleet and exited.
for _ in $(seq 50); do
  kill "$run_pid" 2>/dev/null || break
  sleep 0.2
done
wait "$run_pid" 2>/dev/null || true
rm -rf "$own"
LAST_ROW=$(printf '%-10s %s' any-folder "run.sh MODELS_DIR: the balancer answered with convert version ${got:-none}")
verdict any-folder "$ok" "$why"

echo "fleet: $replicas replicas (1 worker each) behind nginx on loopback; load: wrk, 16 connections, ${seconds} s a scenario, the event 2 s in"
printf '%-10s %9s %7s %9s %9s\n' scenario requests failed p50 p99
printf '%s\n' "${report[@]}"
echo "spread: POST /convert answered per replica: $spread_shares"
[ "$failures" = 0 ] || { echo "$failures scenario(s) failed; logs in $FLEET_DIR/logs" >&2; FLEET_KEEP=1; exit 1; }
