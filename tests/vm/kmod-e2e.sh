#!/bin/sh
# In-VM end-to-end test of dmabufd --backend kmod: compaction, framebuffers,
# revoke, allocations over THPs, buffers across a SIGKILLed daemon.
# Runs as an extra VM test (tests/vm/CMakeLists.txt): /dev/dmabufd-region is
# present, vgem loaded. Binaries by absolute path (busybox prefers applets).
# Exit 0 when every step passed.
D=/bin/dmabufd; CTL=/bin/dmabufctl; E=/bin/dmabufd-kmod-e2e
export DMABUFD_SOCKET=/tmp/dmabufd-kmod.sock
fail=0
step() { echo "== $*"; }
start_daemon() {
	$D --backend kmod --socket "$DMABUFD_SOCKET" >>/tmp/dmabufd-kmod.log 2>&1 &
	DPID=$!
	i=0; while [ ! -S "$DMABUFD_SOCKET" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
	[ -S "$DMABUFD_SOCKET" ] || { echo "daemon did not start"; cat /tmp/dmabufd-kmod.log; exit 1; }
}
[ -c /dev/dmabufd-region ] || { echo "no /dev/dmabufd-region"; exit 77; }
start_daemon
$CTL --socket "$DMABUFD_SOCKET" stats 2>&1 | head -5

step "allocations with the region full of anonymous THPs"
$E thp 320 || fail=1
dmesg | grep "dmabufd_region: claim" | tail -5

step "compaction moves a mapped movable buffer"
$E compact || fail=1
$CTL --socket "$DMABUFD_SOCKET" compact 2>&1 | head -3

step "framebuffers"
$E fb || fail=1

step "dmabufctl revoke cuts a client's mapping and returns the pages"
rm -f /tmp/revoke.ready
$E revoke /tmp/revoke.ready & RPID=$!
i=0; while [ ! -s /tmp/revoke.ready ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
RID=$(cat /tmp/revoke.ready 2>/dev/null)
if [ -n "$RID" ]; then
	$CTL --socket "$DMABUFD_SOCKET" --json list | jq -e \
		'any(.[]; .label == "e2e-revoke")' >/dev/null ||
		{ echo "not ok dmabufctl list shows buffer $RID before the revoke"; fail=1; }
	if $CTL --socket "$DMABUFD_SOCKET" revoke "$RID"; then
		echo "ok dmabufctl revoke $RID"
	else
		echo "not ok dmabufctl revoke $RID"; fail=1
	fi
	if $CTL --socket "$DMABUFD_SOCKET" revoke "$RID" 2>/tmp/revoke.err; then
		echo "not ok a second dmabufctl revoke $RID succeeded"; fail=1
	else
		echo "ok a second revoke fails: $(cat /tmp/revoke.err)"
	fi
	if $CTL --socket "$DMABUFD_SOCKET" --json list | jq -e \
		'any(.[]; .label == "e2e-revoke")' >/dev/null; then
		echo "not ok dmabufctl list still shows revoked buffer $RID"; fail=1
	else
		echo "ok dmabufctl list no longer shows buffer $RID"
	fi
else
	echo "not ok the revoke client did not get ready"; fail=1
fi
kill -USR1 $RPID; wait $RPID || fail=1
$CTL --socket "$DMABUFD_SOCKET" stats 2>&1 | grep -iE "used|free|buffers" | head -5

step "50 buffers across a SIGKILLed daemon"
rm -f /tmp/hold.ready
$E hold 50 /tmp/hold.ready & HPID=$!
i=0; while [ ! -e /tmp/hold.ready ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
[ -e /tmp/hold.ready ] || { echo "holder not ready"; fail=1; $E kpf; }
kill -9 $DPID; wait $DPID 2>/dev/null
rm -f "$DMABUFD_SOCKET"
start_daemon
$E after-restart 50 || fail=1
$CTL --socket "$DMABUFD_SOCKET" list 2>&1 | head -5
# Orphans (adopted after the restart) cannot be revoked.
OID=$($CTL --socket "$DMABUFD_SOCKET" --json list | jq '.[0].id')
if $CTL --socket "$DMABUFD_SOCKET" revoke "$OID" 2>/tmp/revoke.err; then
	echo "not ok revoke of orphan $OID succeeded"; fail=1
elif grep -q "orphan" /tmp/revoke.err; then
	echo "ok revoke of orphan $OID refused: $(cat /tmp/revoke.err)"
else
	echo "not ok revoke of orphan $OID: $(cat /tmp/revoke.err)"; fail=1
fi
kill -USR1 $HPID; wait $HPID || fail=1
$E orphans-gone || fail=1
$CTL --socket "$DMABUFD_SOCKET" stats 2>&1 | head -30
kill $DPID; wait $DPID; rc=$?
# A clean SIGTERM exit is 0 (an ASan build exits non-zero on leaks).
[ $rc = 0 ] || { echo "dmabufd exited with $rc after SIGTERM"; fail=1; }
grep -E "kmod backend|compaction" /tmp/dmabufd-kmod.log
[ $fail = 0 ] || { echo "--- daemon log"; tail -40 /tmp/dmabufd-kmod.log; }
exit $fail
