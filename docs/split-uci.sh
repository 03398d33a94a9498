#!/usr/bin/env sh
# Makes the April-July training file and the August test file from UCI's one April-August
# file, and prints their sha256. Usage: docs/split-uci.sh "e-shop clothing 2008.csv" OUT_DIR
# Line endings are normalised to \n; rows stay byte for byte otherwise, so the April-July
# output is the file the shipped models were trained on (its sha256 is in docs/data.md).
set -eu
src=$1
out=${2:-.}
mkdir -p "$out"
train="$out/e-shop-clothing-2008-apr-jul.csv"
test="$out/e-shop-clothing-2008-aug.csv"
# Column 2 is the month; the header row goes into both files.
tr -d '\r' < "$src" | awk -F';' -v train="$train" -v test="$test" '
  NR == 1 { print > train; print > test; next }
  $2 >= 4 && $2 <= 7 { print > train; next }
  $2 == 8 { print > test; next }
  { printf "line %d: month %s is not April to August\n", NR, $2 > "/dev/stderr"; bad = 1 }
  END { exit bad }'
sha256sum "$train" "$test"
