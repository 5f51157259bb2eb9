#!/bin/sh
# dmabufd-bench in the QEMU VM of run-vm.sh (docs/PERFORMANCE.md, "In the
# VM"): daemon memory at 100,000 live buffers (the VM is real root, so
# RLIMIT_NOFILE can be raised) and short side-by-side runs for the memfd,
# dma-heap, udmabuf and kmod backends. Under TCG the absolute timings mean
# nothing for hardware: read the ratios only.
#
# Usage: tests/vm/bench-vm.sh [--build DIR] [--work DIR] [--mem MiB]
#                             [--buffers N] [--only "memory memfd dma-heap udmabuf kmod"]
#                             [--bench-args "..."] [--dmaheap-pool [SIZE]]
#                             [--touch-guest MiB] [--tcg-thread single|multi]
#   --build DIR   build tree (default build-bench; configured Release and built
#                 here: dmabufd, dmabufd-bench)
#   --work DIR    run-vm.sh work directory (default DIR/vm-bench)
#   --mem MiB     guest memory (default 2048: 100,000 x 4 KiB memfds are 400 MB)
#   --buffers N   live buffers of the memory measurement (default 100000)
#   --only LIST   parts to run (default all of them, in that order)
#   --bench-args  dmabufd-bench options of the backend runs (default below)
#   --dmaheap-pool [SIZE]  the dma-heap part with the daemon's pre-zeroed
#                 pool: dmabufd-bench --pool-budget SIZE (default 512M; one
#                 daemon per size, --pool-classes that size) instead of 0
#   --touch-guest MiB  before the parts, write MiB of zeroes to a file in
#                 the guest's RAM-backed root and delete it: QEMU backs guest
#                 RAM with host memory on first touch, so the first buffers
#                 made after boot pay host page faults that later ones (and
#                 hardware) do not (default 0: off)
#   --tcg-thread MODE  run-vm.sh --tcg-thread (default single). multi runs
#                 the two vCPUs on two host threads, so the daemon's pool
#                 worker runs beside the measured client as on a 2-core
#                 machine instead of taking turns with it on one thread
# Needs what run-vm.sh needs (export DMABUFD_VMCACHE to reuse cached
# kernels). Results: the console's "BENCH" lines, copied to WORK/bench-vm.txt.
# Exit: 0 every part ran, 1 otherwise, 77 no QEMU.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build="$src/build-bench" work="" mem=2048 buffers=100000
only="memory memfd dma-heap udmabuf kmod"
dmaheap_pool=0 touch_guest=0 tcg_thread=single
bench_args="--sizes 64K,1M,8M --clients 1,4 --iterations 30 --warmup 2 --repeat 3 --max-seconds 1"
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--buffers) buffers=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--bench-args) bench_args=$2; shift 2 ;;
	--touch-guest) touch_guest=$2; shift 2 ;;
	--tcg-thread) tcg_thread=$2; shift 2 ;;
	--dmaheap-pool)
		case ${2:-} in
		[0-9]*) dmaheap_pool=$2; shift 2 ;;
		*) dmaheap_pool=512M; shift ;;
		esac ;;
	*) echo "bench-vm: unknown argument $1" >&2; exit 1 ;;
	esac
done
[ -n "$work" ] || work="$build/vm-bench"
mkdir -p "$work"

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DDMABUFD_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j2 --target dmabufd dmabufd-bench >/dev/null

# The in-VM script: one part after another, every output line prefixed
# "BENCH " so that it can be picked out of the console.
inner="$work/bench-vm-inner.sh"
{
	echo '#!/bin/sh'
	echo 'export DMABUFD_TEST_DAEMON=/bin/dmabufd'
	echo "buffers=$buffers"
	echo "bench_args='$bench_args'"
	echo "only='$only'"
	echo "dmaheap_pool='$dmaheap_pool'"
	echo "touch_guest='$touch_guest'"
	cat <<'EOF'
fail=0
out() { sed 's/^/BENCH /'; }
run() { # NAME BACKEND CMD...
	name=$1 be=$2; shift 2
	echo "== $name (daemon backend $be): $*" | out
	t0=$(date +%s)
	DMABUFD_TEST_BACKEND=$be "$@" >/tmp/bench.out 2>&1; rc=$?
	out </tmp/bench.out
	echo "== $name: exit $rc, $(( $(date +%s) - t0 )) s" | out
	case $rc in 0 | 77) ;; *) fail=1 ;; esac
}
echo "kernel $(uname -r), $(nproc) CPUs, $(grep MemTotal /proc/meminfo)" | out
echo "shmem THP: $(cat /sys/kernel/mm/transparent_hugepage/shmem_enabled 2>/dev/null)" | out
ls -l /dev/dma_heap /dev/udmabuf /dev/dmabufd-region 2>&1 | out
if [ "$touch_guest" -gt 0 ]; then
	t0=$(date +%s)
	dd if=/dev/zero of=/touch-guest bs=1M count="$touch_guest" 2>/dev/null
	rm -f /touch-guest
	echo "touched $touch_guest MiB of guest memory in $(( $(date +%s) - t0 )) s; $(grep MemFree /proc/meminfo)" | out
fi
for part in $only; do
	case $part in
	memory)
		run "memory at $buffers live buffers" memfd \
			/bin/dmabufd-bench --memory "$buffers" --memory-only ;;
	memfd)
		run "memfd backend, direct memfd" memfd \
			/bin/dmabufd-bench $bench_args --direct memfd ;;
	kmod)
		# The kmod backend places buffers in the module's region (loaded
		# by run-vm.sh); without us a user would take the system heap.
		run "kmod backend, direct dma-heap system" kmod \
			/bin/dmabufd-bench $bench_args --pool-budget 0 --direct dma-heap:/dev/dma_heap/system ;;
	dma-heap)
		rmmod dmabufd_region 2>/dev/null
		run "dma-heap backend (pool budget $dmaheap_pool), direct dma-heap system" dma-heap \
			/bin/dmabufd-bench $bench_args --pool-budget "$dmaheap_pool" \
			--direct dma-heap:/dev/dma_heap/system ;;
	udmabuf)
		rmmod dmabufd_region 2>/dev/null
		run "udmabuf backend, direct udmabuf" udmabuf \
			/bin/dmabufd-bench $bench_args --pool-budget 0 --direct udmabuf ;;
	*) echo "unknown part $part" | out; fail=1 ;;
	esac
done
exit $fail
EOF
} >"$inner"
chmod +x "$inner"

# run-vm.sh boots with a fixed amount of memory (mem=1024): run a copy with
# --mem's, the original untouched.
sed "s/^mem=1024 /mem=$mem /" "$src/tests/vm/run-vm.sh" >"$work/run-vm.sh"
grep -q "^mem=$mem " "$work/run-vm.sh" || { echo "bench-vm: cannot set the VM's memory" >&2; exit 1; }
set +e
sh "$work/run-vm.sh" --src "$src" --work "$work" --series 6.12 --timeout 1800 --tcg-thread "$tcg_thread" \
	--extra "$build/daemon/dmabufd" --extra "$build/tests/bench/dmabufd-bench" \
	--extra "$inner" --extra-test "/bin/bench-vm-inner.sh" >"$work/run-vm.log" 2>&1
rc=$?
set -e
sed -n "s/^DMABUFD-VM: # BENCH //p" "$work/console.log" | tee "$work/bench-vm.txt"
tail -n 3 "$work/run-vm.log"
echo "bench-vm: results in $work/bench-vm.txt, console in $work/console.log"
exit $rc
