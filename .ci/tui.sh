#!/usr/bin/env bash
# Installs tmux for the terminal UI's end-to-end test (tests/tui_tmux.rs), which drives
# the real binary in a tmux pane. Idempotent: returns at once when tmux is already there.
# With CI set, that test fails instead of skipping when tmux is missing.
set -euo pipefail

if command -v tmux >/dev/null 2>&1; then
    echo "tui.sh: $(tmux -V) is already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends tmux
echo "tui.sh: installed $(tmux -V)"
