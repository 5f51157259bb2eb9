#!/bin/sh
# The arm64 VM tests: cross-builds the in-VM test programs (static, with
# libdrm.a from Debian's libdrm-dev:arm64, unpacked by fetch-kernels.sh into
# the cache) and runs run-vm.sh --arch arm64 with them: the region tests
# (region-test.c) and the page-table / cache-maintenance checks
# (arm64-attr-test.c, with the test-only dmabufd_ptattr.ko).
#
# Usage: run-vm-arm64.sh --src REPO --work DIR [run-vm.sh options...]
#   (--series/--boot as for run-vm.sh; --cache is read here too)
# Exit: as run-vm.sh; 77 when no aarch64-linux-gnu-gcc can be found or
# installed.
set -eu
src="" work="" cache="${DMABUFD_VMCACHE:-}"
args=""
while [ $# -gt 0 ]; do
	case $1 in
	--src) src=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--cache) cache=$2; shift 2 ;;
	*) args="$args $1"; shift ;;
	esac
done
[ -n "$src" ] && [ -n "$work" ] || { echo "run-vm-arm64: --src and --work are required" >&2; exit 1; }
src=$(cd "$src" && pwd)
[ -n "$cache" ] || cache="$src/.vmcache"
mkdir -p "$work" "$cache"

CC=aarch64-linux-gnu-gcc
if ! command -v $CC >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			gcc-aarch64-linux-gnu libc6-dev-arm64-cross >"$work/cc-install.log" 2>&1 || true
	fi
	command -v $CC >/dev/null 2>&1 ||
		{ echo "run-vm-arm64: SKIP: no $CC (scripts/install-deps.sh --test)"; exit 77; }
fi

DMABUFD_VM_SERIES="" sh "$src/tests/vm/fetch-kernels.sh" --arch arm64 \
	--sysroot "libdrm-dev" "$cache"
sys="$cache/sysroot-arm64"
bin="$work/bin"
mkdir -p "$bin"
# Optimised even here: the programs run under TCG.
cflags="-static -O2 -std=gnu11 -Wall -Werror -I$src/include/uapi -I$src/tests/vm"
# shellcheck disable=SC2086
$CC $cflags -I"$sys/usr/include" -I"$sys/usr/include/libdrm" \
	-o "$bin/dmabufd-vm-region-test" "$src/tests/vm/region-test.c" "$src/tests/vm/kpageflags.c" \
	-L"$sys/usr/lib/aarch64-linux-gnu" -ldrm -lpthread
# shellcheck disable=SC2086
$CC $cflags -o "$bin/dmabufd-vm-arm64-attr-test" "$src/tests/vm/arm64-attr-test.c"

# shellcheck disable=SC2086 # args: the caller's run-vm.sh options
exec sh "$src/tests/vm/run-vm.sh" --arch arm64 --src "$src" --work "$work" --cache "$cache" \
	--test "$bin/dmabufd-vm-region-test" --test "$bin/dmabufd-vm-arm64-attr-test" $args
