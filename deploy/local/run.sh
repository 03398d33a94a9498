#!/usr/bin/env bash
# A load-balanced fleet on loopback: N replicas of the clickstream binary on 127.0.0.1
# ports, one shared models folder (as a shared volume would be), and nginx (Debian's
# package) in front with the shared deploy/nginx/proxy.conf.
# Usage: deploy/local/run.sh [REPLICAS] [BINARY] [MODELS_DIR]   then Ctrl-C to stop.
# With MODELS_DIR (say, the folder `train --models` published into), the replicas serve that
# folder itself, so a version trained there later is picked up by a reload or a poll
# (the replicas inherit the environment, POLL_INTERVAL_SECS included); without it, a scratch copy of the repository's version 1.
# deploy/local/test.sh sources this file for its functions (FLEET_LIBRARY=1).
set -euo pipefail
fleet_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# fleet_start N BINARY [MODELS_DIR]: sets FLEET_DIR, FLEET_LB (the balancer's address),
# FLEET_MODELS (the folder the replicas serve), REPLICA_PORTS and REPLICA_PIDS. Without
# MODELS_DIR the replicas serve $FLEET_DIR/models, a copy of the repository's version 1.
fleet_start() {
  local n=$1
  FLEET_BIN=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
  FLEET_DIR=$(mktemp -d)
  mkdir -p "$FLEET_DIR/logs" "$FLEET_DIR/nginx"
  if [ -n "${3:-}" ]; then
    [ -d "$3" ] || { echo "models folder $3 does not exist" >&2; return 1; }
    FLEET_MODELS=$(cd "$3" && pwd)
  else
    FLEET_MODELS=$FLEET_DIR/models
    for m in convert revenue segment; do
      mkdir -p "$FLEET_MODELS/$m"
      cp -r "$fleet_root/models/$m/1" "$FLEET_MODELS/$m/1"
    done
  fi
  local base
  base=$("$fleet_root/deploy/free-ports" $((n + 1)))
  REPLICA_PORTS=() REPLICA_PIDS=()
  for i in $(seq 0 $((n - 1))); do
    REPLICA_PORTS[i]=$((base + i))
    fleet_start_replica "$i"
  done
  FLEET_LB=127.0.0.1:$((base + n))
  {
    echo "upstream clickstream {"
    for p in "${REPLICA_PORTS[@]}"; do
      # Passive health checks: a failed attempt benches the replica for 2 s.
      echo "    server 127.0.0.1:$p max_fails=1 fail_timeout=2s;"
    done
    echo "    keepalive 32;"
    echo "}"
  } >"$FLEET_DIR/nginx/upstream.conf"
  cat >"$FLEET_DIR/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $FLEET_DIR/nginx/nginx.pid;
error_log $FLEET_DIR/logs/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $FLEET_DIR/nginx/body;
    proxy_temp_path $FLEET_DIR/nginx/proxy;
    include $FLEET_DIR/nginx/upstream.conf;
    server {
        listen $FLEET_LB;
        include $fleet_root/deploy/nginx/proxy.conf;
    }
}
CONF
  nginx -p "$FLEET_DIR/nginx" -c "$FLEET_DIR/nginx/nginx.conf" -g 'daemon off;' \
    >"$FLEET_DIR/logs/nginx.out" 2>&1 &
  FLEET_NGINX_PID=$!
  fleet_wait_ready "http://$FLEET_LB/readyz" || { cat "$FLEET_DIR/logs/nginx-error.log" >&2; return 1; }
}

# fleet_start_replica I: (re)starts replica I on its port and waits until it is ready.
fleet_start_replica() {
  local i=$1
  MODELS_DIR="$FLEET_MODELS" PORT=${REPLICA_PORTS[i]} HOST=127.0.0.1 WORKERS=1 \
    LOG_FORMAT=json RUST_LOG=info "$FLEET_BIN" serve >>"$FLEET_DIR/logs/replica-$i.log" 2>&1 &
  REPLICA_PIDS[i]=$!
  fleet_wait_ready "http://127.0.0.1:${REPLICA_PORTS[i]}/readyz"
}

fleet_wait_ready() {
  for _ in $(seq 100); do
    curl -sf "$1" >/dev/null && return 0
    sleep 0.1
  done
  echo "not ready: $1" >&2
  return 1
}

fleet_stop() {
  [ -n "${FLEET_NGINX_PID:-}" ] && kill "$FLEET_NGINX_PID" 2>/dev/null || true
  for pid in "${REPLICA_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  [ -n "${FLEET_DIR:-}" ] && [ -z "${FLEET_KEEP:-}" ] && rm -rf "$FLEET_DIR"
  return 0
}

if [ -z "${FLEET_LIBRARY:-}" ]; then
  command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
  bin=${2:-$fleet_root/target/release/clickstream}
  [ -x "$bin" ] || (cd "$fleet_root" && cargo build --release --quiet)
  trap fleet_stop EXIT
  fleet_start "${1:-3}" "$bin" "${3:-}"
  echo "balancer: http://$FLEET_LB  replicas: ${REPLICA_PORTS[*]}  models: $FLEET_MODELS"
  echo "Ctrl-C stops the fleet"
  wait "$FLEET_NGINX_PID"
fi
