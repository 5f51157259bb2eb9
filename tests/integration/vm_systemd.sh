#!/bin/sh
# VM test with a real systemd as PID 1 (docs/SYSTEMD.md).
# Usage: vm_systemd.sh BUILD_DIR VM_CLIENT
#        vm_systemd.sh --debs DEB_DIR BUILD_DIR
#
# Boots Debian's kernel in QEMU/KVM with this machine's root file system
# (9p, read-only) under a tmpfs overlay, installs the staged
# `cmake --install` tree (units, sysusers, tmpfiles, udev rule, binary) into
# the overlay and starts systemd with systemd.unit=dmabufd-vmtest.service,
# which runs vm_inside.sh: socket activation, User=, STATUS=, fd store,
# `systemctl restart` without loss, claim by the owner, reload, watchdog
# restart, orphan release, journal fields. Output on the serial console.
#
# With --debs, nothing is staged from the build: the Debian packages in
# DEB_DIR (dpkg-buildpackage's output; the "deb" test leaves them in
# BUILD_DIR/deb) travel into the VM and vm_deb_inside.sh installs them with
# dpkg under systemd, starts dmabufd.socket and asks the packaged daemon for
# its stats; then purges. Exits 77 when DEB_DIR holds no dmabufd_*.deb.
#
# The kernel: $DMABUFD_VM_KERNEL_DEB (a linux-image-*.deb), else one cached
# in BUILD_DIR/vmcache or $DMABUFD_VMCACHE/apt/debs (tests/vm's download
# cache), else, with DMABUFD_VM_FETCH=1, `apt-get download
# linux-image-<version>-amd64`. Exits 77 when there is no kernel, no KVM, no
# QEMU, no static busybox, or no privilege to run it.
set -eu
skip() { echo "SKIP: $*"; exit 77; }
debdir=
if [ "${1:-}" = --debs ]; then
	debdir=$2
	shift 2
	ls "$debdir"/dmabufd_*.deb >/dev/null 2>&1 || skip "no dmabufd_*.deb in $debdir (run the deb test first)"
	debdir=$(cd "$debdir" && pwd)
	build=$(cd "$1" && pwd) client=
else
	build=$(cd "$1" && pwd) client=$2
fi
here=$(cd "$(dirname "$0")" && pwd)
cache=$build/vmcache
# The kernel is shared; the initramfs, stage and log are per mode.
run=$cache
[ -z "$debdir" ] || run=$cache/deb

command -v qemu-system-x86_64 >/dev/null 2>&1 || skip "qemu-system-x86_64 missing"
[ -x /bin/busybox ] || skip "busybox missing (busybox-static)"
[ "$(id -u)" -eq 0 ] || skip "needs root (9p export of /)"
mkdir -p "$cache" "$run"

deb=${DMABUFD_VM_KERNEL_DEB:-}
[ -n "$deb" ] || deb=$(ls "$cache"/linux-image-*.deb 2>/dev/null | head -1 || true)
[ -n "$deb" ] || [ -z "${DMABUFD_VMCACHE:-}" ] ||
	deb=$(ls "$DMABUFD_VMCACHE"/apt/debs/linux-image-*.deb 2>/dev/null | sort -V | head -1 || true)
if [ -z "$deb" ] && [ "${DMABUFD_VM_FETCH:-0}" = 1 ]; then
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -1)
	[ -n "$pkg" ] && (cd "$cache" && apt-get download "$pkg" >/dev/null 2>&1) || true
	deb=$(ls "$cache"/linux-image-*.deb 2>/dev/null | head -1 || true)
fi
[ -n "$deb" ] || skip "no kernel (set DMABUFD_VM_KERNEL_DEB or DMABUFD_VM_FETCH=1)"

# Kernel and the modules the initramfs needs (virtio-pci, 9p, overlayfs).
kroot=$cache/kroot
if [ ! -d "$kroot/boot" ]; then
	rm -rf "$kroot"
	dpkg-deb -x "$deb" "$kroot"
fi
kver=$(ls "$kroot/lib/modules" | head -1)
kernel=$kroot/boot/vmlinuz-$kver
[ -f "$kroot/lib/modules/$kver/modules.dep" ] || depmod -b "$kroot" "$kver"

initrd=$run/initrd
rm -rf "$initrd" && mkdir -p "$initrd/bin" "$initrd/mod"
cp /bin/busybox "$initrd/bin/busybox"
for m in virtio_pci 9pnet_virtio 9p overlay; do
	modprobe -d "$kroot" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' >"$initrd/mod/order.abs"
: >"$initrd/mod/order"
while read -r ko; do
	cp "$ko" "$initrd/mod/"
	basename "$ko" >>"$initrd/mod/order"
done <"$initrd/mod/order.abs"
rm "$initrd/mod/order.abs"

# The staged install that the VM copies over its root.
stage=$run/stage
rm -rf "$stage"
# The test's own files travel in the stage too: the build and source trees
# may lie under /tmp, which the VM covers with a tmpfs.
vmtest=/usr/local/libexec/dmabufd-vmtest
mkdir -p "$stage$vmtest"
if [ -n "$debdir" ]; then
	# Only the packages: the build's own install would shadow them in /usr/local.
	mkdir -p "$stage$vmtest/debs"
	for d in "$debdir"/*.deb; do
		case "$d" in *-dbgsym_*) continue ;; esac
		cp "$d" "$stage$vmtest/debs/"
	done
	cp "$here/vm_deb_inside.sh" "$stage$vmtest/"
	inside="$vmtest/vm_deb_inside.sh $vmtest/debs"
	# dpkg reads its whole database over 9p: about 3 minutes under TCG.
	timeout_start=540
else
	DESTDIR=$stage cmake --install "$build" >/dev/null
	cp "$here/vm_inside.sh" "$client" "$stage$vmtest/"
	inside="$vmtest/vm_inside.sh $vmtest/$(basename "$client")"
	timeout_start=400
fi

cat >"$initrd/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc 2>/dev/null || { mkdir -p /proc && mount -t proc proc /proc; }
mkdir -p /sys /dev /lower /upper /newroot
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in \$(cat /mod/order); do insmod /mod/\$m; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose hostroot /lower || { echo "VMTEST RESULT: FAIL (9p)"; poweroff -f; }
mount -t tmpfs -o mode=0755 tmpfs /upper
mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot || { echo "VMTEST RESULT: FAIL (overlay)"; poweroff -f; }
cp -a /newroot$stage/. /newroot/
rm -f /newroot/etc/machine-id && : >/newroot/etc/machine-id
# This is a VM, not the container the host root may come from.
rm -f /newroot/.dockerenv /newroot/run/.containerenv
mount -t tmpfs tmpfs /newroot/tmp
mount -t tmpfs tmpfs /newroot/var/tmp
mkdir -p /newroot/etc/systemd/system
# Units that would crawl the whole 9p root under TCG, or are not needed.
for u in systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service \\
	 systemd-tmpfiles-clean.timer ldconfig.service systemd-hwdb-update.service \\
	 systemd-journal-catalog-update.service systemd-update-done.service \\
	 systemd-random-seed.service systemd-machine-id-commit.service; do
	ln -sf /dev/null /newroot/etc/systemd/system/\$u
done
cat >/newroot/etc/systemd/system/dmabufd-vmtest.service <<UNIT
[Unit]
Description=dmabufd VM test
After=basic.target systemd-journald.service
[Service]
Type=oneshot
ExecStart=/bin/sh $inside
ExecStopPost=/bin/systemctl poweroff --no-block
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=$timeout_start
UNIT
mkdir -p /newroot/proc /newroot/sys /newroot/dev
mount --move /dev /newroot/dev
mount --move /sys /newroot/sys
mount --move /proc /newroot/proc
ln -sf /etc/systemd/system/dmabufd-vmtest.service /newroot/etc/systemd/system/default.target
exec switch_root /newroot /lib/systemd/systemd
INIT
chmod +x "$initrd/init"
(cd "$initrd" && find . | cpio -o -H newc --quiet) >"$run/initrd.cpio"

log=$run/vm.log
# TCG by default: KVM guests hang at boot on some nested hosts (this CI's);
# DMABUFD_VM_ACCEL=kvm uses KVM where it works.
accel="-accel ${DMABUFD_VM_ACCEL:-tcg}"
timeout 600 qemu-system-x86_64 $accel -m 1024 -smp 2 -nographic \
	-no-reboot -kernel "$kernel" -initrd "$run/initrd.cpio" \
	-append "console=ttyS0 rdinit=/init panic=-1 fstab=0 systemd.unit=dmabufd-vmtest.service systemd.show_status=0 systemd.log_level=warning loglevel=3" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
	-nic none </dev/null >"$log" 2>&1 || true
grep -a -E "^(VMCHECK|VMINFO|VMJOURNAL|VMTEST)" "$log" | tr -d '\r' || true
if grep -a -q "VMTEST RESULT: PASS" "$log"; then
	exit 0
fi
echo "FAIL: see $log"
tail -40 "$log"
exit 1
