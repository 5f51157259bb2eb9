#!/bin/sh
# In-VM: a real Xvfb on the kernel-module backend (docs/X11.md, "In the
# VM"). run-vm.sh copies Xvfb and xkbcomp with the libraries ldd lists, and
# x11-vm-data.tar (the XKB data Xvfb's keymap compile reads, made by
# tests/vm/CMakeLists.txt; the harness copies files, not trees); this
# script puts them where Xvfb looks for them, then runs against
# dmabufd --backend kmod (module loaded by run-vm.sh):
#   - dmabufd-x11-vm: write-combine and uncached buffers, pixel round trips,
#     the PFN audit of the X server's own mapping, Revoke while mapped;
#   - dmabufd-x11-demo --attribute wc and uc: both presentation modes ran;
#   - test_x11 roundtrip, maps, lifetime, badinput (the host's cases, on kmod).
# Usage: x11-vm.sh HOST_DMABUFCTL HOST_DEMO      the test (run-vm.sh --extra-test)
#        x11-vm.sh --bench [x11_bench ARGS...]   the benchmark only, on kmod
#   HOST_*: the build paths test_x11 runs dmabufctl and the demo by; they are
#   linked to /bin here.
# Exit: 0 all passed, 1 a failure (or something the harness always copies
# is missing).
fail=0
say() { echo "$@"; }

# Xvfb runs "/usr/bin/xkbcomp" (its compiled-in XKB bin directory) through
# /bin/sh and reads /usr/share/X11/xkb; fonts: only its built-in "fixed"
# and "cursor" (the default font path's other entries do not exist here).
for f in /bin/Xvfb /bin/xkbcomp /bin/x11-vm-data.tar; do
	[ -e "$f" ] || { say "not ok $f missing"; exit 1; }
done
# Unpacked before any daemon starts: the initramfs root is ramfs, whose
# pages cannot migrate, and the kmod backend learns at start which frames
# of the region are taken that way. For the same reason Xvfb's compiled
# keymaps must not go to the root: without /var/lib/xkb it writes them to
# /tmp (tmpfs, migratable).
mkdir -p /usr/bin
ln -sf /bin/xkbcomp /usr/bin/xkbcomp
tar -xf /bin/x11-vm-data.tar -C /
[ -e /etc/passwd ] || echo 'root:x:0:0:root:/:/bin/sh' >/etc/passwd
[ -e /etc/group ] || echo 'root:x:0:' >/etc/group
export DMABUFD_TEST_DAEMON=/bin/dmabufd DMABUFD_TEST_BACKEND=kmod
[ -c /dev/dmabufd-region ] || { say "not ok no /dev/dmabufd-region"; exit 1; }

if [ "${1:-}" = --bench ]; then
	shift
	# One Xvfb and one dmabufd (kmod), modes alternating in rounds; the
	# output between marker lines (x11-bench-vm.sh reads it).
	echo X11-BENCH-BEGIN
	/bin/x11_bench "$@" 2>/tmp/x11_bench.err
	rc=$?
	echo X11-BENCH-END
	cat /tmp/x11_bench.err
	exit $rc
fi

for p in "${1:-}" "${2:-}"; do
	[ -n "$p" ] || continue
	mkdir -p "$(dirname "$p")"
	ln -sf "/bin/$(basename "$p")" "$p"
done

/bin/dmabufd-x11-vm >/tmp/x11-vm.out 2>&1
rc=$?
cat /tmp/x11-vm.out
if [ $rc -eq 0 ]; then say "ok dmabufd-x11-vm"; else say "not ok dmabufd-x11-vm (exit $rc)"; fail=1; fi

# The demo on write-combine and uncached memory, against a daemon and Xvfb
# of its own.
dir=$(mktemp -d)
/bin/dmabufd --backend kmod --socket "$dir/socket" 2>"$dir/dmabufd.log" &
daemon=$!
Xvfb -displayfd 3 -nolisten tcp -noreset -screen 0 800x600x24 3>"$dir/display" 2>"$dir/xvfb.log" &
xvfb=$!
i=0
until [ -s "$dir/display" ] && [ -S "$dir/socket" ]; do
	i=$((i + 1))
	[ $i -le 300 ] || break
	sleep 0.1
done
for a in wc uc; do
	# The demo's --json names attributes as dmabufd_attribute_name() does.
	case $a in wc) name="wc" ;; uc) name="uncached" ;; esac
	out=$(/bin/dmabufd-x11-demo --socket "$dir/socket" --display ":$(cat "$dir/display")" \
		--attribute $a --seconds 2 --json 2>&1)
	if [ $? -eq 0 ] && printf '%s' "$out" | jq -e --arg a "$name" \
		'.backend == "kmod" and .attribute == $a and .fallback == false and
		 ([.modes[] | select(.frames > 0)] | length == 2)' >/dev/null 2>&1; then
		say "ok dmabufd-x11-demo --attribute $a: $(printf '%s' "$out" | jq -r '[.modes[] | "\(.mode) \(.frames) frames \(.fps | floor) fps"] | join(", ")')"
	else
		say "not ok dmabufd-x11-demo --attribute $a"
		printf '%s\n' "$out" | sed 's/^/    /'
		fail=1
	fi
done
kill $xvfb $daemon 2>/dev/null
wait $xvfb $daemon 2>/dev/null
rm -rf "$dir"

for t in roundtrip maps lifetime badinput; do
	/bin/test_x11 $t >/tmp/x11.out 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		say "ok test_x11 $t (kmod)"
		sed 's/^/    /' /tmp/x11.out
	else
		say "not ok test_x11 $t (kmod) exit $rc"
		tail -40 /tmp/x11.out | sed 's/^/    /'
		fail=1
	fi
done
[ $fail = 0 ] || exit 1
exit 0
