#!/bin/sh
# The kmod pool benchmark in the QEMU VM of run-vm.sh (docs/PERFORMANCE.md,
# "Contiguous allocations in the VM"): in one boot, for each size, the same
# contiguous allocation by
#   (a) dmabufd --backend kmod with a warm pool (--pool-budget 4 x size),
#   (b) dmabufd --backend kmod without a pool,
#   (c) the naive kernel path of a driver (tests/vm/naive/dmabufd_naive.ko:
#       alloc_contig_range + clear_page + flush + set_memory_wc),
#   (d) udmabuf from a memfd, (e) the dma-heap system heap;
# then (a), (b) and (c) at 8 MiB with the region fragmented by live pinned
# buffers, (b) and (c) with the region 90% lent to page cache (topped up before
# every allocation; (b) placed by claim cost and by policy alone, the three
# interleaved), and a 4K NV12 ring of 8 buffers at a frame rate (60 Hz scaled to TCG) through the
# pool, quiet and under a page-cache churn; and a randomized run of mixed
# attributes through the pool with the PFN audit every 100 operations
# (kpool-bench random); and the udmabuf backend with and without its
# pool. Every run prints one JSON line
# (tests/vm/kpool-bench.c); this script prints them and the ratios (jq).
# Under TCG absolute times mean nothing for hardware: read the ratios.
#
# Usage: tests/vm/kpool-bench-vm.sh [--build DIR] [--work DIR]
#                                   [--sizes "65536 ..."] [--n N]
#                                   [--ring-seconds S] [--ring-hz HZ] [--attr wc|uc|cached]
#                                   [--random-ops N] [--only-lent]
#   --build DIR  configured build tree with dmabufd and kpool-bench built
#                (default build)
#   --work DIR   run-vm.sh work directory (default DIR/vm-kpool-bench)
#   --sizes      bytes (default 64 KiB, 1 MiB, 8 MiB, 12,441,600 (4K NV12),
#                64 MiB)
#   --n N        allocations per run (default 20; 64 MiB runs use N/2)
#   --ring-seconds S  each phase of the ring (default 60)
#   --ring-hz HZ      the ring's frame rate (default 2: 60 Hz scaled to TCG,
#                     whose naive 8 MiB path is ~30x slower than hardware's)
#   --random-ops N    operations of the randomized audit run (default 2000)
#   --only-lent       only the 90%-lent comparison at 8 and 64 MiB: (b) with
#                     placement by claim cost, (b) by the allocator's policy
#                     alone (the module's occupancy=0, as an older module),
#                     (c); each (b) with the module's claim/zero/attribute
#                     split of its EXPORTs (kpool-bench's JSON)
# Needs what run-vm.sh needs (export DMABUFD_VMCACHE to reuse cached
# kernels) and jq. Results: WORK/kpool-bench.jsonl and the table printed.
# Exit: 0 every run succeeded, 1 otherwise, 77 no QEMU.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build="$src/build" work="" n=20 ring_seconds=60 ring_hz=2 attr=wc random_ops=2000 only_lent=0
sizes="65536 1048576 8388608 12441600 67108864"
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--sizes) sizes=$2; shift 2 ;;
	--n) n=$2; shift 2 ;;
	--ring-seconds) ring_seconds=$2; shift 2 ;;
	--ring-hz) ring_hz=$2; shift 2 ;;
	--attr) attr=$2; shift 2 ;;
	--random-ops) random_ops=$2; shift 2 ;;
	--only-lent) only_lent=1; shift ;;
	*) echo "kpool-bench-vm: unknown argument $1" >&2; exit 1 ;;
	esac
done
[ -n "$work" ] || work="$build/vm-kpool-bench"
mkdir -p "$work"
work=$(cd "$work" && pwd)
cache="${DMABUFD_VMCACHE:-$src/.vmcache}"
command -v jq >/dev/null || { echo "kpool-bench-vm: jq missing" >&2; exit 1; }
cmake --build "$build" -j2 --target dmabufd dmabufd-vm-kpool-bench >/dev/null

# The naive-path module, against the kernel the VM boots.
DMABUFD_VM_SERIES=6.12 sh "$src/tests/vm/fetch-kernels.sh" "$cache" >/dev/null
nb="$work/naive"
rm -rf "$nb" && mkdir -p "$nb"
cp "$src/tests/vm/naive/Kbuild" "$src/tests/vm/naive/dmabufd_naive.c" \
	"$src/tests/vm/naive/dmabufd_naive.h" "$nb/"
make -C "$(cat "$cache/k-6.12/KDIR")" M="$nb" CONFIG_DEBUG_INFO_BTF_MODULES= \
	KCFLAGS=-Werror modules >"$nb/build.log" 2>&1 || { cat "$nb/build.log"; exit 1; }
chmod +x "$nb/dmabufd_naive.ko" # run-vm.sh --extra copies executables

inner="$work/kpool-bench-inner.sh"
cat >"$inner" <<EOF
#!/bin/sh
sizes="$sizes" n=$n ring_seconds=$ring_seconds ring_hz=$ring_hz attr=$attr random_ops=$random_ops
only_lent=$only_lent
EOF
cat >>"$inner" <<'EOF'
B=/bin/kpool-bench D=/bin/dmabufd
export DMABUFD_SOCKET=/tmp/kpool.sock
fail=0
out() { sed 's/^/KPOOL /'; }
start_daemon() { # BUDGET [DAEMON ARGS...]
	rm -f "$DMABUFD_SOCKET"
	b=$1; shift
	$D --backend kmod --socket "$DMABUFD_SOCKET" --pool-budget "$b" "$@" >>/tmp/dmabufd.log 2>&1 &
	DPID=$!
	i=0; while [ ! -S "$DMABUFD_SOCKET" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
	[ -S "$DMABUFD_SOCKET" ] || { echo "daemon did not start" | out; fail=1; }
}
start_daemon_udmabuf() { # BUDGET
	rm -f "$DMABUFD_SOCKET"
	$D --backend udmabuf --socket "$DMABUFD_SOCKET" --pool-budget "$1" >>/tmp/dmabufd.log 2>&1 &
	DPID=$!
	i=0; while [ ! -S "$DMABUFD_SOCKET" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
	[ -S "$DMABUFD_SOCKET" ] || { echo "daemon did not start" | out; fail=1; }
}
stop_daemon() { kill $DPID; wait $DPID || { echo "dmabufd exit $?" | out; fail=1; }; }
bench() { # ARGS... : one JSON line, tagged with the region state
	state=$1; shift
	$B "$@" >/tmp/kb.out 2>/tmp/kb.err || { fail=1; sed 's/^/# /' /tmp/kb.err | out; }
	sed "s/^{/{\"state\":\"$state\",/" /tmp/kb.out | out
}
echo "# kernel $(uname -r), $(nproc) CPUs, $(grep MemTotal /proc/meminfo)" | out
insmod /bin/dmabufd_naive.ko || { echo "# naive module not loaded" | out; fail=1; }
# Region 90% lent to page cache, pool empty: rounds of (b) placed by claim
# cost, (b) by the policy alone (OCCUPANCY off, as an older module) and (c),
# interleaved (kpool-bench lent-ab).
lent90() {
	for s in 8388608 67108864; do
		nn=$n; [ "$s" -ge 67108864 ] && nn=$(( n / 2 ))
		start_daemon 0 -v
		bench lent90 lent-ab --size $s --n $nn --attr $attr --lent 90
		stop_daemon
		$B unfill
	done
	grep -E "claim cost" /tmp/dmabufd.log | sed 's/^/# /' | out
}
if [ "$only_lent" = 1 ]; then
	lent90
	dmesg | grep -E "dmabufd|BUG|WARNING" | tail -8 | sed 's/^/# /' | out
	exit $fail
fi
for s in $sizes; do
	nn=$n; [ "$s" -ge 67108864 ] && nn=$(( n / 2 ))
	start_daemon $(( 4 * s ))
	bench empty run brokered --size $s --n $nn --attr $attr --warm --check-zero
	stop_daemon
	start_daemon 0
	bench empty run brokered --size $s --n $nn --attr $attr
	stop_daemon
	bench empty run naive --size $s --n $nn --attr $attr
	bench empty run udmabuf --size $s --n $nn
	bench empty run heap --size $s --n $nn
done
# 8 MiB in a region fragmented by live pinned buffers: a holder keeps 128
# of 256 1 MiB buffers (every other one; the top two thirds of the region).
hold_start() {
	$B hold --size 1048576 --n 256 >/tmp/hold.out 2>/tmp/hold.err & HPID=$!
	i=0; while ! grep -q ready /tmp/hold.out && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
	grep -q ready /tmp/hold.out || { echo "# holder not ready: $(cat /tmp/hold.err)" | out; fail=1; }
}
hold_stop() { kill $HPID; wait $HPID || fail=1; }
start_daemon $(( 4 * 8388608 ))
hold_start
bench fragmented run brokered --size 8388608 --n $n --attr $attr --warm --check-zero
hold_stop
stop_daemon
start_daemon 0
hold_start
bench fragmented run brokered --size 8388608 --n $n --attr $attr
bench fragmented run naive --size 8388608 --n $n --attr $attr
hold_stop
stop_daemon
# The udmabuf backend with and without its pool (cached, not contiguous).
for s in 1048576 8388608; do
	for budget in $(( 4 * s )) 0; do
		start_daemon_udmabuf $budget
		warm=""; [ $budget -gt 0 ] && warm="--warm --check-zero"
		bench udmabuf-backend run brokered --size $s --n $n --attr cached --noncontig $warm
		stop_daemon
	done
done
# The PFN audit over pooled, live and free ranges while the pool refills.
start_daemon 32M
bench random random --n $random_ops
stop_daemon
lent90
# 4K NV12 ring of 8 at the scaled frame rate through the pool, then under a page-cache churn.
start_daemon $(( 4 * 12441600 ))
bench ring ring --size 12441600 --attr $attr --ring 8 --hz $ring_hz --seconds $ring_seconds --churn 64
stop_daemon
grep -E "pool of|pressure" /tmp/dmabufd.log | tail -5 | sed 's/^/# /' | out
dmesg | grep -E "dmabufd_naive|BUG|WARNING" | tail -5 | sed 's/^/# /' | out
exit $fail
EOF
chmod +x "$inner"

# 2 GiB guest (a 64 MiB ring phase, page cache for the lent region); the
# region is run-vm.sh's movablecore=384M.
sed "s/^mem=1024 /mem=2048 /" "$src/tests/vm/run-vm.sh" >"$work/run-vm.sh"
set +e
sh "$work/run-vm.sh" --src "$src" --work "$work" --series 6.12 --timeout 3000 \
	--extra "$build/daemon/dmabufd" --extra "$build/tests/vm/kpool-bench" \
	--extra "$nb/dmabufd_naive.ko" --extra "$inner" \
	--extra-test "/bin/kpool-bench-inner.sh" >"$work/run-vm.log" 2>&1
rc=$?
set -e
sed -n "s/^DMABUFD-VM: # KPOOL //p" "$work/console.log" >"$work/kpool-bench.txt"
grep '^{' "$work/kpool-bench.txt" >"$work/kpool-bench.jsonl" || true
grep '^#' "$work/kpool-bench.txt" || true
# The table: p50 (µs) per variant, and the ratios the pool is judged by.
jq -rs '
  def r3: . * 1000 | round / 1000;
  (map(select(.variant == "brokered" and .warm)) | map(.variant = "brokered-warm")) as $warm
  | (. + $warm) as $all
  | (["state", "size", "a warm", "b no pool", "c naive", "d udmabuf", "e heap", "a/c", "a/d",
      "b/c", "a hits", "a zero", "c claim/zero/attr"] | @tsv),
    ($all | map(select(.state == "empty" and .variant == "brokered" and (.warm | not)))[] as $b
     | ($all | map(select(.state == "empty" and .size == $b.size))) as $r
     | ($r | map(select(.variant == "brokered-warm"))[0]) as $a
     | ($r | map(select(.variant == "naive"))[0]) as $c
     | ($r | map(select(.variant == "udmabuf"))[0]) as $d
     | ($r | map(select(.variant == "heap"))[0]) as $e
     | ["empty", $b.size, $a.p50_us, $b.p50_us, $c.p50_us, $d.p50_us, $e.p50_us,
        (if $a and $c then $a.p50_us / $c.p50_us | r3 else null end),
        (if $a and $d then $a.p50_us / $d.p50_us | r3 else null end),
        (if $c then $b.p50_us / $c.p50_us | r3 else null end),
        (if $a then "\($a.pool_hits)/\($a.n)" else null end),
        (if $a then ($a.nonzero == 0) else null end),
        (if $c then "\($c.claim_p50_us)/\($c.zero_p50_us)/\($c.attr_p50_us)" else null end)]
       | @tsv),
    ($all | map(select(.state == "fragmented" and .variant == "brokered" and (.warm | not)))[] as $b
     | ($all | map(select(.state == "fragmented" and .size == $b.size))) as $r
     | ($r | map(select(.variant == "brokered-warm"))[0]) as $a
     | ($r | map(select(.variant == "naive"))[0]) as $c
     | ["fragmented", $b.size, $a.p50_us, $b.p50_us, $c.p50_us, null, null,
        (if $a and $c then $a.p50_us / $c.p50_us | r3 else null end), null,
        (if $c then $b.p50_us / $c.p50_us | r3 else null end),
        (if $a then "\($a.pool_hits)/\($a.n)" else null end),
        (if $a then ($a.nonzero == 0) else null end),
        (if $c then "\($c.claim_p50_us)/\($c.zero_p50_us)/\($c.attr_p50_us)" else null end)]
       | @tsv),
    ($all | map(select(.state == "lent90" and .variant == "brokered-cost"))[] as $b
     | ($all | map(select(.state == "lent90" and .size == $b.size)) | INDEX(.variant)) as $r
     | "lent90 \($b.size) bytes, p50/p99 us, claim/zero/attribute p50 us:" +
       ([$r["brokered-cost"], $r["brokered-policy"], $r["naive"]] | map(select(.)
        | "\n  \(.variant): \(.p50_us) / \(.p99_us) (\(.ok)/\(.n) ok; \(.claim_p50_us)/\(.zero_p50_us)/\(.attr_p50_us); \(.refused) refused, \(.claim_attempts) claim attempts)") | join(""))
       + "\n  b/c: by cost \($r["brokered-cost"].p50_us / $r["naive"].p50_us | r3), by policy \($r["brokered-policy"].p50_us / $r["naive"].p50_us | r3)"),
    ($all[] | select(.state == "udmabuf-backend" and .variant == "brokered")
     | "udmabuf backend \(.size) bytes, pool \(if .warm then "warm" else "none" end): p50 \(.p50_us) us, p99 \(.p99_us) us, hits \(.pool_hits)/\(.n), zero \(.nonzero == 0)"),
    ($all[] | select(.variant == "random")
     | "random: \(.ops) operations, \(.allocs) allocations (\(.failed) failed), \(.audits) audits, \(.bad_audits) bad, \(.nonzero) nonzero buffers, pool hits \(.pool_hits) misses \(.pool_misses)"),
    ($all[] | select(.variant == "ring")
     | "ring at \(.hz) Hz: \(.quiet_n) quiet allocations p50 \(.quiet_p50_us) us; \(.churn_n) under churn (\(.churn_failed) failed) p50 \(.churn_p50_us) p99 \(.churn_p99_us) max \(.churn_max_us) us = \(.churn_max_us / .quiet_p50_us | r3) x the quiet p50; over one frame (\(.frame_us) us): \(.churn_over_frame); pool hits \(.pool_hits) misses \(.pool_misses); steady frames (from frame 2 x ring): quiet \(.quiet_steady_hits)/\(.quiet_steady_n) hits, \(.quiet_steady_transitions) transitions, churn \(.churn_steady_hits)/\(.churn_steady_n) hits, \(.churn_steady_transitions) transitions")
' "$work/kpool-bench.jsonl" | tee "$work/kpool-bench.tsv"
tail -n 3 "$work/run-vm.log"
echo "kpool-bench-vm: JSON in $work/kpool-bench.jsonl, console in $work/console.log"
exit $rc
