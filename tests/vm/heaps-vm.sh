#!/bin/sh
# In-VM test for issue 5 (dma-heap / udmabuf backends, probing, device
# constraints), run by the "vm-heaps" ctest through run-vm.sh --extra-test.
# The dmabufd_region module is unloaded first: these backends are for
# kernels without it. Exit 0 when everything passed, 1 otherwise.
set -u
sock=/tmp/heaps.sock
fail=0
dpid=""
rmmod dmabufd_region 2>/dev/null && echo "dmabufd_region unloaded"
[ -e /dev/dmabufd-region ] && { echo "not ok module still loaded"; fail=1; }
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
ls -l /dev/dma_heap /dev/udmabuf /dev/dri 2>&1 | sed 's/^/  /'

start() {
	rm -f "$sock"
	/bin/dmabufd -s "$sock" --capacity 64M "$@" >/tmp/dmabufd.log 2>&1 &
	dpid=$!
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
	[ -S "$sock" ] || { echo "not ok daemon did not start ($*)"; cat /tmp/dmabufd.log; fail=1; }
}
stop() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	dpid=""
	sed 's/^/  daemon: /' /tmp/dmabufd.log
}
check() { # NAME CMD...
	name=$1; shift
	if "$@"; then echo "ok   $name"; else echo "not ok $name"; fail=1; fi
}

for be in dma-heap udmabuf memfd; do
	echo "== backend $be (forced)"
	start --backend "$be"
	check "smoke client against $be" /bin/heaps-smoke "$sock" "$be"
	if [ "$be" != memfd ]; then
		# A held buffer's label shows in debugfs bufinfo.
		/bin/dmabufctl --socket "$sock" alloc 65536 --label "bufinfo-$be" --hold 4 >/dev/null 2>&1 &
		hpid=$!
		sleep 2
		grep "bufinfo-$be" /sys/kernel/debug/dma_buf/bufinfo | sed 's/^/  bufinfo: /'
		check "label bufinfo-$be in /sys/kernel/debug/dma_buf/bufinfo" \
			grep -q "bufinfo-$be" /sys/kernel/debug/dma_buf/bufinfo
		wait "$hpid"
	fi
	stop
done

echo "== backend udmabuf on huge pages"
echo 40 >/proc/sys/vm/nr_hugepages
grep -E "HugePages_(Total|Free)|Hugepagesize" /proc/meminfo | sed 's/^/  /'
start --backend udmabuf
check "udmabuf region is hugetlb-backed" grep -q "hugetlb region" /tmp/dmabufd.log
check "smoke client against udmabuf (hugetlb)" /bin/heaps-smoke "$sock" udmabuf
stop
echo 0 >/proc/sys/vm/nr_hugepages

echo "== probing"
start
/bin/dmabufctl --socket "$sock" --json stats | grep -A30 '"probe"' | sed 's/^/  /'
check "default order kmod,dma-heap,udmabuf,memfd chooses dma-heap (module unloaded)" \
	/bin/heaps-smoke "$sock" --probe dma-heap
# Several backends at once (issue 5): dma-heap and udmabuf are both active,
# neither is contiguous, so a request naming vgem's node (no IOMMU) is
# refused with -EOPNOTSUPP and the reason, never served non-contiguous.
check "dma-heap and udmabuf both active (Stats backends)" sh -c \
	"/bin/dmabufctl --socket $sock --json stats | awk '/\"backends\":/ { on = 1 } on' |
	 grep -q '\"backend\":\"udmabuf\"'"
vgem=""
for n in /dev/dri/card*; do
	case "$(readlink "/sys/class/drm/${n##*/}/device" 2>/dev/null)" in
	*vgem*) vgem=$n ;;
	esac
done
if [ -n "$vgem" ]; then
	/bin/dmabufctl --socket "$sock" alloc 1M --device "$vgem" --hold 0 >/tmp/vgem.out 2>&1
	rc=$?
	sed 's/^/  /' /tmp/vgem.out
	check "request naming $vgem refused (dmabufctl exit $rc)" [ "$rc" != 0 ]
	check "... with EOPNOTSUPP and the no-IOMMU reason" sh -c \
		"grep -q 'not supported' /tmp/vgem.out && grep -q 'no iommu_group' /tmp/vgem.out"
	/bin/dmabufctl --socket "$sock" --json list >/tmp/vgem-list.json
	check "... and no buffer was made" sh -c "! grep -q '\"id\"' /tmp/vgem-list.json"
fi
stop
printf '[daemon]\nbackends = udmabuf,dma-heap,memfd\n' >/tmp/b1.conf
start -c /tmp/b1.conf
check "backends = udmabuf,dma-heap,memfd chooses udmabuf" /bin/heaps-smoke "$sock" --probe udmabuf
/bin/dmabufctl --socket "$sock" stats | sed -n '1,6p' | sed 's/^/  /'
stop
printf '[daemon]\nbackends = kmod,memfd,dma-heap\n' >/tmp/b2.conf
start -c /tmp/b2.conf
check "backends = kmod,memfd,dma-heap chooses memfd" /bin/heaps-smoke "$sock" --probe memfd
stop
exit $fail
