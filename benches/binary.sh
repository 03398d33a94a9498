# Sourced by the benchmarks (from the project's root): `bin` is the binary they run, BIN if
# given (another build's, an older commit's say), else this checkout's release build.
bin=${BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet --bin clickstream
  bin=${CARGO_TARGET_DIR:-target}/release/clickstream
fi
