#!/usr/bin/env bash
# Compares two `Usage Reports.zip` part by part: both workbooks are unpacked and every
# XML part (each sheet's cells, styles, properties) must be byte-identical. Only the
# compression of the parts may differ, so the zips themselves may not be. A cell that
# follows the one before it in its row carries no reference (`r`), as readers then place
# it in the next column; such references are written back before comparing, so a
# workbook of either form compares equal to the other when every cell is in its place.
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
python3 - "$work" <<'PY'
import pathlib, re, sys
def col(n):
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s
def number(letters):
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1
token = re.compile(rb'<row r="(\d+)"|<c r="([A-Z]+)\d+"|<c(?=[ >/])')
for sheet in pathlib.Path(sys.argv[1]).glob("*/*/xl/worksheets/*.xml"):
    row, nxt = b"", 0
    def fill(m):
        global row, nxt
        if m.group(1):
            row, nxt = m.group(1), 0
            return m.group(0)
        c = number(m.group(2).decode()) if m.group(2) else nxt
        nxt = c + 1
        return b'<c r="' + col(c).encode() + row + b'"'
    sheet.write_bytes(token.sub(fill, sheet.read_bytes()))
PY
diff -r "$work/0" "$work/1" && echo "identical: every part of both workbooks"
