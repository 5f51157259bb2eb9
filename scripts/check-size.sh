#!/bin/sh
# SPDX-License-Identifier: MIT
# Lists the production C files (daemon/ client/ common/ kmod/) over the file
# limit and the functions over the function limit, and fails if any exceed.
# The kernel module may keep one file over the limit (one file, like
# drivers/dma-buf/udmabuf.c); it is listed as allowed.
#
# Usage: scripts/check-size.sh [--max-file LINES] [--max-function LINES]
# Function extents come from universal-ctags (--fields=+ne: start and end
# line of every function definition), JSON output read with jq.
# Exit: 0 within the limits, 1 if anything exceeds them, 2 on usage, 77 if a
# tool is missing (CTest: skipped).
set -eu

max_file=800
max_func=100
while [ $# -gt 0 ]; do
	case "$1" in
	--max-file) max_file=$2; shift 2 ;;
	--max-function) max_func=$2; shift 2 ;;
	*) echo "usage: $0 [--max-file LINES] [--max-function LINES]" >&2; exit 2 ;;
	esac
done

for tool in ctags jq git; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "check-size: $tool not found (scripts/install-deps.sh --test)" >&2
		exit 77
	}
done
ctags --version 2>/dev/null | grep -q "Universal Ctags" || {
	echo "check-size: ctags is not universal-ctags" >&2
	exit 77
}

cd "$(dirname "$0")/.."
files=$(git ls-files -- 'daemon/*.c' 'daemon/*.h' 'client/*.c' 'client/*.h' \
	'common/*.c' 'common/*.h' 'kmod/*.c' 'kmod/*.h' | grep -v '\.pb-c\.' || true)
fail=0

echo "# files over $max_file lines"
kmod_over=0
for f in $files; do
	case "$f" in *.c) ;; *) continue ;; esac
	n=$(wc -l <"$f")
	[ "$n" -gt "$max_file" ] || continue
	case "$f" in
	kmod/*)
		kmod_over=$((kmod_over + 1))
		if [ "$kmod_over" -eq 1 ]; then
			echo "$f: $n lines (allowed: the kernel module's one file)"
			continue
		fi
		;;
	esac
	echo "$f: $n lines"
	fail=1
done

echo "# functions over $max_func lines"
# shellcheck disable=SC2086 # $files is a list of paths without blanks
over=$(ctags --output-format=json --fields=+ne --kinds-C=f -o - $files |
	jq -r --argjson max "$max_func" '
		select(._type == "tag" and .kind == "function" and .end != null)
		| (.end - .line + 1) as $n
		| select($n > $max)
		| "\(.path):\(.line): \(.name)() \($n) lines"' | sort -t: -k1,1 -k2,2n)
if [ -n "$over" ]; then
	echo "$over"
	fail=1
fi

if [ "$fail" -ne 0 ]; then
	echo "check-size: over the limits (file $max_file, function $max_func lines)" >&2
	exit 1
fi
echo "check-size: within the limits (file $max_file, function $max_func lines)"
