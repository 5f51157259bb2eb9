#!/bin/sh
# Benchmark (not a test): frames per second of
#   videotestsrc num-buffers=300 ! video/x-raw,format=NV12,width=1920,height=1080 ! SINK
# with SINK = dmabufdsink (upstream renders into dmabufd buffers) versus
# fakesink (default allocation: videotestsrc's own system-memory pool; once
# with fakesink's defaults, once with enable-last-sample=false as dmabufdsink
# has it, so that only the allocation differs), and
# dmabufdsink with a consumer process that receives, maps and releases every
# frame (reading one byte: the transport's cost), and one that also
# checksums every byte (FNV-1a, one byte at a time: the consumer's own cost).
# The runs alternate, REPS times each, in the same session; the median is
# reported, and the ratio dmabufdsink / fakesink.
#
# Usage: tests/gst/bench_fps.sh [BUILD_DIR] [REPS] [PATTERN]
#   BUILD_DIR default build; REPS default 5; PATTERN videotestsrc pattern
#   (default smpte, the element's default)
# Needs: a build with the plugin (scripts/install-deps.sh --gst).
set -eu
cd "$(dirname "$0")/../.."
build=${1:-build}
reps=${2:-5}
pattern=${3:-smpte}
frames=300

dir=$(mktemp -d /tmp/dmabufd-gst-bench.XXXXXX)
"$build/daemon/dmabufd" --backend memfd --socket "$dir/socket" 2>/dev/null &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
i=0
until [ -S "$dir/socket" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "bench: dmabufd did not start" >&2; exit 1; }
	sleep 0.1
done
export GST_PLUGIN_PATH="$PWD/$build/client/gst/plugin"
export GST_REGISTRY="$dir/registry.bin"
gst-inspect-1.0 dmabufdsink >/dev/null

src="videotestsrc num-buffers=$frames pattern=$pattern ! video/x-raw,format=NV12,width=1920,height=1080,framerate=30/1"

# Prints the seconds gst-launch-1.0 reports for "Execution ended after H:MM:SS.ns".
run() {
	gst-launch-1.0 "$@" 2>&1 | sed -n 's/^Execution ended after \([0-9]*\):\([0-9]*\):\([0-9.]*\)$/\1 \2 \3/p' |
		awk '{ printf "%.6f\n", $1 * 3600 + $2 * 60 + $3 }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

: >"$dir/fake"; : >"$dir/fakenl"; : >"$dir/dmabufd"; : >"$dir/consumer"; : >"$dir/checksum"
n=0
while [ $n -lt "$reps" ]; do
	n=$((n + 1))
	run $src ! fakesink sync=false >>"$dir/fake"
	run $src ! fakesink sync=false enable-last-sample=false >>"$dir/fakenl"
	run $src ! dmabufdsink sync=false socket-path="$dir/socket" >>"$dir/dmabufd"
	"$build/client/gst/dmabufd-frame-consumer" --socket "$dir/frames" --quiet \
		--no-checksum >/dev/null &
	cons=$!
	run $src ! dmabufdsink sync=false socket-path="$dir/socket" \
		consumer-socket="$dir/frames" wait-consumers=1 >>"$dir/consumer"
	wait $cons
	"$build/client/gst/dmabufd-frame-consumer" --socket "$dir/frames" --quiet >/dev/null &
	cons=$!
	run $src ! dmabufdsink sync=false socket-path="$dir/socket" \
		consumer-socket="$dir/frames" wait-consumers=1 >>"$dir/checksum"
	wait $cons
done

fps() { median <"$1" | awk -v f=$frames '{ printf "%.1f", f / $1 }'; }
fake=$(fps "$dir/fake")
fakenl=$(fps "$dir/fakenl")
dbd=$(fps "$dir/dmabufd")
con=$(fps "$dir/consumer")
sum=$(fps "$dir/checksum")
echo "videotestsrc pattern=$pattern, $frames frames 1920x1080 NV12, median of $reps runs"
ratio() { echo "$1 $2" | awk '{ printf "%.2f", $1 / $2 }'; }
echo "fakesink (default allocation):            $fake fps"
echo "fakesink enable-last-sample=false:        $fakenl fps"
echo "dmabufdsink (dmabufd pool):               $dbd fps  ratio $(ratio "$dbd" "$fake") (vs fakesink), $(ratio "$dbd" "$fakenl") (vs fakesink enable-last-sample=false)"
echo "dmabufdsink + consumer (map, release):    $con fps  ratio $(ratio "$con" "$fake"), $(ratio "$con" "$fakenl")"
echo "dmabufdsink + consumer (map, checksum):   $sum fps  ratio $(ratio "$sum" "$fake"), $(ratio "$sum" "$fakenl")"
