#!/bin/sh
# Exported-symbols check (libdrm's dmabufd-symbols-check idea): the dynamic
# symbols libdmabufd.so defines must be exactly the checked-in list.
# Usage: test_symbols.sh LIBRARY EXPECTED_LIST
set -eu
lib=$1
expected=$2
command -v nm >/dev/null 2>&1 || { echo "nm not found" >&2; exit 77; }
actual=$(nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort)
if ! diff_out=$(printf '%s\n' "$actual" | diff -u "$expected" -); then
	echo "exported symbols of $lib differ from $expected:" >&2
	printf '%s\n' "$diff_out" >&2
	echo "(add new API to client/libdmabufd.sym and client/libdmabufd.symbols together)" >&2
	exit 1
fi
echo "$(printf '%s\n' "$actual" | wc -l) exported symbols match $expected"
