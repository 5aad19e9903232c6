#!/usr/bin/env bash
# Collection and export benchmark: N synthetic observations through the jsonl connector
# into the store, then the report and both workbooks. Each phase runs alone under
# /usr/bin/time so its wall time and peak memory (maximum resident set size) are its own.
# The collection into a fresh store runs RUNS times (default 3) and the median counts,
# as in issue 13; then once more over the same input (idempotence: nothing new, and no
# slower), then the export. With ACCOUNTS=N, N accounts read daily for 30 days are
# written into the store after that (time and store growth). At the end a summary, and
# for N = 1 M and 10 M the targets of issue 13, each met or not.
#   bench/run.sh 1000000 10000000
#   RUNS=5 bench/run.sh 1000000
#   ACCOUNTS=100000 bench/run.sh 1000000
#   NO_BUILD=1 bench/run.sh ...   (use the release build as it is)
#
# Each phase's input is read once just before it (`cat > /dev/null`): this machine pages
# out file data untouched for about a minute (a DAMON pageout scheme, see
# /sys/kernel/mm/damon/admin) and hands the freed memory back to its host, so an input
# generated or last read earlier would be read from disk, into memory the host must
# supply again: up to 4.5 s more for the 10 M collection (bench/RESULTS.md, "Cold
# input, the stager's sort, freed memory").
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${NO_BUILD:-}" ] || cargo build --release -p tally --example bench
bin=target/release/examples/bench
work=${BENCH_DIR:-target/bench}
runs=${RUNS:-3}
mkdir -p "$work"

# timed LABEL ARGS...: runs `bench ARGS` under /usr/bin/time, prints a line, and leaves
# its wall seconds in $wall and its peak memory in MiB in $mib.
timed() {
    local label=$1
    shift
    if ! /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$bin" "$@" > "$work/out.txt" 2>&1; then
        cat "$work/out.txt" "$work/time.txt"
        exit 1
    fi
    local user sys kib
    read -r wall user sys kib < <(tail -n 1 "$work/time.txt")
    mib=$(awk -v k="$kib" 'BEGIN { printf "%.0f", k / 1024 }')
    local said
    said=$(grep -E '^(collect: [0-9]|export: report [0-9]|accounts: [0-9])' "$work/out.txt" | tail -n 1 || true)
    printf '  %-22s %7.2f s wall %7.2f s user %6.2f s system %5d MiB   %s\n' \
        "$label" "$wall" "$user" "$sys" "$mib" "$said"
}

median() { tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
largest() { tr ' ' '\n' | sort -g | tail -n 1; }

declare -A collect_s collect_mib again_s export_s export_mib
for n in "${@:-1000000}"; do
    echo "== N = $n ($(uptime | sed 's/.*load/load/'))"
    db=$work/$n.db
    [ -f "$work/$n.jsonl" ] || "$bin" generate "$n" "$work/$n.jsonl"
    walls=() mibs=()
    for run in $(seq 1 "$runs"); do
        rm -f "$db" "$db-wal" "$db-shm" "$work/$n.zip"
        cat "$work/$n.jsonl" > /dev/null
        timed "collect (fresh) $run/$runs" collect "$work/$n.jsonl" "$db"
        walls+=("$wall") mibs+=("$mib")
    done
    collect_s[$n]=$(echo "${walls[*]}" | median)
    collect_mib[$n]=$(echo "${mibs[*]}" | largest)
    cat "$work/$n.jsonl" > /dev/null
    timed "collect again" collect "$work/$n.jsonl" "$db"
    again_s[$n]=$wall
    cat "$db"* > /dev/null
    timed "export" export "$db" "$work/$n.zip"
    export_s[$n]=$wall export_mib[$n]=$mib
    if [ -n "${ACCOUNTS:-}" ]; then
        timed "accounts $ACCOUNTS × 30" accounts "$ACCOUNTS" 30 "$db"
    fi
done

echo
echo "== Summary (collect: median of $runs fresh runs, the largest peak memory)"
printf '%-10s %12s %10s %14s %10s %10s\n' N collect MiB "collect again" export MiB
for n in "${@:-1000000}"; do
    printf '%-10s %10s s %10s %12s s %8s s %10s\n' "$n" "${collect_s[$n]}" \
        "${collect_mib[$n]}" "${again_s[$n]}" "${export_s[$n]}" "${export_mib[$n]}"
done

# The targets of issue 13, for the sizes it names.
check() { # check WHAT VALUE OP LIMIT
    if awk -v v="$2" -v l="$4" "BEGIN { exit !(v $3 l) }"; then
        printf '  met     %-46s %s %s %s\n' "$1" "$2" "$3" "$4"
    else
        printf '  MISSED  %-46s %s, target %s %s\n' "$1" "$2" "$3" "$4"
    fi
}
m=1000000 t=10000000
if [ -n "${collect_s[$m]:-}" ] && [ -n "${collect_s[$t]:-}" ]; then
    echo
    echo "== Issue 13's targets"
    check "1 M collection (s)" "${collect_s[$m]}" "<=" 2
    check "10 M collection (s)" "${collect_s[$t]}" "<=" 20
    check "10 M collection peak memory (MiB)" "${collect_mib[$t]}" "<=" 256
    ratio=$(awk -v a="${collect_s[$t]}" -v b="${collect_s[$m]}" 'BEGIN { printf "%.1f", a / b }')
    check "linearity, 10 M / 1 M collection (×)" "$ratio" "<=" 11
    for n in $m $t; do
        check "$n collected again (s), against the first" "${again_s[$n]}" "<=" "${collect_s[$n]}"
    done
    check "10 M export (s)" "${export_s[$t]}" "<=" 8
    check "10 M export peak memory (MiB)" "${export_mib[$t]}" "<=" 512
fi
