#!/usr/bin/env bash
# Collection and export benchmark: N synthetic observations through the jsonl connector
# into the store, then the report and both workbooks. Each phase runs alone under
# /usr/bin/time -v so its wall time and peak memory (maximum resident set size) are its own.
# The collection runs twice: the second time over the same input (idempotence: nothing
# new, and no slower). With ACCOUNTS=N, N accounts read daily for 30 days are written
# into the store after that (time and store growth).
#   bench/run.sh 1000000 10000000
#   ACCOUNTS=100000 bench/run.sh 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p tally --example bench
bin=target/release/examples/bench
work=${BENCH_DIR:-target/bench}
mkdir -p "$work"
for n in "${@:-1000000}"; do
    echo "== N = $n"
    rm -f "$work/$n.db" "$work/$n.db-wal" "$work/$n.db-shm" "$work/$n.zip"
    [ -f "$work/$n.jsonl" ] || "$bin" generate "$n" "$work/$n.jsonl"
    phases=("collect $work/$n.jsonl $work/$n.db" "collect $work/$n.jsonl $work/$n.db" "export $work/$n.db $work/$n.zip")
    [ -n "${ACCOUNTS:-}" ] && phases+=("accounts $ACCOUNTS 30 $work/$n.db")
    uptime
    for phase in "${phases[@]}"; do
        /usr/bin/time -v "$bin" $phase 2> "$work/time.txt" || { cat "$work/time.txt"; exit 1; }
        grep -E '^(collect|export):' "$work/time.txt" || true
        grep -E '^accounts: [0-9]' "$work/time.txt" || true
        # CPU seconds too: on a shared machine they vary far less than the wall time.
        grep -E 'User time|System time|Elapsed \(wall clock\)|Maximum resident set size' "$work/time.txt" | sed 's/^\s*/   /'
    done
done
