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
# Read once first, as bench/run.sh does: this machine pages out file data left unread.
cat "$work/$n.jsonl" > /dev/null
cat > "$dir/tally.toml" <<EOF
[store]
path = "tally.db"

[[connector]]
name = "bench"
kind = "jsonl"
path = "records.jsonl"
EOF
# The poll uses bash builtins only, besides the one `tmux capture-pane`: with a `date`,
# `grep`, `cut`, `bc` and `sleep` per poll, 100 polls took 2.76 s of CPU (a third of a
# core, taken from the tally it measures) and 77 ms apart; now 1.19 s, 64 ms apart.
# A read that times out is the wait (a pipe only this script holds never has data).
exec {tick}<> <(:)
secs() { printf '%d.%02d' $(($1 / 1000000)) $(($1 % 1000000 / 10000)); }
screen() { tmux -S "$dir/tmux" capture-pane -p -t tally 2>/dev/null || true; }
uptime
start=${EPOCHREALTIME/./}   # microseconds
tmux -S "$dir/tmux" new-session -d -s tally -x 160 -y 45 -c "$dir" \
    "$(realpath "${TALLY:-target/release/tally}") --config tally.toml --as-of 2026-11-01"
first="" key="" done="" pressed="" numbers="" changed=""
numbers_re='Total Unique|Usernames|Emails|Display Names|Service Accounts|Total Entities'
while :; do
    s=$(screen)
    t=${EPOCHREALTIME/./}
    nums=""
    while IFS= read -r line; do
        [[ $line =~ $numbers_re ]] && nums+="${line:0:42}"$'\n'
    done <<<"$s"
    if [ "$nums" != "$numbers" ]; then numbers=$nums; changed=$t; fi
    if [ -z "$first" ] && [[ $s =~ Total\ Unique\ Users\ +[1-9] ]]; then
        first=$t
        if [[ $s != *'Collection: ✓ done'* ]]; then
            tmux -S "$dir/tmux" send-keys -t tally 2
            pressed=$t
        fi
    fi
    if [ -n "$pressed" ] && [ -z "$key" ] && [[ $s == *'[2 Summary]'* ]]; then
        key=$t
        tmux -S "$dir/tmux" send-keys -t tally 1
    fi
    [ -z "$done" ] && [[ $s == *'Collection: ✓ done'* ]] && done=$t
    # The numbers are final when the collection is done and the report built after it
    # shows no change for 5 s.
    if [ -n "$done" ] && ((t - done > 5000000)); then break; fi
    if ((t - start > 120000000)); then
        echo "gave up after 120 s; the screen:"
        echo "$s"
        exit 1
    fi
    read -rt 0.05 -u "$tick" || true
done
final=$((changed > done ? changed : done))
echo "first numbers after $(secs $((first - start))) s"
[ -n "$key" ] && echo "a key during collection answered in $(secs $((key - pressed))) s"
echo "collection done on screen after $(secs $((done - start))) s"
echo "final numbers after $(secs $((final - start))) s"
screen | head -20
