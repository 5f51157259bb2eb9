#!/bin/sh
# Exported-symbols check (libdrm's symbols-check idea): the dynamic symbols
# libdmabufd.so defines, with their version nodes, must be exactly those of
# the version script the library is linked with - the one list of the API.
# Usage: test_symbols.sh LIBRARY VERSION_SCRIPT
set -eu
lib=$1
script=$2
command -v nm >/dev/null 2>&1 || { echo "nm not found" >&2; exit 77; }

# "NODE { global: a; b; local: *; };" -> "a@@NODE" per exported name.
expected=$(sed -e 's|/\*.*\*/||g' "$script" | awk '
	/^[A-Za-z_][A-Za-z0-9_.]*[ \t]*\{/ { node = $1; sub(/\{.*/, "", node); scope = ""; next }
	/global:/ { scope = "global"; next }
	/local:/ { scope = "local"; next }
	/^[ \t]*\}/ { scope = ""; next }
	scope == "global" {
		gsub(/[ \t;]/, "")
		if ($0 != "") print $0 "@@" node
	}' | sort)
actual=$(nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }' | sort)
[ -n "$expected" ] || { echo "no symbols parsed from $script" >&2; exit 1; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf '%s\n' "$expected" >"$tmp"
if ! diff_out=$(printf '%s\n' "$actual" | diff -u "$tmp" -); then
	echo "exported symbols of $lib differ from $script:" >&2
	printf '%s\n' "$diff_out" >&2
	exit 1
fi
echo "$(printf '%s\n' "$actual" | wc -l) exported symbols match $script"
