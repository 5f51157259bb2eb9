#!/bin/sh
# The main job on the embedded default backend: install dependencies, build,
# start dmabufd (memfd backend) on a socket in a temporary directory, run
# the media-pipeline producer demo against it, stop the daemon.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target dmabufd dmabufctl

dir=$(mktemp -d /tmp/dmabufd-demo.XXXXXX)
sock="$dir/socket"
build/daemon/dmabufd --backend memfd --socket "$sock" &
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
build/client/dmabufctl --socket "$sock" demo "$@"
build/client/dmabufctl --socket "$sock" stats
