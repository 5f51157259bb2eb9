#!/bin/sh
# In-VM: the integration tests (real daemon on a temporary socket, unchanged)
# against each backend, through tests/integration/harness.c's
# DMABUFD_TEST_DAEMON / DMABUFD_TEST_BACKEND.
# Usage: heaps-integration.sh [--backends "B..."] [HOST_DMABUFCTL_PATH]
#   --backends  the backends to run them against (default "dma-heap udmabuf
#               memfd", module unloaded first); naming kmod keeps the module
#               loaded and needs /dev/dmabufd-region
#   HOST_DMABUFCTL_PATH: some tests run dmabufctl by its build path; it is
#               linked to /bin/dmabufctl here.
# test_fault_alloc (tests/fault) is one of them: it preloads
# /bin/faultinject.so (DMABUFD_FAULTINJECT_SO) into the daemon and fails
# every call on the Alloc path in turn; its per-point lines ("<scenario>:
# point N: ... -> reply ...") are printed whether it passes or not, and a
# summary line "# fault <backend>: <scenario> N points" per scenario.
# Prints one line per test and backend; exit 1 when one failed (or a test
# binary or, for kmod, the module's device is missing), 77 when none ran
# but some skipped, 0 otherwise.
backends="dma-heap udmabuf memfd"
if [ "${1:-}" = --backends ]; then backends=$2; shift 2; fi
case " $backends " in
*" kmod "*) # run-vm.sh inserted the module: without it the harness is broken
	[ -c /dev/dmabufd-region ] || { echo "not ok no /dev/dmabufd-region"; exit 1; } ;;
*) rmmod dmabufd_region 2>/dev/null ;;
esac
fail=0 pass=0 skip=0
# test_share's [access] names root: give the initramfs a passwd/group.
[ -e /etc/passwd ] || echo 'root:x:0:0:root:/:/bin/sh' >/etc/passwd
[ -e /etc/group ] || echo 'root:x:0:' >/etc/group
if [ -n "${1:-}" ] && [ ! -e "$1" ]; then
	mkdir -p "$(dirname "$1")" && ln -s /bin/dmabufctl "$1"
fi
export DMABUFD_TEST_DAEMON=/bin/dmabufd
export DMABUFD_FAULTINJECT_SO=/bin/faultinject.so
for be in $backends; do
	for t in test_client_e2e test_badinput test_framebuffer test_share test_quota test_compact \
		test_fault_alloc; do
		# run-vm.sh copies every one of them in (tests/vm/CMakeLists.txt):
		# a missing binary is a broken harness, not a skip.
		[ -x "/bin/$t" ] || { echo "not ok $t ($be): /bin/$t missing"; fail=1; continue; }
		if [ "$t" = test_compact ] && [ "$be" = udmabuf ]; then
			# udmabuf has no migrate(): a client's udmabuf keeps its pages,
			# so Compact is refused (-EOPNOTSUPP) by design (docs/BACKENDS.md).
			echo "skip $t ($be): no migration by design"
			skip=$((skip + 1))
			continue
		fi
		DMABUFD_TEST_BACKEND=$be "/bin/$t" >/tmp/it.out 2>&1
		rc=$?
		if [ "$t" = test_fault_alloc ]; then
			# The failure points and their replies, then a count per scenario.
			grep -E ': point +[0-9]+:' /tmp/it.out | sed 's/^/    /'
			grep -E ': point +[0-9]+:' /tmp/it.out | sed 's/: point .*//' | uniq -c |
				while read -r n sc; do echo "# fault $be: $sc $n points"; done
		fi
		case $rc in
		0) echo "ok   $t ($be)"; pass=$((pass + 1)) ;;
		77) echo "skip $t ($be)"; tail -5 /tmp/it.out | sed 's/^/    /'; skip=$((skip + 1)) ;;
		*) echo "not ok $t ($be) exit $rc"; tail -60 /tmp/it.out | sed 's/^/    /'; fail=1 ;;
		esac
	done
done
echo "# $pass passed, $skip skipped"
[ $fail = 0 ] || exit 1
# Nothing ran at all: a skip, not a pass.
[ $pass -gt 0 ] || exit 77
exit 0
