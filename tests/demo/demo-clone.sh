#!/bin/sh
# The README's first command, end to end, from a clean copy of the tree:
# scripts/demo.sh (install --gst --x11, configure and build in the copy's
# own build-demo, memfd daemon, producer demo, GStreamer decode checked
# frame by frame, Xvfb presenting a dmabufd framebuffer checked by a
# screenshot) must exit 0 and print "gst-demo: OK" and "x11-demo: OK". The
# developer's build directories are neither used nor touched.
#
# The copy: a `git clone --no-hardlinks` of SRC when it is a git checkout —
# the committed state (HEAD), uncommitted changes are not seen — else a copy
# of SRC without its build* directories.
#
# Usage: demo-clone.sh SRC
# Exit: 0 demo passed; 77 the packages demo.sh needs are missing and this is
# not root (scripts/test.sh installs them); 1 otherwise.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 SRC" >&2; exit 2; }
src=$1
if ! sh "$src/scripts/install-deps.sh" --gst --x11; then
	[ "$(id -u)" -ne 0 ] && { echo "SKIP: packages missing and not root"; exit 77; }
	echo "install-deps.sh --gst --x11 failed"
	exit 1
fi

tmp=$(mktemp -d /tmp/dmabufd-demo-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git clone -q --no-hardlinks "$src" "$tmp/src"
	echo "== tree: git clone of $(git -C "$tmp/src" log -1 --format='%h %s')"
else
	mkdir "$tmp/src"
	tar -C "$src" --exclude='./build*' -cf - . | tar -C "$tmp/src" -xf -
	echo "== tree: copy of $src (not a git checkout)"
fi

start=$(date +%s)
status=0
"$tmp/src/scripts/demo.sh" >"$tmp/demo.log" 2>&1 || status=$?
cat "$tmp/demo.log"
echo "== scripts/demo.sh: exit $status in $(($(date +%s) - start)) s"
[ "$status" -eq 0 ] || exit 1
grep -q '^gst-demo: OK' "$tmp/demo.log" || { echo "no 'gst-demo: OK' in the output"; exit 1; }
grep -q '^x11-demo: OK' "$tmp/demo.log" || { echo "no 'x11-demo: OK' in the output"; exit 1; }
