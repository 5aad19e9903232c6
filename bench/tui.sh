#!/usr/bin/env bash
# How soon the terminal UI shows numbers on N observations collected into a fresh store,
# and whether it answers keys meanwhile. Runs the release binary in a tmux pane (160×45)
# on the bench's jsonl input and polls the screen every 50 ms:
#   first   — the dashboard shows a non-zero Total Unique Users;
#   final   — the later of the collection line saying done and the last change of the
#             Summary numbers (watched for 5 s after done);
#   key     — while collecting, `2` (Summary) is pressed and the time until the screen
#             shows the Summary view is the key's latency.
#   bench/tui.sh 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
[ -n "${NO_BUILD:-}" ] || cargo build --release -p tally --bin tally --example bench
work=${BENCH_DIR:-target/bench}
mkdir -p "$work"
[ -f "$work/$n.jsonl" ] || "${BENCH:-target/release/examples/bench}" generate "$n" "$work/$n.jsonl"
dir=$(mktemp -d)
trap 'tmux -S "$dir/tmux" kill-server 2>/dev/null || true; rm -rf "$dir"' EXIT
ln -s "$(realpath "$work/$n.jsonl")" "$dir/records.jsonl"
cat > "$dir/tally.toml" <<EOF
[store]
path = "tally.db"

[[connector]]
name = "bench"
kind = "jsonl"
path = "records.jsonl"
EOF
now() { date +%s.%N; }
screen() { tmux -S "$dir/tmux" capture-pane -p -t tally 2>/dev/null || true; }
uptime
start=$(now)
tmux -S "$dir/tmux" new-session -d -s tally -x 160 -y 45 -c "$dir" \
    "$(realpath "${TALLY:-target/release/tally}") --config tally.toml --as-of 2026-11-01"
first="" key="" done="" pressed="" numbers="" changed=""
while :; do
    s=$(screen)
    t=$(now)
    nums=$(grep -E 'Total Unique|Usernames|Emails|Display Names|Service Accounts|Total Entities' <<<"$s" | cut -c1-42 || true)
    if [ "$nums" != "$numbers" ]; then numbers=$nums; changed=$t; fi
    if [ -z "$first" ] && grep -Eq 'Total Unique Users +[1-9]' <<<"$s"; then
        first=$t
        if ! grep -q 'Collection: ✓ done' <<<"$s"; then
            tmux -S "$dir/tmux" send-keys -t tally 2
            pressed=$t
        fi
    fi
    if [ -n "$pressed" ] && [ -z "$key" ] && grep -q '\[2 Summary\]' <<<"$s"; then
        key=$t
        tmux -S "$dir/tmux" send-keys -t tally 1
    fi
    [ -z "$done" ] && grep -q 'Collection: ✓ done' <<<"$s" && done=$t
    # The numbers are final when the collection is done and the report built after it
    # shows no change for 5 s.
    if [ -n "$done" ] && (($(echo "$t - $done > 5" | bc))); then break; fi
    if (($(echo "$t - $start > 120" | bc))); then
        echo "gave up after 120 s; the screen:"
        echo "$s"
        exit 1
    fi
    sleep 0.05
done
final=$(echo "if ($changed > $done) $changed else $done" | bc)
printf 'first numbers after %.2f s\n' "$(echo "$first - $start" | bc)"
[ -n "$key" ] && printf 'a key during collection answered in %.2f s\n' "$(echo "$key - $pressed" | bc)"
printf 'collection done on screen after %.2f s\n' "$(echo "$done - $start" | bc)"
printf 'final numbers after %.2f s\n' "$(echo "$final - $start" | bc)"
screen | head -20
