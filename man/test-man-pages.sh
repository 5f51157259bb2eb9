#!/bin/sh
# Checks the man pages against what they document:
#  - every option printed by "dmabufd --help" is in dmabufd.8; every option
#    of "dmabufctl --help" and of "dmabufctl COMMAND --help", for every
#    COMMAND that "dmabufctl --help" lists, is in dmabufctl.1, and every
#    such COMMAND has an entry there;
#  - every function of the library's version script is in libdmabufd.3 and
#    has its own page name (a .so link);
#  - every built page renders with "groff -ww -z -man" and
#    "man --warnings -l" without a single warning.
# Exits 77 when the pages were not built (-DDMABUFD_MAN=OFF) or groff/man
# are missing (after the other checks passed).
# Usage: test-man-pages.sh --src DIR --built DIR|none --dmabufd BIN
#                          --dmabufctl BIN --symbols FILE
set -eu

src= built= dmabufd= dmabufctl= symbols=
while [ $# -gt 0 ]; do
	case "$1" in
	--src) src=$2 ;;
	--built) built=$2 ;;
	--dmabufd) dmabufd=$2 ;;
	--dmabufctl) dmabufctl=$2 ;;
	--symbols) symbols=$2 ;;
	*) echo "usage: $0 --src DIR --built DIR|none --dmabufd BIN --dmabufctl BIN --symbols FILE" >&2
	   exit 2 ;;
	esac
	shift 2
done
if [ "$built" = none ]; then
	echo "SKIP: man pages not built (-DDMABUFD_MAN=OFF)"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
problem() {
	echo "FAIL: $*" >&2
	fail=1
}

# The page's source without scdoc's markup characters (* bold, \ escapes),
# so that "*--socket* _PATH_" reads "--socket _PATH_".
plain() {
	sed 's/[*\\]//g' "$src/$1.scd" >"$tmp/$1.txt"
}

# Long options in a help text: "--name" tokens ("--share-*", a family in
# prose, gives "--share", itself an option). Short options: "-x," at the
# start of a line, as getopt-style help prints "-x, --long".
long_options() {
	grep -oE -- '--[a-z][a-z0-9]*(-[a-z0-9]+)*' "$1" | sort -u || true
}
short_options() {
	sed -n 's/^[[:space:]]*\(-[a-zA-Z]\),.*/\1/p' "$1" | sort -u
}

# documented PAGE OPTION WHERE: OPTION appears in PAGE as a whole word.
documented() {
	if ! grep -qE -- "(^|[^a-zA-Z0-9-])$2([^a-zA-Z0-9-]|\$)" "$tmp/$1.txt"; then
		problem "$1: $2 ($3) is not documented"
	fi
}

# check_help PAGE FILE WHERE [MIN]: every option of help text FILE is in
# PAGE; at least MIN options must be found (a parser that finds nothing
# must not pass).
check_help() {
	n=0
	for o in $(long_options "$2") $(short_options "$2"); do
		documented "$1" "$o" "$3"
		n=$((n + 1))
	done
	echo "$1: $n options of $3 checked"
	[ "$n" -ge "${4:-0}" ] || problem "fewer than $4 options found in $3 (help format changed?)"
}

for p in dmabufd.8 dmabufctl.1 libdmabufd.3; do
	plain "$p"
done

# dmabufd(8)
"$dmabufd" --help >"$tmp/dmabufd.help"
check_help dmabufd.8 "$tmp/dmabufd.help" "dmabufd --help" 10

# dmabufctl(1): the global options, then every command's.
"$dmabufctl" --help >"$tmp/dmabufctl.help"
check_help dmabufctl.1 "$tmp/dmabufctl.help" "dmabufctl --help" 3
awk '/^Commands:/ { on = 1; next } on && /^[[:space:]]*$/ { exit } on { print $1 }' \
	"$tmp/dmabufctl.help" >"$tmp/commands"
[ "$(wc -l <"$tmp/commands")" -ge 5 ] ||
	problem "dmabufctl --help: fewer than 5 commands parsed"
for c in $(cat "$tmp/commands"); do
	# An entry of the COMMANDS list: a line starting with the bold name.
	grep -qE "^\*$c\*( |\$)" "$src/dmabufctl.1.scd" ||
		problem "dmabufctl.1: command $c has no entry"
	if ! "$dmabufctl" "$c" --help >"$tmp/cmd.help" 2>&1; then
		problem "dmabufctl $c --help failed"
		continue
	fi
	# A command's options belong in its own entry (up to the next entry or
	# section) or among the global OPTIONS, not merely anywhere in the page.
	{
		awk -v c="$c" '$0 ~ "^\\*" c "\\*( |$)" { on = 1; print; next }
			on && (/^\*/ || /^#/) { exit } on { print }' "$src/dmabufctl.1.scd"
		awk '/^# OPTIONS/ { on = 1; next } on && /^# / { exit } on { print }' \
			"$src/dmabufctl.1.scd"
	} | sed 's/[*\\]//g' >"$tmp/dmabufctl-$c.txt"
	check_help "dmabufctl-$c" "$tmp/cmd.help" "dmabufctl $c --help"
done

# libdmabufd(3): every exported function, and its page name.
nfn=0
for fn in $(sed -n 's/^[[:space:]]*\(dmabufd_[a-z0-9_]*\);.*/\1/p' "$symbols"); do
	grep -qE "(^|[^a-z0-9_])$fn\(" "$tmp/libdmabufd.3.txt" ||
		problem "libdmabufd.3: $fn() is not documented"
	[ "$(cat "$built/links/$fn.3" 2>/dev/null)" = ".so man3/libdmabufd.3" ] ||
		problem "no page name $fn(3)"
	nfn=$((nfn + 1))
done
echo "libdmabufd.3: $nfn functions checked"
[ "$nfn" -ge 20 ] || problem "$symbols: fewer than 20 functions parsed"

# Rendering: not one warning from groff or man.
if ! command -v groff >/dev/null || ! command -v man >/dev/null; then
	[ "$fail" -eq 0 ] || exit 1
	echo "SKIP: groff or man missing (scripts/install-deps.sh --test); pages not rendered"
	exit 77
fi
npages=0
for page in "$built"/*.[1-8]; do
	[ -f "$page" ] || continue
	npages=$((npages + 1))
	if ! groff -ww -z -man "$page" >"$tmp/groff.err" 2>&1 || [ -s "$tmp/groff.err" ]; then
		problem "$(basename "$page"): groff -ww -z -man:"
		cat "$tmp/groff.err" >&2
	fi
	if ! LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" >"$tmp/man.out" 2>"$tmp/man.err" ||
	   [ -s "$tmp/man.err" ]; then
		problem "$(basename "$page"): man --warnings -l:"
		cat "$tmp/man.err" >&2
	elif ! grep -q '^NAME' "$tmp/man.out"; then
		problem "$(basename "$page"): man -l rendered no NAME section"
	fi
done
echo "$npages pages rendered"
[ "$npages" -ge 4 ] || problem "fewer than 4 built pages in $built"

if [ "$fail" -ne 0 ]; then
	echo "man pages: FAILED" >&2
	exit 1
fi
echo "man pages: ok"
