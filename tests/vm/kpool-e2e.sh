#!/bin/sh
# In-VM test of the kmod backend's pool (daemon/kpool.c): a dmabufd with
# --pool-budget serves write-combine 8 MiB allocations from its pool (Stats
# pool hits; zero when mapped), and a randomized run of mixed attributes
# and sizes keeps the PFN audit clean (module ATTRS = PAT page flags over
# pooled, parked, live and free ranges; every client buffer is the module's buffer
# at its offset; the daemon's region and the module agree on claimed pages;
# every buffer reads zero): kpool-bench random (tests/vm/kpool-bench.c).
# In between, 24 warm cycles reuse parked extents: 0 attribute transitions.
# Then the udmabuf backend's pool: 8 MiB cached allocations are pool hits
# and read zero.
# Exit 0 when both passed.
D=/bin/dmabufd B=/bin/kpool-bench
export DMABUFD_SOCKET=/tmp/dmabufd-kpool.sock
[ -c /dev/dmabufd-region ] || { echo "no /dev/dmabufd-region"; exit 1; }
[ -x $B ] || { echo "no $B"; exit 1; }
$D --backend kmod --socket "$DMABUFD_SOCKET" --pool-budget 32M >/tmp/dmabufd-kpool.log 2>&1 &
DPID=$!
i=0; while [ ! -S "$DMABUFD_SOCKET" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
[ -S "$DMABUFD_SOCKET" ] || { echo "daemon did not start"; cat /tmp/dmabufd-kpool.log; exit 1; }
fail=0
out=$($B run brokered --size 8388608 --n 6 --attr wc --warm --check-zero) || fail=1
echo "$out"
echo "$out" | grep -q '"pool_hits":6,' || { echo "not ok 8 MiB write-combine allocations from a warm pool are pool hits"; fail=1; }
# ... each a module buffer EXPORTed before its request: no transition on its path
echo "$out" | grep -q '"made_ahead":6,' || { echo "not ok every pooled buffer was made before its request"; fail=1; }
# Warm: a released buffer's extent is parked in write-combine and the pool's
# next buffer reuses it (the module's EXPORT inside a parked extent): over
# 24 more cycles the module makes no attribute transition at all, and
# every buffer reads zero.
out=$($B run brokered --size 8388608 --n 24 --attr wc --warm --check-zero) || fail=1
echo "$out"
[ "$(echo "$out" | jq -r '[.pool_hits, .transitions_total, .nonzero, .ok] | @csv')" = "24,0,0,24" ] ||
	{ echo "not ok 24 warm 8 MiB write-combine cycles: all pool hits, 0 attribute transitions, zeros"; fail=1; }
$B random --n 1000 || fail=1
kill $DPID; wait $DPID || { echo "dmabufd exit $?"; fail=1; }
# The udmabuf backend's pool: cached, not contiguous.
if [ -c /dev/udmabuf ]; then
	$D --backend udmabuf --socket "$DMABUFD_SOCKET" --pool-budget 32M >>/tmp/dmabufd-kpool.log 2>&1 &
	DPID=$!
	i=0; while [ ! -S "$DMABUFD_SOCKET" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
	out=$($B run brokered --size 8388608 --n 6 --attr cached --noncontig --warm --check-zero) || fail=1
	echo "$out"
	echo "$out" | grep -q '"pool_hits":6,' ||
		{ echo "not ok 8 MiB udmabuf allocations from a warm pool are pool hits"; fail=1; }
	kill $DPID; wait $DPID || { echo "dmabufd (udmabuf) exit $?"; fail=1; }
else
	echo "not ok no /dev/udmabuf (the 6.12 VM has it)"; fail=1
fi
grep "pool of" /tmp/dmabufd-kpool.log | tail -5
exit $fail
