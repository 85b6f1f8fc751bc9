#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Makes the man page aigw-cli.1 from docs/cli.md with go-md2man (Debian
# package go-md2man); the build runs it when go-md2man is installed.
# Usage: scripts/gen-manpage.sh GO-MD2MAN docs/cli.md OUT.1 VERSION
set -eu
md2man=$1 in=$2 out=$3 version=$4
tmp="$out.md"
{
  printf '%% AIGW-CLI 1 "" "libaigw %s" "libaigw manual"\n\n' "$version"
  printf '# NAME\n\naigw-cli - a command line over libaigw, an AI gateway you can link\n\n'
  # the document's own title is the NAME section now
  sed '1{/^# /d;}' "$in"
} >"$tmp"
"$md2man" -in "$tmp" -out "$out.raw"
rm -f "$tmp"
# go-md2man 2.0.2 puts a text block's end (T}) and the next cell on two
# lines, which tbl reads as a new row; and its tables are as wide as their
# longest cell: the last column of each table expands instead (lx), so
# its text wraps to the page.
# A long last cell becomes a text block too, so that it wraps; text is
# left-aligned (.ad l), as narrow table cells cannot be justified.
sed -e '/^T}$/{N;s/^T}\n\t/T}\t/;}' \
    -e '/^allbox;$/,/\.$/ s/l\( *\.\{0,1\}\) *$/lx\1/' "$out.raw" |
  awk '
    /^\.TS$/ { intable = 1; body = 0; print; next }
    /^\.TE$/ { intable = 0; print; next }
    intable && !body { if ($0 ~ /\.$/) body = 1; print; next }
    intable && body && index($0, "\t") {
      n = split($0, cell, "\t"); last = cell[n]
      if (length(last) > 30 && last !~ /^T\{/) {
        line = cell[1]; for (i = 2; i < n; i++) line = line "\t" cell[i]
        print line "\tT{"; print last; print "T}"; next
      }
    }
    { print }
    /^\.TH / { print ".ad l" }' >"$out"
rm -f "$out.raw"
