#!/bin/sh
# End of stream through the frame ring, N times in a row, as two processes:
#
#   gst-launch-1.0 videotestsrc num-buffers=F ! ... ! dmabufdsink wait-consumers=1 sync=false
#   gst-launch-1.0 dmabufdsrc ! filesink
#
# Every run must end with rc 0 on both sides and the file holding all F
# frames (size F x frame size: dmabufdsrc's buffers are frames, not
# allocations); afterwards the daemon holds nothing (dmabufctl --json).
#
# Usage: tests/gst/eos-loop.sh BUILD_DIR [RUNS [FRAMES]]   (defaults 20, 30)
# Exit: 0 all runs clean; 1 a run failed; 77 GStreamer elements missing.
set -u
build=${1:?usage: eos-loop.sh BUILD_DIR [RUNS [FRAMES]]}
runs=${2:-20}
nframes=${3:-30}
width=320
height=240
frame=$((width * height * 3 / 2)) # NV12, no row padding at this width

command -v jq >/dev/null || { echo "SKIP: no jq" >&2; exit 77; }
dir=$(mktemp -d)
# The plugin from the build tree, in a registry of our own.
GST_PLUGIN_PATH="$build/client/gst/plugin"
GST_REGISTRY="$dir/registry.bin"
export GST_PLUGIN_PATH GST_REGISTRY
sock="$dir/dmabufd.sock"
for e in videotestsrc filesink; do
	gst-inspect-1.0 "$e" >/dev/null 2>&1 || { echo "SKIP: no $e" >&2; rm -rf "$dir"; exit 77; }
done
if ! gst-inspect-1.0 dmabufdsink >/dev/null 2>&1; then
	echo "eos-loop: the plugin in $GST_PLUGIN_PATH does not load" >&2
	rm -rf "$dir"
	exit 1
fi
"$build"/daemon/dmabufd --backend memfd --socket "$sock" 2>"$dir/daemon.log" &
daemon=$!
cleanup() {
	kill "$daemon" 2>/dev/null
	wait "$daemon" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
i=0
while [ ! -S "$sock" ]; do
	i=$((i + 1))
	if [ $i -gt 200 ] || ! kill -0 "$daemon" 2>/dev/null; then
		echo "eos-loop: dmabufd did not start" >&2
		cat "$dir/daemon.log" >&2
		exit 1
	fi
	sleep 0.05
done

failed=0
run=1
while [ $run -le "$runs" ]; do
	rm -f "$dir/out.raw" "$dir/frames"
	gst-launch-1.0 -q videotestsrc num-buffers="$nframes" pattern=ball ! \
		video/x-raw,format=NV12,width=$width,height=$height ! \
		dmabufdsink socket-path="$sock" consumer-socket="$dir/frames" \
		wait-consumers=1 sync=false >"$dir/sink.log" 2>&1 &
	sink=$!
	gst-launch-1.0 -q dmabufdsrc socket-path="$dir/frames" ! \
		filesink location="$dir/out.raw" >"$dir/src.log" 2>&1
	src_rc=$?
	sink_rc=0
	wait "$sink" || sink_rc=$?
	size=$(stat -c %s "$dir/out.raw" 2>/dev/null || echo 0)
	if [ "$src_rc" -ne 0 ] || [ "$sink_rc" -ne 0 ] || [ "$size" -ne $((nframes * frame)) ]; then
		failed=$((failed + 1))
		echo "run $run: src rc $src_rc, sink rc $sink_rc, $size bytes" \
			"(want $((nframes * frame)))" >&2
		cat "$dir/src.log" "$dir/sink.log" >&2
	fi
	run=$((run + 1))
done
live=$("$build"/client/dmabufctl --socket "$sock" --json stats | jq '.buffers')
echo "eos-loop: $runs runs of $nframes frames: $failed failed; daemon holds $live buffers after"
[ "$failed" -eq 0 ] && [ "$live" = 0 ]
