#!/bin/sh
# The benchmark of docs/PERFORMANCE.md: build (release flags), run
# dmabufd-bench, write build-bench/bench.txt (table) and bench.json.
# Usage: scripts/bench.sh [dmabufd-bench options...]
#   e.g. scripts/bench.sh --repeat 5
#        scripts/bench.sh --populate            (direct/floor with MAP_POPULATE)
#        scripts/bench.sh --clients 64 --wait-split --server-fifo 1
#        scripts/bench.sh --memory 18000 --memory-only
#        scripts/bench.sh --direct dma-heap:/dev/dma_heap/system  (in the VM)
# In the VM (dma-heap, udmabuf, kmod, 100,000 live buffers): tests/vm/bench-vm.sh.
# Also built: build-bench/tests/bench/map_faults (mmap + first touch by method).
# Run as root: the daemon and the floor server run at nice -10 (and
# SCHED_FIFO with --server-fifo), and the memory measurement raises
# RLIMIT_NOFILE (needs CAP_SYS_RESOURCE).
set -eu
cd "$(dirname "$0")/.."
build=build-bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDMABUFD_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target dmabufd-bench dmabufd map_faults >/dev/null
"$build/tests/bench/dmabufd-bench" --json "$build/bench.json" "$@" | tee "$build/bench.txt"
echo "results: $build/bench.txt $build/bench.json"
