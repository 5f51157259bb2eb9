#!/bin/sh
# External consumer of the installed API: stages the libdmabufd and
# libdmabufd-dev components with `cmake --install --prefix` into a temporary
# directory, checks that every public header is there and that no path of
# the source or build tree leaks into dmabufd.pc or the CMake package, then
# builds tests/consumer/consumer.c (every public header, the framebuffer
# API, <drm_fourcc.h> formats) twice, outside the build tree:
#   (a) cc with the flags of `pkg-config --cflags --libs dmabufd` only
#       (PKG_CONFIG_PATH = the staged pkgconfig directory);
#   (b) an external CMake project: find_package(dmabufd CONFIG REQUIRED),
#       dmabufd::dmabufd (CMAKE_PREFIX_PATH = the stage).
# Each program runs against the staged library: a connect with no daemon
# must fail with -ENOENT, then it allocates, writes and releases a
# framebuffer and a buffer on a dmabufd (memfd backend) on a temporary
# socket.
#
# Usage: consumer.sh BUILD_DIR DAEMON CC [EXTRA_FLAGS]
#   EXTRA_FLAGS: compile and link flags of the build (the sanitizers, so that
#   the program can load a sanitized libdmabufd)
set -eu
[ $# -ge 3 ] || { echo "usage: $0 BUILD_DIR DAEMON CC [EXTRA_FLAGS]" >&2; exit 2; }
build=$(cd "$1" && pwd) daemon=$2 cc=$3 extra=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d /tmp/dmabufd-consumer.XXXXXX)
stage=$tmp/stage
dpid=""
cleanup() {
	[ -z "$dpid" ] || { kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null || true; }
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail=0
ok() { echo "ok $*"; }
notok() { echo "not ok $*"; fail=1; }

for c in libdmabufd libdmabufd-dev libdmabufd-x11 libdmabufd-x11-dev; do
	cmake --install "$build" --prefix "$stage" --component "$c" >>"$tmp/install.log"
done
sed 's/^/  /' "$tmp/install.log"

for h in "$src"/include/dmabufd/*.h; do
	n=include/dmabufd/$(basename "$h")
	if cmp -s "$h" "$stage/$n"; then ok "installed $n"; else notok "installed $n"; fi
done
pc=$(find "$stage" -name dmabufd.pc)
cfg=$(find "$stage" -name dmabufdConfig.cmake)
[ -n "$pc" ] && [ -n "$cfg" ] || { notok "dmabufd.pc and dmabufdConfig.cmake installed"; exit 1; }
if grep -rqF -e "$build" -e "$src" "$pc" "$(dirname "$cfg")"; then
	grep -rnF -e "$build" -e "$src" "$pc" "$(dirname "$cfg")"
	notok "no source or build path in dmabufd.pc and the CMake package"
else
	ok "no source or build path in dmabufd.pc and the CMake package"
fi
libdir=$(dirname "$(dirname "$pc")")

sock=$tmp/socket
"$daemon" --backend memfd --socket "$sock" 2>"$tmp/daemon.log" &
dpid=$!
i=0
until [ -S "$sock" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$dpid" 2>/dev/null; then
		cat "$tmp/daemon.log"
		echo "not ok dmabufd did not start"
		exit 1
	fi
	sleep 0.1
done

# (a) pkg-config only.
flags=$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --cflags --libs dmabufd)
echo "pkg-config --cflags --libs dmabufd: $flags"
# shellcheck disable=SC2086 # word splitting of the flags is wanted
if (cd "$tmp" && "$cc" -std=c11 -Wall -Wextra -Werror $extra -o consumer-pc \
	"$here/consumer.c" $flags); then
	ok "consumer.c built with the pkg-config flags only"
	if LD_LIBRARY_PATH="$libdir" "$tmp/consumer-pc" "$tmp/no-daemon" "$sock"; then
		ok "pkg-config build runs against the staged library"
	else
		notok "pkg-config build runs against the staged library"
	fi
else
	notok "consumer.c built with the pkg-config flags only"
fi

# (b) find_package(dmabufd CONFIG).
if cmake -S "$here/project" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$stage" \
	-DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="-Wall -Wextra -Werror $extra" \
	-DCMAKE_EXE_LINKER_FLAGS="$extra" >"$tmp/cmake.log" 2>&1 &&
	cmake --build "$tmp/cmake" >>"$tmp/cmake.log" 2>&1; then
	grep "dmabufd .* from" "$tmp/cmake.log" || true
	ok "consumer.c built by an external project with find_package(dmabufd CONFIG)"
	if "$tmp/cmake/dmabufd-consumer" "$tmp/no-daemon" "$sock"; then
		ok "CMake build runs against the staged library (its RUNPATH)"
	else
		notok "CMake build runs against the staged library (its RUNPATH)"
	fi
else
	cat "$tmp/cmake.log"
	notok "consumer.c built by an external project with find_package(dmabufd CONFIG)"
fi

# Against the staged library, not the build tree's.
ldd "$tmp/consumer-pc" 2>/dev/null | grep -q "$build" &&
	notok "pkg-config build does not link the build tree's library"
exit $fail
