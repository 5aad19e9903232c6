#!/usr/bin/env bash
# Compares two `Usage Reports.zip` part by part: both workbooks are unpacked and every
# XML part (each sheet's cells, styles, properties) must be byte-identical. Only the
# compression of the parts may differ, so the zips themselves may not be.
#   bench/compare-exports.sh before.zip after.zip
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
zips=("$(realpath -- "$1")" "$(realpath -- "$2")")
for side in 0 1; do
    mkdir -p "$work/$side"
    (cd "$work/$side" && unzip -q "${zips[$side]}")
    for book in "$work/$side"/*.xlsx; do
        mkdir "$book.d"
        (cd "$book.d" && unzip -q "$book")
        rm "$book"
    done
done
diff -r "$work/0" "$work/1" && echo "identical: every part of both workbooks"
