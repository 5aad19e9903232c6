#!/usr/bin/env bash
# Installs Debian's Request Tracker 5 with SQLite and the standalone (Starlet) server for the
# real-RT tests of the rt connector (connectors/rt/tests/real_rt.rs). Idempotent: returns at
# once when everything is already installed.
#
# The package's own database setup (dbconfig-common) is declined: the tests build a fresh
# instance with its own RT_SiteConfig.pm and SQLite file every run, so configuring the system
# instance would only cost install time (and, without preseeding, would ask questions).
set -euo pipefail

packages=(request-tracker5 rt5-db-sqlite rt5-standalone)

installed() {
    local p
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || return 1
    done
}

if installed; then
    echo "rt.sh: request-tracker5, rt5-db-sqlite and rt5-standalone are already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
# dbconfig-common: no database for the system instance; the tests make their own.
$SUDO debconf-set-selections <<'SEL'
request-tracker5 request-tracker5/dbconfig-install boolean false
request-tracker5 request-tracker5/install-database boolean false
request-tracker5 request-tracker5/rtname string tally.test
request-tracker5 request-tracker5/organization string tally.test
request-tracker5 request-tracker5/correspondaddress string rt@tally.test
request-tracker5 request-tracker5/commentaddress string rt-comment@tally.test
request-tracker5 request-tracker5/webbaseurl string http://127.0.0.1
request-tracker5 request-tracker5/webpath string /rt
dbconfig-common dbconfig-common/dbconfig-install boolean false
SEL

start=$(date +%s)
$SUDO apt-get update -qq
# Recommends would pull in Apache, a mail server and more; the tests serve with Starlet.
$SUDO apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${packages[@]}" >/dev/null
installed
echo "rt.sh: installed ${packages[*]} in $(( $(date +%s) - start ))s"
