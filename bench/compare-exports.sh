#!/usr/bin/env bash
# Compares two `Usage Reports.zip` part by part: both workbooks are unpacked and every
# XML part (each sheet's cells, styles, properties) must be byte-identical. Only the
# compression of the parts may differ, so the zips themselves may not be. Two ways of
# writing the same cells are undone before comparing, so a workbook of either form
# compares equal to the other when every cell holds the same text in the same place: a
# cell that follows the one before it in its row carries no reference (`r`), as readers
# then place it in the next column; and a text of the shared-string table (`t="s"`) is
# written back inline, the table and its entries in the workbook's lists removed.
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
shared_cell = re.compile(rb'<c( r="[A-Z]+\d+")?( s="\d+")? t="s"><v>(\d+)</v></c>')
for book in pathlib.Path(sys.argv[1]).glob("*/*.xlsx.d"):
    table = book / "xl" / "sharedStrings.xml"
    texts = []
    if table.exists():
        texts = re.findall(rb"<si><t((?: xml:space=\"preserve\")?)>(.*?)</t></si>", table.read_bytes())
        table.unlink()
        for part, entry in [
            ("xl/_rels/workbook.xml.rels", rb'<Relationship Id="rId\d+" Type="[^"]*/sharedStrings" Target="sharedStrings.xml"/>'),
            ("[Content_Types].xml", rb'<Override PartName="/xl/sharedStrings.xml" ContentType="[^"]*"/>'),
        ]:
            path = book / part
            path.write_bytes(re.sub(entry, b"", path.read_bytes()))
    for sheet in (book / "xl" / "worksheets").glob("*.xml"):
        row, nxt = b"", 0
        def fill(m):
            global row, nxt
            if m.group(1):
                row, nxt = m.group(1), 0
                return m.group(0)
            c = number(m.group(2).decode()) if m.group(2) else nxt
            nxt = c + 1
            return b'<c r="' + col(c).encode() + row + b'"'
        def inline(m):
            preserve, text = texts[int(m.group(3))]
            return (b"<c" + (m.group(1) or b"") + (m.group(2) or b"") + b' t="inlineStr"><is><t'
                    + preserve + b">" + text + b"</t></is></c>")
        sheet.write_bytes(shared_cell.sub(inline, token.sub(fill, sheet.read_bytes())))
PY
diff -r "$work/0" "$work/1" && echo "identical: every part of both workbooks"
