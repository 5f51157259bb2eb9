#!/bin/sh
# x11_bench in the QEMU VM of run-vm.sh, on dmabufd --backend kmod, where
# a write-combine buffer is really mapped write-combine (x86 PAT):
# 1920x1080 XRGB8888 frames presented to Xvfb with ShmPutImage from (a) a
# kmod write-back dma-buf, (b) a kmod write-combine dma-buf, (c) a SysV SHM
# segment, (d) plain PutImage; ratios to (c) (docs/PERFORMANCE.md, "The X
# server in the VM"). TCG does not model caches: what (b) costs on hardware
# is not what it costs here.
#
# Usage: tests/vm/x11-bench-vm.sh [--build DIR] [--work DIR] [--seconds S]
#                                 [--rounds N]
#   --build DIR   configured and built tree (default build): dmabufd,
#                 dmabufctl, x11_bench, dmabufd-x11-vm, dmabufd-x11-demo,
#                 test_x11, dmabufd-x11-vm-data (tests/vm/CMakeLists.txt)
#   --work DIR    run-vm.sh work directory (default DIR/tests/vm/run-x11-bench)
#   --seconds S, --rounds N   x11_bench's (default 2 and 5)
# Needs what run-vm.sh needs (export DMABUFD_VMCACHE to reuse cached
# kernels), Xvfb, xkbcomp and jq on the host. Results: x11_bench's --json,
# between the console's X11-BENCH-BEGIN and -END lines, copied to
# WORK/x11-bench.json.
# Exit: 0 measured, 1 otherwise, 77 no QEMU.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build="$src/build" work="" seconds=2 rounds=5
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	*) echo "x11-bench-vm: unknown argument $1" >&2; exit 1 ;;
	esac
done
build=$(cd "$build" && pwd)
[ -n "$work" ] || work="$build/tests/vm/run-x11-bench"
cmake --build "$build" -j2 --target dmabufd dmabufctl x11_bench dmabufd-x11-vm \
	dmabufd-x11-demo test_x11 dmabufd-x11-vm-data >/dev/null
rc=0
sh "$src/tests/vm/run-vm.sh" --src "$src" --work "$work" --series 6.12 \
	--extra "$build/daemon/dmabufd" --extra "$build/client/dmabufctl" \
	--extra "$build/tests/x11/x11_bench" --extra "$src/tests/vm/x11-vm.sh" \
	--extra "$build/tests/vm/x11-vm-data.tar" --extra "$(command -v Xvfb)" \
	--extra "$(command -v xkbcomp)" --extra "$(command -v jq)" \
	--extra-test "/bin/x11-vm.sh --bench --seconds $seconds --rounds $rounds --json" || rc=$?
sed -n '/^DMABUFD-VM: # X11-BENCH-BEGIN$/,/^DMABUFD-VM: # X11-BENCH-END$/p' "$work/console.log" |
	sed -e 's/^DMABUFD-VM: # //' -e '/^X11-BENCH-/d' >"$work/x11-bench.json"
if [ $rc -eq 0 ] && jq -e '.backend == "kmod" and .modes.dmabufd_wc.available' \
	"$work/x11-bench.json" >/dev/null 2>&1; then
	jq -r '.modes | to_entries[] | "\(.key): \(.value.fps) fps, \(.value.ratio_to_sysv) x (c); Xvfb \(.value.server_cpu_ms_per_frame) ms/frame, \(.value.server_cpu_ratio_to_sysv) x (c)"' \
		"$work/x11-bench.json"
	echo "x11-bench-vm: results in $work/x11-bench.json"
	exit 0
fi
echo "x11-bench-vm: no result (run-vm.sh exit $rc); console: $work/console.log" >&2
[ $rc -eq 77 ] && exit 77
exit 1
