#!/bin/sh
# The X server as a dmabufd user: a real, unmodified Xvfb on a private
# display maps dmabufd framebuffers sent with MIT-SHM 1.2 fd passing
# (ShmAttachFd). dmabufd-x11-demo draws an animated test pattern into the
# buffer through its own mapping and the server presents it from the same
# memory (ShmPutImage, then SHM pixmap + CopyArea). Halfway through, xwd
# takes a screenshot of the server's screen, which is converted to PNG
# (netpbm) and checked pixel by pixel against the pattern's colour bars.
#
# Usage: scripts/x11-demo.sh [--socket PATH] [--build DIR] [--seconds S]
#                            [--screenshot FILE.png]
#   --socket PATH   use the dmabufd already serving PATH (scripts/demo.sh);
#                   default: start one (memfd backend) in a temporary directory
#   --build DIR     use the programs already built in DIR (scripts/demo.sh:
#                   build-demo, which has no tests); default: install --x11,
#                   configure and build them in build
#   --seconds S     how long the demo runs (default 4)
#   --screenshot F  keep the PNG screenshot as F
# The memfd backend has only cached memory: the demo asks for write-combine
# and is told to fall back to cached (--fallback-cached), which it reports.
# Exit: 0 when the screenshot shows the pattern, both presentation modes ran,
# and the daemon holds none of the demo's buffers afterwards.
set -eu
cd "$(dirname "$0")/.."

sock=""
build=""
seconds=4
keep=""
while [ $# -gt 0 ]; do
	case "$1" in
	--socket) sock=${2:?}; shift 2 ;;
	--build) build=${2:?}; shift 2 ;;
	--seconds) seconds=${2:?}; shift 2 ;;
	--screenshot) keep=${2:?}; shift 2 ;;
	*) echo "usage: $0 [--socket PATH] [--build DIR] [--seconds S] [--screenshot FILE.png]" >&2; exit 2 ;;
	esac
done

if [ -z "$build" ]; then
	build=build
	scripts/install-deps.sh --x11
	cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$build" -j"$(nproc)" --target dmabufd dmabufctl dmabufd-x11-demo
fi

dir=$(mktemp -d /tmp/dmabufd-x11-demo.XXXXXX)
daemon=""
xvfb=""
demo=""
cleanup() {
	[ -n "$demo" ] && kill "$demo" 2>/dev/null && wait "$demo" 2>/dev/null
	[ -n "$xvfb" ] && kill "$xvfb" 2>/dev/null && wait "$xvfb" 2>/dev/null
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# Xvfb picks a free display number and writes it to fd 3.
Xvfb -displayfd 3 -nolisten tcp -noreset -screen 0 800x600x24 \
	3>"$dir/display" 2>"$dir/xvfb.log" &
xvfb=$!
i=0
until [ -s "$dir/display" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$xvfb" 2>/dev/null; then
		echo "x11-demo: Xvfb did not start:" >&2
		cat "$dir/xvfb.log" >&2
		exit 1
	fi
	sleep 0.1
done
display=":$(cat "$dir/display")"
echo "x11-demo: Xvfb (pid $xvfb) on display $display, -nolisten tcp"

if [ -z "$sock" ]; then
	sock="$dir/socket"
	"$build"/daemon/dmabufd --backend memfd --socket "$sock" 2>"$dir/dmabufd.log" &
	daemon=$!
	i=0
	until [ -S "$sock" ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$daemon" 2>/dev/null; then
			echo "x11-demo: dmabufd did not start" >&2
			exit 1
		fi
		sleep 0.1
	done
fi
ctl="$build/client/dmabufctl --socket $sock"

"$build"/client/x11/dmabufd-x11-demo --socket "$sock" --display "$display" \
	--seconds "$seconds" --fallback-cached --json >"$dir/demo.json" &
demo=$!

# Screenshot in the middle of the run, once the window is mapped.
i=0
until xwininfo -display "$display" -name dmabufd-x11-demo >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$demo" 2>/dev/null; then
		echo "x11-demo: the demo window did not appear" >&2
		exit 1
	fi
	sleep 0.1
done
$ctl list --json | jq -e 'map(select(.label == "x11-demo")) | length == 1' >/dev/null || {
	echo "x11-demo: dmabufctl list does not show the demo's buffer" >&2
	exit 1
}
sleep "$(echo "$seconds" | awk '{ print $1 / 2 }')"
xwd -display "$display" -root -silent >"$dir/screen.xwd"
xwdtopnm "$dir/screen.xwd" 2>/dev/null >"$dir/screen.ppm"
# The PNG shows the demo window (640x480 at the origin).
pamcut -left 0 -top 0 -width 640 -height 480 "$dir/screen.ppm" | pnmtopng >"$dir/screen.png"

wait "$demo" || { demo=""; echo "x11-demo: dmabufd-x11-demo failed" >&2; exit 1; }
demo=""

# "R G B" of pixel (x, y) of the screenshot.
pixel() {
	pamcut -left "$1" -top "$2" -width 1 -height 1 "$dir/screen.ppm" |
		pamtopnm -plain | tr -s ' \n' ' ' | awk '{ print $(NF-2), $(NF-1), $NF }'
}
# The eight bars across the 640-pixel window, rows 0..359; the window is at (0, 0).
bad=0
n=0
for bar in "0 255 255 255" "1 255 255 0" "2 0 255 255" "3 0 255 0" \
	"4 255 0 255" "5 255 0 0" "6 0 0 255" "7 0 0 0"; do
	set -- $bar
	x=$(($1 * 80 + 40))
	want="$2 $3 $4"
	for y in 10 180 350; do
		got=$(pixel "$x" "$y")
		n=$((n + 1))
		if [ "$got" != "$want" ]; then
			echo "x11-demo: pixel ($x,$y) is $got, expected $want" >&2
			bad=$((bad + 1))
		fi
	done
done
# The animated quarter: a grey ramp (R = G = B) with a white square.
ramp=$(pixel 5 370)
set -- $ramp
if [ "$1" != "$2" ] || [ "$2" != "$3" ]; then
	echo "x11-demo: pixel (5,370) is $ramp, expected grey" >&2
	bad=$((bad + 1))
fi
if [ "$bad" -ne 0 ]; then
	echo "x11-demo: screenshot check failed ($bad bad pixels)" >&2
	exit 1
fi
echo "x11-demo: screenshot: $n colour-bar pixels and the grey ramp as drawn"

jq -r '"x11-demo: backend \(.backend), asked \(.requested_attribute), got \(.attribute) (fallback \(.fallback)), \(.width)x\(.height) pitch \(.pitch)"' "$dir/demo.json"
jq -r '.modes[] | "x11-demo: \(.mode): \(.frames) frames, \(.fps | floor) fps"' "$dir/demo.json"
jq -e '[.modes[] | select(.frames > 0)] | length == 2' "$dir/demo.json" >/dev/null || {
	echo "x11-demo: a presentation mode showed no frame" >&2
	exit 1
}
left=$($ctl list --json | jq 'map(select(.label == "x11-demo")) | length')
if [ "$left" -ne 0 ]; then
	echo "x11-demo: the daemon still holds $left of the demo's buffers" >&2
	exit 1
fi
if [ -n "$keep" ]; then
	cp "$dir/screen.png" "$keep"
	echo "x11-demo: screenshot saved as $keep"
fi
echo "x11-demo: OK (the daemon holds none of the demo's buffers)"
