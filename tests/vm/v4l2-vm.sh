#!/bin/sh
# In-VM test: vivid (videobuf2-dma-contig) capturing into and reading from
# dmabufd buffers; run by the "vm-v4l2" ctest through run-vm.sh
# --extra-test, with dmabufd_region loaded and vivid in the initramfs
# (DMABUFD_VM_MODULES=vivid).
# Usage: v4l2-vm.sh [FRAMES]   (default 300)
# Exit 0 when every step passed, 1 otherwise.
set -u
frames=${1:-300}
T=/bin/dmabufd-v4l2-test
export DMABUFD_SOCKET=/tmp/v4l2.sock
fail=0
dpid=""

start() {
	rm -f "$DMABUFD_SOCKET"
	/bin/dmabufd --socket "$DMABUFD_SOCKET" "$@" >/tmp/v4l2-dmabufd.log 2>&1 &
	dpid=$!
	i=0
	while [ ! -S "$DMABUFD_SOCKET" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -S "$DMABUFD_SOCKET" ] || { echo "not ok dmabufd $* did not start"; cat /tmp/v4l2-dmabufd.log; exit 1; }
}
stop() {
	kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	dpid=""
}
# shellcheck disable=SC2317 # called through step
daemon_empty() {
	[ "$(/bin/dmabufctl --socket "$DMABUFD_SOCKET" --json stats | jq .buffers)" = 0 ]
}
step() { # NAME CMD...
	name=$1; shift
	if "$@"; then echo "ok   $name"; else echo "not ok $name"; fail=1; fi
}

[ -c /dev/dmabufd-region ] || { echo "not ok no /dev/dmabufd-region"; exit 1; }
# One instance with one video capture node (bit 0) and one video output
# node (bit 8), a webcam input and an S-Video output, every queue on
# videobuf2-dma-contig (allocators=1; later allocators=0, vmalloc).
if ! modprobe vivid n_devs=1 node_types=0x101 num_inputs=1 input_types=0x0 \
	num_outputs=1 output_types=0x0 allocators=1; then
	echo "not ok modprobe vivid"
	exit 1
fi
echo "vivid: $(cat /sys/module/vivid/parameters/allocators 2>/dev/null) allocators," \
	"node_types $(cat /sys/module/vivid/parameters/node_types 2>/dev/null)"
ls -l /dev/video* 2>&1

start --backend kmod
step "capture $frames frames into write-combine kmod buffers" $T capture "$frames" wc
step "capture $frames frames into cached kmod buffers" $T capture "$frames" cached
step "vivid output reads $frames frames from kmod buffers" $T output "$frames"
step "the daemon holds nothing afterwards" daemon_empty
stop

for be in udmabuf memfd; do
	dmesg -c >/dev/null
	start --backend "$be" --capacity 64M
	step "$be: refused by the daemon when named, by the driver when not" $T refused "$be"
	stop
	dmesg | grep -E "videobuf2|vb2|contiguous|dmabuf" | sed 's/^/  dmesg: /'
	if [ "$be" = udmabuf ]; then
		step "udmabuf: the kernel log says why (contiguous ... too small)" \
			sh -c 'dmesg | grep -qE "contiguous (chunk|mapping) is too small"'
	fi
done
# videobuf2-vmalloc imports through vmap instead of a DMA mapping.
rmmod vivid
if modprobe vivid n_devs=1 node_types=0x101 num_inputs=1 input_types=0x0 \
	num_outputs=1 output_types=0x0 allocators=0; then
	start --backend kmod
	step "vmalloc: capture 100 frames into write-combine kmod buffers" $T capture 100 wc
	step "the daemon holds nothing afterwards" daemon_empty
	stop
else
	echo "not ok modprobe vivid allocators=0"; fail=1
fi
rmmod vivid 2>/dev/null
exit $fail
