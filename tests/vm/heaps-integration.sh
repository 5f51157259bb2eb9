#!/bin/sh
# In-VM: the integration tests (real daemon on a temporary socket, unchanged)
# against each backend, through tests/integration/harness.c's
# DMABUFD_TEST_DAEMON / DMABUFD_TEST_BACKEND. Module unloaded.
# Prints one line per test and backend; exit 0 when all passed (77 = skip).
rmmod dmabufd_region 2>/dev/null
fail=0
export DMABUFD_TEST_DAEMON=/bin/dmabufd
for be in dma-heap udmabuf memfd; do
	for t in test_badinput test_framebuffer test_share test_quota test_compact; do
		[ -x "/bin/$t" ] || continue
		DMABUFD_TEST_BACKEND=$be "/bin/$t" >/tmp/it.out 2>&1
		rc=$?
		case $rc in
		0) echo "ok   $t ($be)" ;;
		77) echo "skip $t ($be)" ;;
		*) echo "not ok $t ($be) exit $rc"; grep -E "FAILED|Error|error" /tmp/it.out | head -8 | sed 's/^/    /'; fail=1 ;;
		esac
	done
done
exit $fail
