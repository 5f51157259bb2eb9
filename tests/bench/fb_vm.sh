#!/bin/sh
# Runs the framebuffer CPU-access tests and fb_bandwidth against a real
# kernel dma-buf (a vgem PRIME export) in a throw-away QEMU guest.
#
# Usage: tests/bench/fb_vm.sh BUILD_DIR KERNEL_ROOT [tcg|kvm] [BENCH_SIZE]
#   BUILD_DIR    a configured and built tree (build/)
#   KERNEL_ROOT  an unpacked Debian kernel package, e.g.
#                  apt-get download linux-image-6.1.0-47-amd64
#                  dpkg-deb -x linux-image-*.deb KERNEL_ROOT
#                (needs boot/vmlinuz-* and lib/modules/*/kernel/drivers/gpu/drm/
#                {drm,drm_shmem_helper,vgem/vgem}.ko; Debian 12's kernel has no
#                udmabuf and no dma-heaps, vgem is its only dma-buf exporter)
#   tcg|kvm      accelerator (default tcg). TCG does not model memory types,
#                so bandwidth figures only mean something with kvm.
#   BENCH_SIZE   fb_bandwidth --size (default 4M)
# Needs qemu-system-x86, busybox-static, cpio (scripts/install-deps.sh --test).
set -eu
build=$(cd "$1" && pwd)
kroot=$(cd "$2" && pwd)
accel=${3:-tcg}
size=${4:-4M}

vmlinuz=$(ls "$kroot"/boot/vmlinuz-* | head -n1)
drm=$(ls -d "$kroot"/lib/modules/*/kernel/drivers/gpu/drm | head -n1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root

mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/lib/modules"
cp /bin/busybox "$root/bin/"
for a in sh mount insmod poweroff echo ls; do ln -s busybox "$root/bin/$a"; done
cp "$drm/drm.ko" "$drm/drm_shmem_helper.ko" "$drm/vgem/vgem.ko" "$root/lib/modules/"
for t in tests/unit/test_cpu_access tests/unit/test_cpu_access_dmabuf tests/bench/fb_bandwidth; do
	cp "$build/$t" "$root/bin/"
	ldd "$build/$t" | grep -o '/[^ ]*' | while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
done

cat > "$root/init" <<EOF
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in drm drm_shmem_helper vgem; do insmod /lib/modules/\$m.ko || echo "insmod \$m failed"; done
echo "=== test_cpu_access_dmabuf"; /bin/test_cpu_access_dmabuf; echo "rc=\$?"
echo "=== test_cpu_access"; /bin/test_cpu_access; echo "rc=\$?"
echo "=== fb_bandwidth"
/bin/fb_bandwidth --size $size --iterations 5 --source anon --source memfd --source drm; echo "rc=\$?"
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$work/initrd.gz")

if [ "$accel" = kvm ]; then
	accel_opts="-accel kvm -cpu host"
else
	accel_opts="-accel tcg -cpu max"
fi
# shellcheck disable=SC2086
timeout 600 qemu-system-x86_64 $accel_opts -m 768 -smp 1 -nographic -no-reboot \
	-kernel "$vmlinuz" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 panic=-1 quiet"
