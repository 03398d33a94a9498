#!/usr/bin/env bash
# The console and the report end to end in a real headless Chromium (Debian's package),
# driven by playwright-core from npm, against the release binary on loopback over a copy
# of the shipped models (with their report.html).
# Usage: tests/e2e/run.sh [BINARY] [SCREENSHOT_DIR]   (default target/release/clickstream,
# target/screenshots). Installs chromium (apt) and playwright-core (npm) when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/release/clickstream}
shots=${2:-target/screenshots}
command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
runner=target/e2e-runner
mkdir -p "$runner" "$shots"
cp tests/e2e/console.mjs "$runner/"
if [ ! -d "$runner/node_modules/playwright-core" ]; then
  (cd "$runner" && npm install --silent --no-audit --no-fund playwright-core@1 >/dev/null)
fi
work=$(mktemp -d)
cp -r models "$work/models"
port=$(deploy/free-ports)
MODELS_DIR="$work/models" PORT=$port HOST=127.0.0.1 RUST_LOG=warn "$bin" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
node "$runner/console.mjs" "http://127.0.0.1:$port" "$(cd "$shots" && pwd)" "$PWD/tests/e2e/fixtures"
echo "screenshots in $shots"
