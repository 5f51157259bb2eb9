#!/bin/sh
# Installs the Debian 12 packages dmabufd needs to build and test.
# Usage: scripts/install-deps.sh [--test]   (--test adds the test-only tools)
set -eu
PKGS="build-essential cmake pkg-config libevent-dev libprotobuf-c-dev
protobuf-c-compiler libdrm-dev libsystemd-dev libinih-dev"
PKGS="$PKGS libjson-c-dev" # dmabufctl --json
TEST_PKGS="libcmocka-dev valgrind clang libclang-rt-14-dev qemu-system-x86
busybox-static cpio xz-utils kmod systemd
libelf1 libssl3 zlib1g"
want="$PKGS"
[ "${1:-}" = "--test" ] && want="$PKGS $TEST_PKGS"
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing packages:$missing (run as root)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends $missing
fi
