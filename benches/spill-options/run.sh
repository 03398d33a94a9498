#!/usr/bin/env bash
# Cold release builds of each option, one after another, with their own target folders.
cd "$(dirname "$0")"
for c in baseline extsort datafusion; do
  rm -rf target-$c
  start=$(date +%s)
  (cd $c && CARGO_TARGET_DIR=../target-$c cargo build --release -q) > $c.log 2>&1
  rc=$?
  end=$(date +%s)
  size=$(stat -c %s target-$c/release/*-spill 2>/dev/null || echo none)
  crates=$(cd $c && cargo tree -e normal --prefix none 2>/dev/null | sort -u | wc -l)
  echo "$c rc=$rc cold_release_build_s=$((end-start)) binary_bytes=$size crates=$crates load=$(cut -d' ' -f1-3 /proc/loadavg)" >> results.txt
done
