#!/bin/sh
# In-VM test of several backends active at once (docs/BACKENDS.md
# "Several backends at once"). Runs as a default extra VM test
# (tests/vm/CMakeLists.txt) on the 6.12 kernel with dmabufd_region loaded,
# vgem loaded, and /dev/dma_heap/system + /dev/udmabuf built in.
#
# 1. Default order: kmod, dma-heap and udmabuf are all active (Stats).
#    A request naming vgem's card node (no IOMMU: needs contiguity) gets a
#    contiguous buffer from kmod; a plain cached request goes to the first
#    active backend that satisfies it, kmod; a write-combine one too (only
#    kmod offers it). All shown with their backend in `dmabufctl --json list`.
# 2. backends = dma-heap,udmabuf,kmod: the plain request goes to dma-heap,
#    the vgem one still to kmod (dma-heap has no CMA heap here), and a plain
#    request dma-heap has no room for falls through to udmabuf.
# The module-unloaded case (vgem request refused with -EOPNOTSUPP) is in
# heaps-vm.sh. Binaries by absolute path (busybox prefers applets).
# Exit 0 when every check passed, 1 otherwise (a missing precondition too).
set -u
D=/bin/dmabufd; CTL=/bin/dmabufctl
sock=/tmp/multi.sock
fail=0
dpid=""
holders=""

# run-vm.sh always inserts the module and loads vgem, and Debian's 6.12 has
# the system heap and udmabuf built in: a missing one is a broken harness
# or kernel, a failure, never a skip.
need() { echo "not ok precondition: $*"; exit 1; }
[ -c /dev/dmabufd-region ] || need "no /dev/dmabufd-region"
[ -e /dev/dma_heap/system ] || need "no /dev/dma_heap/system"
[ -e /dev/udmabuf ] || need "no /dev/udmabuf"
vgem=""
for n in /dev/dri/card*; do
	case "$(readlink "/sys/class/drm/${n##*/}/device" 2>/dev/null)" in
	*vgem*) vgem=$n ;;
	esac
done
[ -n "$vgem" ] || need "no vgem card node"
[ -e "/sys/class/drm/${vgem##*/}/device/iommu_group" ] &&
	need "$vgem has an IOMMU here (QEMU without an IOMMU gives it none)"
echo "# vgem node: $vgem (no iommu_group)"

check() { # NAME CMD...
	name=$1; shift
	if "$@"; then echo "ok   $name"; else echo "not ok $name"; fail=1; fi
}
start() {
	rm -f "$sock"
	$D -s "$sock" --capacity 64M "$@" >/tmp/multi.log 2>&1 &
	dpid=$!
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
	[ -S "$sock" ] || { echo "not ok daemon did not start ($*)"; cat /tmp/multi.log; fail=1; }
}
stop() {
	for h in $holders; do kill "$h" 2>/dev/null; wait "$h" 2>/dev/null; done
	holders=""
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	dpid=""
	sed 's/^/  daemon: /' /tmp/multi.log
}
# hold SIZE LABEL [dmabufctl alloc options...]: allocate and keep it.
hold() {
	size=$1 label=$2; shift 2
	$CTL --socket "$sock" alloc "$size" --label "$label" --hold 120 "$@" \
		>"/tmp/hold-$label.out" 2>&1 &
	holders="$holders $!"
	i=0
	while ! grep -q "buffer [0-9]" "/tmp/hold-$label.out" 2>/dev/null && [ $i -lt 100 ]; do
		grep -q "refused" "/tmp/hold-$label.out" 2>/dev/null && break
		sleep 0.1; i=$((i + 1))
	done
	sed 's/^/  alloc: /' "/tmp/hold-$label.out"
}
# row LABEL: "backend contiguous" of the listed buffer labelled LABEL.
row() {
	jq -r --arg want "$1" '.[] | select(.label == $want) | "\(.backend) \(.contiguous)"' \
		/tmp/multi-list.json
}
expect_row() { # LABEL "BACKEND CONTIGUOUS"
	got=$(row "$1")
	[ "$got" = "$2" ] || { echo "  $1: got '$got', wanted '$2'"; return 1; }
}
listing() {
	$CTL --socket "$sock" --json list >/tmp/multi-list.json
	$CTL --socket "$sock" list | sed 's/^/  list: /'
}
active() { # BACKEND...: the Stats "backends" array names exactly these, in order
	got=$($CTL --socket "$sock" --json stats | jq -r '[.backends[].backend] | join(" ")')
	[ "$got" = "$*" ] || { echo "  active: '$got', wanted '$*'"; return 1; }
}

echo "== default order: every present backend is active"
start
$CTL --socket "$sock" stats | sed 's/^/  /'
check "kmod, dma-heap and udmabuf active in probe order" active kmod dma-heap udmabuf
hold 1M vgem-buf --device "$vgem"
hold 1M plain-buf
hold 1M wc-buf --attr wc
listing
check "request naming $vgem (no IOMMU) is served contiguous by kmod" expect_row vgem-buf "kmod true"
check "plain cached request goes to the first active backend, kmod" expect_row plain-buf "kmod false"
check "write-combine request goes to kmod (the only one offering it)" expect_row wc-buf "kmod false"
$CTL --socket "$sock" --json stats | jq '.backends' | sed 's/^/  /'
stop

echo "== backends = dma-heap,udmabuf,kmod"
printf '[daemon]\nbackends = dma-heap,udmabuf,kmod\n' >/tmp/multi.conf
start -c /tmp/multi.conf
check "dma-heap, udmabuf and kmod active in that order" active dma-heap udmabuf kmod
hold 1M vgem-buf --device "$vgem"
hold 1M plain-buf
hold 48M big-buf
hold 32M fell-buf
listing
check "request naming $vgem still goes to kmod (no contiguous heap)" expect_row vgem-buf "kmod true"
check "plain cached request goes to dma-heap, now first" expect_row plain-buf "dma-heap false"
check "48M fits dma-heap's 64M" expect_row big-buf "dma-heap false"
check "32M more does not fit dma-heap: falls through to udmabuf" expect_row fell-buf "udmabuf false"
check "Stats counts the fall-through" sh -c \
	"$CTL --socket $sock --json stats | jq -e 'any(.backends[]; .fallthroughs == 1)' >/dev/null"
stop
exit $fail
