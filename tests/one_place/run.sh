#!/usr/bin/env bash
# "Add an answer field" and "add a setting" are one edit each: this proves it with the
# compiler. For each case it copies the sources, makes the one edit ARCHITECTURE.md's
# checklist names, and checks with `cargo check` that the compiler then points only at the
# places the checklist says it will (the constructors of the value), and that once those
# are given the field everything else (JSON, CSV, OpenAPI, the settings table and its
# documentation) builds unchanged: nothing else held a copy to forget.
#
# Usage: tests/one_place/run.sh   (from the repository; shares ./target, so only this
# crate is checked again, about half a minute per case on the CI machine)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# check CASE FILE ANCHOR LINE EXPECTED FIX
#   FILE: the one file the checklist names; ANCHOR: a line of it (fixed string) after which
#   LINE is inserted; EXPECTED: how many errors the compiler must raise, all E0063 (missing
#   field in a struct literal) naming the new field; FIX: the field's value, given at each
#   place the compiler pointed at, after which the crate must build with no error.
check() {
  local case=$1 file=$2 anchor=$3 line=$4 expected=$5 fix=$6
  local copy="$work/$case"
  mkdir -p "$copy"
  # The library compiles in the UCI shop's schema file (include_str!).
  cp -r "$repo/Cargo.toml" "$repo/Cargo.lock" "$repo/src" "$repo/schemas" "$copy/"
  [ -d "$repo/benches" ] && cp -r "$repo/benches" "$copy/"
  python3 - "$copy/$file" "$anchor" "$line" <<'PY'
import sys
path, anchor, line = sys.argv[1:]
text = open(path).read()
if text.count(anchor) != 1:
    sys.exit(f"{path}: the anchor {anchor!r} is found {text.count(anchor)} times, not once")
at = text.index(anchor) + len(anchor)
at = text.index("\n", at) + 1
open(path, "w").write(text[:at] + line + "\n" + text[at:])
PY
  local log="$work/$case.json"
  (cd "$copy" && CARGO_TARGET_DIR="$target" cargo check --release --lib --message-format=json -q >"$log" 2>/dev/null) || true
  python3 - "$log" "$case" "$expected" "$copy" "$fix" <<'PY'
import json, sys
log, case, expected, copy, fix = sys.argv[1:]
errors = []
for raw in open(log):
    try:
        m = json.loads(raw)
    except ValueError:
        continue
    msg = m.get("message") if m.get("reason") == "compiler-message" else None
    if msg and msg["level"] == "error" and msg.get("spans"):
        errors.append(msg)
places = []
for e in errors:
    span = next(s for s in e["spans"] if s["is_primary"])
    code = (e.get("code") or {}).get("code")
    where = f'{span["file_name"]}:{span["line_start"]}'
    print(f"  {case}: the compiler points at {where}: {code} {e['message']}")
    if code != "E0063":
        sys.exit(f"{case}: an error other than a missing field in a constructor: {e['rendered']}")
    places.append(span)
if len(places) != int(expected):
    sys.exit(f"{case}: expected {expected} place(s) to edit, the compiler named {len(places)}")
# Give the field at each place, innermost first so earlier offsets stay true.
by_file = {}
for s in places:
    by_file.setdefault(s["file_name"], []).append(s)
for name, spans in by_file.items():
    path = f"{copy}/{name}"
    text = open(path, "rb").read()
    for s in sorted(spans, key=lambda s: -s["byte_start"]):
        # The span is the struct literal's path; its field list opens at the next `{`.
        brace = text.index(b"{", s["byte_end"]) + 1
        text = text[:brace] + fix.encode() + b"," + text[brace:]
    open(path, "wb").write(text)
PY
  if ! (cd "$copy" && CARGO_TARGET_DIR="$target" cargo check --release --lib -q 2>"$work/$case.err"); then
    cat "$work/$case.err" >&2
    echo "$case: with the field given where the compiler pointed, the crate still does not build" >&2
    exit 1
  fi
  echo "$case: one edit, the compiler pointed at $expected constructor(s), and nothing else needed changing"
}

# An answer field: one line in `scoring`'s answer; the compiler names the answer's two
# constructors (in `scoring`, beside it), nothing in the JSON, CSV, OpenAPI or `score` code.
check answer_field src/scoring.rs "pub struct ConvertAnswer {" \
  "    /// A field added to prove the answer is written once.
    pub proof_field: f64," 2 "proof_field: 0.5"

# A setting: one row of the `settings!` table; Settings, its default, `serve --help` and
# the documented table all come from it, so the compiler has nothing to point at.
check setting src/service/settings.rs 'help "port to listen on";' \
  "    /// A setting added to prove the table is the one place.
    proof_setting: u64 = 7,
        help \"a setting added by tests/one_place\";" 0 ""
