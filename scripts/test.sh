#!/bin/sh
# The whole test suite: install dependencies, build, run CTest.
# Usage: scripts/test.sh [--asan] [extra ctest args...]
set -eu
cd "$(dirname "$0")/.."
build=build
opts="-DDMABUFD_WERROR=ON"
if [ "${1:-}" = "--asan" ]; then
	shift
	build=build-asan
	opts="$opts -DASAN_UBSAN=ON"
fi
scripts/install-deps.sh --test --gst --deb
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDMABUFD_BUILD_TESTS=ON $opts
cmake --build "$build" -j"$(nproc)"
# The systemd-as-PID-1 VM test may download Debian's kernel package itself.
export DMABUFD_VM_FETCH="${DMABUFD_VM_FETCH:-1}"
cd "$build"
ctest --output-on-failure --no-tests=error -j"$(nproc)" "$@"
