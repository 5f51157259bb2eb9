#!/bin/sh
# Runs inside the VM of vm_systemd.sh --debs, as a oneshot service under a
# real systemd (PID 1): installs the Debian packages with dpkg, as an
# administrator would, and checks that the packaged daemon is served by
# socket activation. Usage: vm_deb_inside.sh DEB_DIR
# Prints "VMCHECK PASS|FAIL <what>" per check and "VMTEST RESULT: PASS|FAIL".
debs=$1
sock=/run/dmabufd/socket
fails=0
check() { # check "<what>" command...
	what=$1; shift
	if "$@" >/dev/null 2>&1; then echo "VMCHECK PASS $what"; else echo "VMCHECK FAIL $what"; fails=$((fails + 1)); fi
}
prop() { systemctl show -P "$2" "$1"; }
# jq -e passes on empty input: an empty file must fail.
json() { [ -s "$1" ] && jq -e "$2" "$1"; }
wait_for() { # wait_for SECONDS command...
	n=$1; shift
	while [ "$n" -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 1; n=$((n - 1)); done
	return 1
}

echo "VMINFO systemd $(systemctl --version | head -1)"
# The VM's root is the host's: a container's policy-rc.d (exit 101) would
# keep postinst from starting the socket, and a `cmake --install` under
# /usr/local on the host would shadow the packaged units and snippets.
rm -f /usr/sbin/policy-rc.d
for f in /usr/local/lib/systemd/system/dmabufd.service /usr/local/lib/systemd/system/dmabufd.socket \
	/usr/local/lib/sysusers.d/dmabufd.conf /usr/local/lib/tmpfiles.d/dmabufd.conf \
	/usr/local/lib/udev/rules.d/70-dmabufd.rules /usr/local/bin/dmabufd /usr/local/bin/dmabufctl \
	/usr/local/etc/dmabufd/dmabufd.conf; do
	[ ! -e "$f" ] || { echo "VMINFO removed the host's $f"; rm -f "$f"; }
done
systemctl daemon-reload
export DEBIAN_FRONTEND=noninteractive
echo "VMINFO packages: $(cd "$debs" && echo *.deb)"
check "not installed before" sh -c '! dpkg-query -W -f="\${Status}" dmabufd 2>/dev/null | grep -q "ok installed"'
check "no dmabufd binary before" test ! -e /usr/bin/dmabufd
# man-db's trigger would index every manual page over 9p under TCG.
rm -f /var/lib/man-db/auto-update
dpkg -i "$debs"/*.deb >/tmp/dpkg.out 2>&1
rc=$?
sed 's/^/VMINFO dpkg: /' /tmp/dpkg.out
check "dpkg -i installs every package" test "$rc" -eq 0
for p in $(cd "$debs" && ls *.deb | sed 's/_.*//'); do
	check "$p installed" sh -c "dpkg-query -W -f='\${Status}' $p | grep -q 'ok installed'"
done
check "conffile /etc/dmabufd/dmabufd.conf" sh -c "dpkg-query -W -f='\${Conffiles}' dmabufd | grep -q /etc/dmabufd/dmabufd.conf"
check "postinst: sysusers created group dmabuf" getent group dmabuf
check "postinst: sysusers created user dmabufd" getent passwd dmabufd
check "postinst: socket enabled" test "$(systemctl is-enabled dmabufd.socket)" = enabled
check "postinst: socket started" test "$(prop dmabufd.socket ActiveState)" = active
check "postinst: service not started" test "$(prop dmabufd.service ActiveState)" = inactive
check "units from /lib/systemd/system" test "$(prop dmabufd.service FragmentPath)" = /lib/systemd/system/dmabufd.service
check "units verify" systemd-analyze verify dmabufd.socket dmabufd.service

# The daemon reads the packaged conffile: a capacity set there shows in Stats.
sed -i -e 's/^#backend =.*/backend = memfd/' -e 's/^#capacity = .*/capacity = 64M/' /etc/dmabufd/dmabufd.conf
systemctl start dmabufd.socket
check "socket listening" systemctl is-active dmabufd.socket
check "socket is root:dmabuf 0660" test "$(stat -c %U:%G:%a $sock)" = root:dmabuf:660
/usr/bin/dmabufctl --socket "$sock" stats --json >/tmp/stats.json 2>/tmp/stats.err
rc=$?
echo "VMINFO dmabufctl stats --json exit $rc: $(tr -d '\n ' </tmp/stats.json | cut -c1-200) $(cat /tmp/stats.err)"
check "dmabufctl stats --json served" test "$rc" -eq 0
check "stats: one client" json /tmp/stats.json '.clients == 1'
check "first connection started the service" test "$(prop dmabufd.service ActiveState)" = active
pid=$(prop dmabufd.service MainPID)
check "served by the packaged /usr/bin/dmabufd" test "$(readlink /proc/"$pid"/exe)" = /usr/bin/dmabufd
check "daemon runs as dmabufd" test "$(ps -o user= -p "$pid")" = dmabufd
check "daemon read /etc/dmabufd/dmabufd.conf (memfd, 64M)" json /tmp/stats.json '.backend == "memfd" and .capacity == 67108864'
/usr/bin/dmabufctl --socket "$sock" --json alloc 1M --label deb-vm >/tmp/alloc.json 2>&1
check "dmabufctl alloc 1M" json /tmp/alloc.json '.size == 1048576 and .label == "deb-vm"'
check "gst plugin in GStreamer's plugin dir" test -f /usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstdmabufd.so

# Removal: prerm stops the units, purge removes the configuration.
dpkg --purge dmabufd >/tmp/purge.out 2>&1
rc=$?
sed 's/^/VMINFO purge: /' /tmp/purge.out
check "dpkg --purge dmabufd" test "$rc" -eq 0
check "purge: socket stopped" wait_for 10 sh -c "! systemctl is-active dmabufd.socket"
check "purge: socket removed" test ! -e "$sock"
check "purge: conffile removed" test ! -e /etc/dmabufd/dmabufd.conf
journalctl -q -u dmabufd --no-pager | tail -15 | sed 's/^/VMJOURNAL /'
if [ "$fails" -eq 0 ]; then echo "VMTEST RESULT: PASS"; else echo "VMTEST RESULT: FAIL ($fails)"; fi
