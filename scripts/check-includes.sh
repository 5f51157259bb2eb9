#!/bin/sh
# SPDX-License-Identifier: MIT
# Lists the #include "..." edges between the daemon's files and fails on an
# import circle, printing it.
#
# A file's module is its path without the extension; a header belongs to the
# .c file of the same name in its directory (a.c including b.h is the edge
# a -> b), and x_internal.h to x.c (the private header of a multi-file
# module, daemon/region/). A header with no .c file is a module of its own
# (a types-only header). Includes that resolve outside daemon/ (common/,
# include/, system headers) are not edges. A quoted include is looked up
# next to the including file, then in daemon/, then in daemon's
# subdirectories (the include directories of the daemon's targets).
#
# Usage: scripts/check-includes.sh [--edges]
#   --edges  print every edge (default: only the count and any cycle)
# Exit: 0 no cycle, 1 a cycle (printed), 2 on usage, 77 if a tool is missing
# (CTest: skipped).
# The cycle check is tsort(1) (coreutils).
set -eu

show_edges=0
case "${1:-}" in
--edges) show_edges=1 ;;
"") ;;
*) echo "usage: $0 [--edges]" >&2; exit 2 ;;
esac
for tool in tsort realpath git; do
	command -v "$tool" >/dev/null 2>&1 || { echo "check-includes: $tool not found" >&2; exit 77; }
done

cd "$(dirname "$0")/.."
files=$(git ls-files -- 'daemon/*.c' 'daemon/*.h' | grep -v '\.pb-c\.' || true)
subdirs=$(printf '%s\n' $files | sed -n 's#^\(daemon/[^/]*\)/[^/]*$#\1#p' | sort -u)

# module of a daemon file (path without extension; headers to their .c)
module() {
	base=${1%.*}
	case "$1" in
	*.h)
		if [ -f "$base.c" ]; then
			echo "$base"
			return
		fi
		case "$base" in
		*_internal)
			if [ -f "${base%_internal}.c" ]; then
				echo "${base%_internal}"
				return
			fi
			;;
		esac
		;;
	esac
	echo "$base"
}

# the daemon file a quoted include of $2 in $1 resolves to, or nothing
resolve() {
	for d in "$(dirname "$1")" daemon $subdirs; do
		if [ -f "$d/$2" ]; then
			realpath -m --relative-to=. "$d/$2"
			return
		fi
	done
}

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for f in $files; do
	from=$(module "$f")
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
		while read -r inc; do
			to=$(resolve "$f" "$inc")
			case "$to" in daemon/*) ;; *) continue ;; esac
			to=$(module "$to")
			if [ "$to" != "$from" ]; then echo "$from $to"; fi
		done
done | sort -u >"$edges"

if [ "$show_edges" -eq 1 ]; then
	sed 's/ / -> /' "$edges"
fi
echo "check-includes: $(wc -l <"$edges") include edges between daemon modules"
if ! err=$(tsort <"$edges" 2>&1 >/dev/null); then
	echo "check-includes: import cycle(s), each as tsort(1) reports it:" >&2
	printf '%s\n' "$err" | sed 's/^tsort: -: input contains a loop:/loop:/; s/^tsort: /  /' >&2
	exit 1
fi
echo "check-includes: no import cycle"
