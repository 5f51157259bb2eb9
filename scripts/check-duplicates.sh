#!/bin/sh
# SPDX-License-Identifier: MIT
# Copy-paste detector over the production sources (daemon/ client/ common/
# kmod/; generated protobuf-c code excluded): jscpd from the npm registry,
# blocks of at least 6 lines, JSON report. Every clone is listed; the script
# fails on any clone that scripts/duplicates-allow.txt does not allow.
#
# Usage: scripts/check-duplicates.sh [--install] [--min-lines N]
#   --install  only install the pinned jscpd (scripts/install-deps.sh --test
#              calls this) and exit
# jscpd is installed once with npm (Debian's nodejs and npm) under
# $DMABUFD_TOOLS_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/dmabufd-tools).
# Exit: 0 no clone outside the allow-list, 1 otherwise, 2 on usage, 77 if a
# tool is missing (CTest: skipped).
set -eu

JSCPD_VERSION=4.0.5
min_lines=6
install_only=0
while [ $# -gt 0 ]; do
	case "$1" in
	--install) install_only=1; shift ;;
	--min-lines) min_lines=$2; shift 2 ;;
	*) echo "usage: $0 [--install] [--min-lines N]" >&2; exit 2 ;;
	esac
done

for tool in node npm jq; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "check-duplicates: $tool not found (scripts/install-deps.sh --test)" >&2
		exit 77
	}
done

tools=${DMABUFD_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dmabufd-tools}
prefix=$tools/jscpd-$JSCPD_VERSION
jscpd=$prefix/node_modules/.bin/jscpd
if [ ! -x "$jscpd" ]; then
	mkdir -p "$prefix"
	npm install --silent --no-audit --no-fund --prefix "$prefix" "jscpd@$JSCPD_VERSION" >&2 || {
		echo "check-duplicates: cannot install jscpd@$JSCPD_VERSION from npm" >&2
		exit 77
	}
fi
[ "$install_only" -eq 1 ] && exit 0

cd "$(dirname "$0")/.."
allow=scripts/duplicates-allow.txt
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$jscpd" --silent --min-lines "$min_lines" --formats-exts "c:c,h" \
	--ignore "**/*.pb-c.*,**/*.mod.c" --reporters json --output "$out" \
	daemon client common kmod >/dev/null
report=$out/jscpd-report.json

# Allow-list: "GLOB_A GLOB_B [REGEX]" per line: a clone between a file
# matching GLOB_A and one matching GLOB_B (either order) is allowed if every
# line of its text matches the extended regular expression REGEX (if given).
allowed() { # $1 $2: files, $3: file holding the fragment
	[ -f "$allow" ] || return 1
	while read -r ga gb re; do
		case "$ga" in "" | "#"*) continue ;; esac
		# shellcheck disable=SC2254 # the globs are patterns
		case "$1|$2" in
		$ga"|"$gb | $gb"|"$ga) ;;
		*) continue ;;
		esac
		[ -z "$re" ] && return 0
		grep -Evq -- "$re" "$3" || return 0
	done <"$allow"
	return 1
}

n=$(jq '.duplicates | length' "$report")
bad=0
i=0
echo "# clones of $min_lines lines or more (jscpd $JSCPD_VERSION)"
while [ "$i" -lt "$n" ]; do
	jq -r ".duplicates[$i].fragment" "$report" >"$out/fragment"
	set -- $(jq -r ".duplicates[$i] | \"\(.firstFile.name) \(.firstFile.start) \(.firstFile.end) \(.secondFile.name) \(.secondFile.start) \(.secondFile.end) \(.lines)\"" "$report")
	line="$1:$2-$3 = $4:$5-$6 ($7 lines)"
	if allowed "$1" "$4" "$out/fragment"; then
		echo "$line (allowed)"
	else
		echo "$line"
		bad=$((bad + 1))
	fi
	i=$((i + 1))
done
if [ "$bad" -ne 0 ]; then
	echo "check-duplicates: $bad clone(s) not in $allow" >&2
	exit 1
fi
echo "check-duplicates: no clone outside $allow"
