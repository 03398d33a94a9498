#!/usr/bin/env bash
# Builds the image from the repository's own Dockerfile and checks it as a runtime would use
# it, with podman (no Docker engine runs on these machines; ../shared/docs/containers.md).
# The runtime stage is built on a local Debian base made with debootstrap (no registry is
# reachable here), with the binary built on the host in place of the builder stage
# (a named build context, `--build-context builder=DIR`): no Rust image can be pulled. Checks, each timed:
#   /readyz turns ready under --read-only as the non-root user; a /convert answer equals the
#   host binary's; `podman healthcheck run` passes; the process is not root; the image holds
#   no compiler and no source; its size; `podman stop` (SIGTERM) with a batch in flight ends
#   cleanly within the grace period and the batch completes.
# Usage: deploy/container/test.sh [BINARY]   (default: target/release/clickstream, built if absent)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=${1:-target/release/clickstream}
[ -x "$bin" ] || cargo build --release --quiet
work=$(mktemp -d)
image=localhost/clickstream:test
name=clickstream-test-$$
started=$(date +%s.%N)
step_start=$started

step() { # prints the time the previous step took, then names the next
  local now; now=$(date +%s.%N)
  [ -n "${current:-}" ] && printf '   %-58s %6.1f s\n' "$current" "$(echo "$now - $step_start" | bc)"
  current=$1 step_start=$now
}
fail() { echo "FAIL: $*" >&2; exit 1; }

step "install podman, runc, debootstrap (if missing)"
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap binutils >/dev/null
fi
# The settings this machine needs (containers.md): runc with cgroupfs, no default ulimits.
printf '[containers]\ndefault_ulimits = []\n' >"$work/containers.conf"
export CONTAINERS_CONF="$work/containers.conf"
P=(podman --runtime runc --cgroup-manager cgroupfs)
LIMITS=(--ulimit nofile=20000:20000 --ulimit nproc=1000:1000)
cleanup() {
  "${P[@]}" rm -f "$name" >/dev/null 2>&1 || true
  [ -n "${host_pid:-}" ] && kill "$host_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step "local Debian base image (debootstrap, cached)"
base=localhost/debian:bookworm-minbase
if ! "${P[@]}" image exists "$base"; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  debootstrap --variant=minbase bookworm "$work/rootfs" ${mirror:+"$mirror"} >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
  tar -C "$work/rootfs" -c . | "${P[@]}" import - "$base" >/dev/null 2>&1
  rm -rf "$work/rootfs"
fi

step "the host binary as the builder stage's output (stripped)"
mkdir -p "$work/builder/out"
strip -o "$work/builder/out/clickstream" "$bin"

step "build the runtime stage from ./Dockerfile"
"${P[@]}" build -q --format docker --target runtime \
  --build-arg RUNTIME_IMAGE="$base" \
  --build-context builder="$work/builder" \
  --build-arg RUST_IMAGE="$base" \
  -t "$image" -f Dockerfile . >/dev/null
size=$("${P[@]}" image inspect -f '{{.Size}}' "$image")
base_size=$("${P[@]}" image inspect -f '{{.Size}}' "$base")

step "run --read-only as its own user; wait for /readyz"
port=$(deploy/free-ports 2)
# Without systemd podman cannot arm the health check's timer and says so on stderr; the
# check itself runs on demand below.
"${P[@]}" run -d --name "$name" --read-only --network host "${LIMITS[@]}" \
  -e PORT="$port" -e HOST=127.0.0.1 -e MAX_SESSIONS_PER_BATCH=200000 "$image" >/dev/null 2>"$work/run.err" \
  || { cat "$work/run.err"; fail "podman run"; }
ready=0
for _ in $(seq 100); do
  if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; then ready=1; break; fi
  sleep 0.1
done
[ "$ready" = 1 ] || { "${P[@]}" logs "$name" | tail -20; fail "/readyz never turned ready"; }

step "a /convert answer equals the host binary's"
body='{"session_id":"container-check","clicks":[{"year":2008,"month":7,"day":3,"order":1,"country":29,"page1_main_category":1,"page2_clothing_model":"A13","colour":3,"location":2,"model_photography":1,"price":28,"price_2":2,"page":1},{"year":2008,"month":7,"day":3,"order":2,"country":29,"page1_main_category":2,"page2_clothing_model":"B4","colour":3,"location":2,"model_photography":1,"price":52,"price_2":1,"page":1}]}'
host_port=$(( port + 1 ))
MODELS_DIR=models PORT=$host_port HOST=127.0.0.1 RUST_LOG=warn "$bin" serve >"$work/host.log" 2>&1 &
host_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$host_port/readyz" >/dev/null && break; sleep 0.1; done
in_image=$(curl -sf -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port/convert?explain=true")
on_host=$(curl -sf -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$host_port/convert?explain=true")
[ -n "$in_image" ] && [ "$in_image" = "$on_host" ] || fail "answers differ: image $in_image, host $on_host"
kill "$host_pid"; host_pid=

step "podman healthcheck run"
"${P[@]}" healthcheck run "$name" || fail "the health check did not pass"

step "the process is not root"
pid=$("${P[@]}" inspect -f '{{.State.Pid}}' "$name")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[ "$uid" != 0 ] || fail "the service runs as root"
user=$("${P[@]}" image inspect -f '{{.Config.User}}' "$image")

step "the image holds no compiler and no source"
"${P[@]}" export "$name" | tar -t >"$work/files"
if grep -E '(^|/)(rustc|cargo|gcc|cc|c\+\+|ld|as)$|\.rs$|(^|/)Cargo\.(toml|lock)$' "$work/files"; then
  fail "compiler or source files in the image (above)"
fi
grep -qx 'usr/local/bin/clickstream' "$work/files" || fail "no binary in the image"
grep -q '^models/convert/1/weights.json$' "$work/files" || fail "no shipped models in the image"

step "podman stop (SIGTERM) with a batch in flight"
# 60,000 sessions of 5 clicks: long enough to be in flight when the signal comes.
awk 'BEGIN {
  print "year,month,day,order,country,session_id,page1_main_category,page2_clothing_model,colour,location,model_photography,price,price_2,page"
  for (s = 1; s <= 60000; s++) for (o = 1; o <= 5; o++)
    printf "2008,4,1,%d,29,s%d,1,A%d,%d,5,1,%d,2,1\n", o, s, (s * 7 + o) % 200 + 1, o % 14 + 1, 20 + (s + o) % 60
}' >"$work/batch.csv"
curl -s -o "$work/batch.out" -w '%{http_code}' -H 'Content-Type: text/csv' -H 'Accept: text/csv' \
  --data-binary @"$work/batch.csv" "http://127.0.0.1:$port/score/batch" >"$work/batch.code" &
client=$!
sleep 0.3
kill -0 "$client" 2>/dev/null || fail "the batch ended before the signal: make it longer"
grace=30
stop_start=$(date +%s.%N)
"${P[@]}" stop --time "$grace" "$name" >/dev/null 2>"$work/stop.err" || { cat "$work/stop.err"; fail "podman stop"; }
stop_seconds=$(echo "$(date +%s.%N) - $stop_start" | bc)
wait "$client" || true
code=$(cat "$work/batch.code")
rows=$(($(wc -l <"$work/batch.out") - 1))
exit_code=$("${P[@]}" inspect -f '{{.State.ExitCode}}' "$name")
[ "$code" = 200 ] || fail "the batch in flight got $code"
[ "$rows" = 60000 ] || fail "the batch in flight got $rows rows, not 60000"
[ "$exit_code" = 0 ] || fail "the service exited with $exit_code after SIGTERM"
awk -v s="$stop_seconds" -v g="$grace" 'BEGIN {exit !(s < g)}' || fail "stop took $stop_seconds s, the grace period is $grace s"
step ""

printf 'image %s: %.1f MB (its Debian minbase base alone: %.1f MB; the binary %.1f MB)\n' \
  "$image" "$(echo "$size / 1000000" | bc -l)" "$(echo "$base_size / 1000000" | bc -l)" \
  "$(echo "$(stat -c %s "$work/builder/out/clickstream") / 1000000" | bc -l)"
printf 'runs as user %s (uid %s), read-only root filesystem; SIGTERM to exit with the batch in flight: %.1f s (exit %s, %s rows answered)\n' \
  "$user" "$uid" "$stop_seconds" "$exit_code" "$rows"
printf 'all checks passed in %.1f s\n' "$(echo "$(date +%s.%N) - $started" | bc)"
