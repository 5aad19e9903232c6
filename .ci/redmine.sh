#!/usr/bin/env bash
# Installs Debian's Redmine 5 with SQLite and WEBrick for the real-Redmine tests of the
# redmine connector (connectors/redmine/tests/real_redmine.rs). Idempotent: returns at
# once when everything is already installed.
#
# The package's own database setup (dbconfig-common) is declined: the tests build a fresh
# instance with its own SQLite file every run, so configuring the system instance would only
# cost install time (and, without preseeding, would ask for a MySQL server).
set -euo pipefail

packages=(redmine redmine-sqlite ruby-webrick)

installed() {
    local p
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || return 1
    done
}

if installed; then
    echo "redmine.sh: redmine, redmine-sqlite and ruby-webrick are already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
# dbconfig-common: no database for the system instance; if it asks anyway, SQLite.
$SUDO debconf-set-selections <<'SEL'
redmine redmine/current-instances string default
redmine redmine/instances/default/dbconfig-install boolean false
redmine redmine/instances/default/database-type select sqlite3
redmine redmine/instances/default/default-language select en
dbconfig-common dbconfig-common/dbconfig-install boolean false
SEL

start=$(date +%s)
$SUDO apt-get update -qq
# Recommends would pull in Passenger and Apache; the tests serve with WEBrick.
$SUDO apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${packages[@]}" >/dev/null
installed
echo "redmine.sh: installed ${packages[*]} in $(( $(date +%s) - start ))s"
