#!/bin/sh
# Runs inside the VM of vm_systemd.sh, as a oneshot service under a real
# systemd (PID 1). Usage: vm_inside.sh VM_CLIENT
# Prints "VMCHECK PASS|FAIL <what>" per check and "VMTEST RESULT: PASS|FAIL".
client=$1
sock=/run/dmabufd/socket
fails=0
check() { # check "<what>" command...
	what=$1; shift
	if "$@" >/dev/null 2>&1; then echo "VMCHECK PASS $what"; else echo "VMCHECK FAIL $what"; fails=$((fails + 1)); fi
}
prop() { systemctl show -P "$2" "$1"; }
wait_for() { # wait_for SECONDS command...
	n=$1; shift
	while [ "$n" -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 1; n=$((n - 1)); done
	return 1
}
stats() { "$client" stats "$sock"; }
has() { case "$1" in *"$2"*) return 0;; esac; return 1; }

echo "VMINFO systemd $(systemctl --version | head -1)"
check "sysusers created group dmabuf" getent group dmabuf
check "sysusers created user dmabufd" getent passwd dmabufd
check "tmpfiles snippet applies" systemd-tmpfiles --create dmabufd.conf
check "units verify" systemd-analyze verify dmabufd.socket dmabufd.service
systemctl start dmabufd.socket
check "socket listening" systemctl is-active dmabufd.socket
check "/run/dmabufd exists" test -d /run/dmabufd
check "socket is root:dmabuf 0660" test "$(stat -c %U:%G:%a $sock)" = root:dmabuf:660
check "service not started before a connection" test "$(prop dmabufd.service ActiveState)" = inactive

"$client" hold "$sock" 65536 >/tmp/hold.out 2>&1 &
holder=$!
wait_for 10 grep -q held /tmp/hold.out
check "first connection started the service" test "$(prop dmabufd.service ActiveState)" = active
pid1=$(prop dmabufd.service MainPID)
check "daemon runs as dmabufd" test "$(ps -o user= -p "$pid1")" = dmabufd
check "daemon has no capabilities" grep -q "CapEff:.*0000000000000000" /proc/"$pid1"/status
status=$(prop dmabufd.service StatusText)
echo "VMINFO status: $status"
check "STATUS= shows the buffer" has "$status" "1 buffers (0 orphaned), 65536/"
echo "VMINFO fdstore: $(prop dmabufd.service NFileDescriptorStore)"
check "fd store holds state + buffer" test "$(prop dmabufd.service NFileDescriptorStore)" = 2
before=$(stats)
echo "VMINFO before restart: $before"

systemctl restart dmabufd.service
check "restart: active again" wait_for 10 test "$(prop dmabufd.service ActiveState)" = active
pid2=$(prop dmabufd.service MainPID)
check "restart: new process" test "$pid1" != "$pid2"
after=$(stats)
echo "VMINFO after restart: $after"
check "restart: accounting kept (orphaned)" has "$after" "used=65536 buffers=1 orphaned=1"
check "restart: fd store still 2" test "$(prop dmabufd.service NFileDescriptorStore)" = 2
check "journal has BUFFER_ID=1 (restore)" sh -c "journalctl -q -u dmabufd BUFFER_ID=1 | grep -q restored"

kill -USR1 $holder
wait_for 10 grep -q claimed /tmp/hold.out
echo "VMINFO holder: $(tail -1 /tmp/hold.out)"
check "owner reconnected, claimed, contents intact" grep -q "claimed ok used=65536 buffers=1 orphaned=0" /tmp/hold.out

systemctl reload dmabufd.service
check "reload: still active" test "$(prop dmabufd.service ActiveState)" = active
check "journal shows the reload" wait_for 5 sh -c "journalctl -q -u dmabufd | grep -q 'reloading the configuration'"

# Watchdog: a stopped daemon misses WATCHDOG=1; systemd restarts it (WatchdogSec=10s).
kill -STOP "$pid2"
check "watchdog: restarted" wait_for 40 sh -c "[ \"\$(systemctl show -P MainPID dmabufd.service)\" != $pid2 ] && [ \"\$(systemctl show -P ActiveState dmabufd.service)\" = active ]"
echo "VMINFO NRestarts=$(prop dmabufd.service NRestarts)"
check "watchdog: buffer survived" has "$(stats)" "used=65536 buffers=1"

kill -TERM $holder
wait $holder
check "owner exit released the orphan" wait_for 10 sh -c "$client stats $sock | grep -q 'used=0 buffers=0'"
check "fd store back to the state only" wait_for 5 test "$(prop dmabufd.service NFileDescriptorStore)" = 1
echo "VMINFO $(systemd-analyze security dmabufd.service 2>/dev/null | tail -1)"

systemctl stop dmabufd.service dmabufd.socket
check "stop: socket removed" test ! -e "$sock"
journalctl -q -u dmabufd --no-pager | tail -25 | sed 's/^/VMJOURNAL /'
if [ "$fails" -eq 0 ]; then echo "VMTEST RESULT: PASS"; else echo "VMTEST RESULT: FAIL ($fails)"; fi
