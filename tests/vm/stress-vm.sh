#!/bin/sh
# In-VM stress run of dmabufd --backend kmod (64 clients, some SIGKILLed).
# Runs as an extra VM test (tests/vm/CMakeLists.txt, test vm-stress):
# /dev/dmabufd-region is present. dmabufd-stress (tests/stress/stress.c)
# starts /bin/dmabufd --backend kmod itself, forks the clients, SIGKILLs
# some, and checks at the end that the daemon is alive and serving, its fd
# count is back to the baseline, the region's free pages equal its size, no
# token, import or accounting row is left, and no content was corrupted.
#
# Usage: stress-vm.sh [CLIENTS] [SECONDS] [SEED]   (default 64 60 20261122)
# Exit: dmabufd-stress's status (0 every end check passed); 77 without the
# module's device.
clients=${1:-64} secs=${2:-60} seed=${3:-20261122}
[ -c /dev/dmabufd-region ] || { echo "no /dev/dmabufd-region"; exit 77; }
free -m 2>/dev/null | head -2
t0=$(date +%s)
/bin/dmabufd-stress --clients "$clients" --duration "$secs" --seed "$seed" \
	--backend kmod --daemon /bin/dmabufd
rc=$?
echo "stress-vm: dmabufd-stress exit $rc after $(( $(date +%s) - t0 )) s"
grep -E "MemFree|MemAvailable" /proc/meminfo
exit $rc
