#!/usr/bin/env bash
# Collection and export benchmark: N synthetic observations through the jsonl connector
# into the store, then the report and both workbooks. Each phase runs alone under
# /usr/bin/time -v so its wall time and peak memory (maximum resident set size) are its own.
#   bench/run.sh 1000000 10000000
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --example bench
bin=target/release/examples/bench
work=${BENCH_DIR:-target/bench}
mkdir -p "$work"
for n in "${@:-1000000}"; do
    echo "== N = $n"
    rm -f "$work/$n.db" "$work/$n.db-wal" "$work/$n.db-shm" "$work/$n.zip"
    [ -f "$work/$n.jsonl" ] || "$bin" generate "$n" "$work/$n.jsonl"
    for phase in "collect $work/$n.jsonl $work/$n.db" "export $work/$n.db $work/$n.zip"; do
        /usr/bin/time -v "$bin" $phase 2> "$work/time.txt" || { cat "$work/time.txt"; exit 1; }
        grep -E '^(collect|export):' "$work/time.txt"
        grep -E 'Elapsed \(wall clock\)|Maximum resident set size' "$work/time.txt" | sed 's/^\s*/   /'
    done
done
