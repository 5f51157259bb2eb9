#!/bin/sh
# Checks the installed systemd units (docs/SYSTEMD.md):
#   systemd_units.sh verify   BUILD_DIR UNITDIR BINARY
#       `systemd-analyze verify` of the units as `cmake --install` installs
#       them (into a DESTDIR staging directory); no output is allowed.
#   systemd_units.sh security BUILD_DIR UNITDIR BINARY [MAX]
#       `systemd-analyze security --offline=true` exposure of
#       dmabufd.service must be at most MAX (default 2.0).
# Exits 77 (skipped) when systemd-analyze is missing or too old.
set -eu
mode=$1 build=$2 unitdir=$3 bin=$4 max=${5:-2.0}

command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze missing"; exit 77; }
stage=$(mktemp -d /tmp/dmabufd-units-XXXXXX)
trap 'rm -rf "$stage"' EXIT INT TERM
DESTDIR=$stage cmake --install "$build" >/dev/null
svc=$stage$unitdir/dmabufd.service
sock=$stage$unitdir/dmabufd.socket
for f in "$svc" "$sock" "$stage$bin"; do
	[ -e "$f" ] || { echo "not installed: $f"; exit 1; }
done

case $mode in
verify)
	out=$stage/verify.out
	bindir=$(dirname "$bin")
	if [ -x "$bin" ]; then
		# The binary is installed on this machine already.
		systemd-analyze verify --man=no "$sock" "$svc" >"$out" 2>&1 || true
		how="installed binary"
	elif [ -d "$bindir" ] && [ "$bindir" != /usr/bin ] && [ "$bindir" != /bin ] &&
	     { unshare -m true 2>/dev/null || unshare -rm true 2>/dev/null; }; then
		# ExecStart= must name an executable: show the staged bindir at
		# its real place in a private mount namespace.
		u="unshare -m"
		unshare -m true 2>/dev/null || u="unshare -rm"
		$u sh -c 'mount --bind "$1" "$2" && systemd-analyze verify --man=no "$3" "$4"' \
			sh "$stage$bindir" "$bindir" "$sock" "$svc" >"$out" 2>&1 || true
		how="staged binary bind-mounted on $bindir"
	else
		# Last resort: a copy whose ExecStart= names the staged binary.
		mkdir -p "$stage/copy"
		sed "s|^ExecStart=$bin|ExecStart=$stage$bin|" "$svc" >"$stage/copy/dmabufd.service"
		cp "$sock" "$stage/copy/dmabufd.socket"
		systemd-analyze verify --man=no "$stage/copy/dmabufd.socket" \
			"$stage/copy/dmabufd.service" >"$out" 2>&1 || true
		how="copy with ExecStart= rewritten"
	fi
	echo "systemd-analyze verify ($how):"
	cat "$out"
	if [ -s "$out" ]; then
		echo "FAIL: systemd-analyze verify reported problems"
		exit 1
	fi
	echo "PASS: no problems"
	;;
security)
	out=$stage/security.out
	if ! systemd-analyze security --offline=true --man=no "$svc" >"$out" 2>&1; then
		if grep -q "unrecognized option\|Unknown option" "$out"; then
			echo "systemd-analyze security --offline unsupported"; exit 77
		fi
	fi
	grep -v "✓" "$out" || true
	score=$(sed -n 's/.*Overall exposure level for dmabufd.service: \([0-9.]*\).*/\1/p' "$out")
	[ -n "$score" ] || { echo "FAIL: no exposure score in the output"; cat "$out"; exit 1; }
	echo "exposure score: $score (maximum $max)"
	if awk -v s="$score" -v m="$max" 'BEGIN { exit !(s + 0 > m + 0) }'; then
		echo "FAIL: exposure $score is above $max"
		exit 1
	fi
	echo "PASS"
	;;
*)
	echo "usage: $0 verify|security BUILD_DIR UNITDIR BINARY [MAX]" >&2
	exit 2
	;;
esac
