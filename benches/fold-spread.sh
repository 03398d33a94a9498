#!/usr/bin/env bash
# How far the April-July July-validation figures move with the session hash's seed alone
# (--session-seed: which fold of the out-of-fold product rates each session is in; nothing
# is sampled at this size). The issue-19 baseline (7aac803, folds by position) is one draw
# of the same spread, so a seed's distance from it reads against the spread, not alone.
# Usage: benches/fold-spread.sh [DATA]   SEEDS="2008 1 2" to choose the seeds; BIN=... as
# the other benches. Deterministic figures, not timings: any machine load will do.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/e-shop-clothing-2008-apr-jul.csv}
[ -f "$data" ] || { echo "no data at $data" >&2; exit 1; }
. benches/binary.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
seeds=${SEEDS:-2008 1 2 3 4 5 6 7 8 9 10 11}
for seed in $seeds; do
  "$bin" train --quiet --data "$data" --models "$out/$seed" --session-seed "$seed" >/dev/null
done
python3 - "$out" $seeds <<'PY'
import json, statistics, sys
out, seeds = sys.argv[1], sys.argv[2:]
rows = []
for seed in seeds:
    r = json.load(open(f"{out}/{seed}/report.json"))
    convert = r["convert_candidates"][r["chosen_convert"]]["metrics"]
    revenue = r["revenue_candidates"][r["chosen_revenue"]]["metrics"]
    rows.append((seed, convert["roc_auc"], convert["log_loss"], revenue["rmse"]))
    print(f"seed {seed:>5}: ROC-AUC {rows[-1][1]:.6f}  log loss {rows[-1][2]:.6f}  revenue RMSE {rows[-1][3]:.6f}")
for i, name in [(1, "ROC-AUC"), (2, "log loss"), (3, "revenue RMSE")]:
    v = [row[i] for row in rows]
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    print(f"{name:>12}: mean {statistics.mean(v):.6f}  sd {sd:.6f}  min {min(v):.6f}  max {max(v):.6f}")
PY
