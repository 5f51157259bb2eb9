#!/bin/sh
# VM test harness for dmabufd_region.ko.
#
# Fetches Debian 12's kernels (bookworm 6.1, bookworm-backports 6.12), builds
# the module against both (6.1: build check only), builds a busybox-static
# initramfs holding the 6.12 module, vgem, the in-VM tests and any extra host
# binaries (with the shared libraries ldd lists), boots it in QEMU (TCG,
# thread=single, movablecore=), runs the tests, and reports their results,
# which come out on the serial console (lines "DMABUFD-VM: ...").
#
# Usage: run-vm.sh --src REPO --work DIR --test BIN [--test BIN]...
#                  [--extra BIN]... [--extra-test CMD]... [--cache DIR]
#                  [--series "6.1 6.12"] [--boot 6.12] [--timeout SEC]
#                  [--tcg-thread single|multi] [--arch amd64|arm64]
#   --test BIN        in-VM test program (run as "BIN", TAP-like output)
#   --extra BIN       extra host binary copied into the VM's /bin with its
#                     shared libraries (the daemon, dmabufctl, ...)
#   --extra-test CMD  command line run in the VM after the tests; exit 0 is
#                     a pass, 77 a skip, anything else a failure
#   --cache DIR       kernel package cache (default $DMABUFD_VMCACHE or
#                     REPO/.vmcache)
#   --tcg-thread MODE TCG's thread mode (default single: one host thread
#                     for both vCPUs; multi crashed 6.12 once in 17 boots
#                     here, so tests keep single; benchmarks that need the
#                     two vCPUs to run in parallel may ask for multi)
#   --arch ARCH       amd64 (default: qemu-system-x86_64 -cpu max) or arm64
#                     (qemu-system-aarch64 -M virt -cpu cortex-a72, Debian's
#                     arm64 kernels, busybox-static:arm64, the module cross-
#                     built with aarch64-linux-gnu-gcc). arm64 test programs
#                     must be arm64 binaries: static ones are copied as they
#                     are, dynamic ones with the libraries they need from
#                     their RUNPATH, the --libdir dirs, the cross
#                     toolchain's and the multiarch library dirs.
#   --libdir DIR      arm64: another directory to take libraries from (a
#                     sysroot's usr/lib/aarch64-linux-gnu, ...)
# Exit: 0 all tests passed (some may have skipped), 1 a failure (the
#       console log is printed), 77 QEMU is not installed and cannot be
#       installed, or no test passed and some skipped (an in-VM test or
#       extra test exiting 77 counts as a skip, never as a pass).
set -eu

src="" work="" cache="${DMABUFD_VMCACHE:-}" series="6.1 6.12" boot="6.12"
timeout=720 tests="" extras="" extra_tests="" tcg_thread=single
mem=1024 movable=384M arch=amd64 libdirs=""
while [ $# -gt 0 ]; do
	case $1 in
	--src) src=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--cache) cache=$2; shift 2 ;;
	--series) series=$2; shift 2 ;;
	--boot) boot=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--tcg-thread)
		case $2 in single | multi) tcg_thread=$2 ;; *) echo "run-vm: --tcg-thread single|multi" >&2; exit 1 ;; esac
		shift 2 ;;
	--arch)
		case $2 in amd64 | arm64) arch=$2 ;; *) echo "run-vm: --arch amd64|arm64" >&2; exit 1 ;; esac
		shift 2 ;;
	--libdir) libdirs="$libdirs $2"; shift 2 ;;
	--test) tests="$tests $2"; shift 2 ;;
	--extra) [ -n "$2" ] && extras="$extras $2"; shift 2 ;;
	--extra-test) extra_tests="$extra_tests
$2"; shift 2 ;;
	*) echo "run-vm: unknown argument $1" >&2; exit 1 ;;
	esac
done
[ -n "$src" ] && [ -n "$work" ] || { echo "run-vm: --src and --work are required" >&2; exit 1; }
src=$(cd "$src" && pwd)
[ -n "$cache" ] || cache="$src/.vmcache"
mkdir -p "$work" "$cache"
work=$(cd "$work" && pwd)
log() { echo "run-vm: $*"; }
now() { date +%s; }

# Per architecture: QEMU and its package, the kernel cache prefix, the
# module build's cross options, the console.
case $arch in
amd64)
	qemu=qemu-system-x86_64 qemu_pkg=qemu-system-x86 kprefix=k- kbuild_arch=""
	qemu_machine="-cpu max" console_dev=ttyS0 append_arch=""
	;;
arm64)
	qemu=qemu-system-aarch64 qemu_pkg=qemu-system-arm kprefix=k-arm64-
	kbuild_arch="ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-"
	qemu_machine="-M virt -cpu cortex-a72" console_dev=ttyAMA0
	# Debian's arm64 kernels reserve a 64 MiB default CMA area at the top
	# of memory below 4 GiB: inside ZONE_MOVABLE, where alloc_contig_range
	# for the region refuses CMA pageblocks. Keep it below the region.
	append_arch="cma=64M@0x40000000-0x60000000"
	command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 ||
		{ echo "run-vm: missing aarch64-linux-gnu-gcc (scripts/install-deps.sh --test)" >&2; exit 1; }
	;;
esac
# QEMU: install it if we can, skip (77) only if that is impossible.
if ! command -v $qemu >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			$qemu_pkg >"$work/qemu-install.log" 2>&1 || true
	fi
	if ! command -v $qemu >/dev/null 2>&1; then
		echo "run-vm: SKIP: $qemu not installed and cannot be installed"
		exit 77
	fi
fi
for tool in busybox cpio gzip depmod modprobe xz dpkg-deb apt-get make; do
	command -v $tool >/dev/null 2>&1 || [ -x /bin/$tool ] || [ -x /sbin/$tool ] ||
		{ echo "run-vm: missing tool $tool (scripts/install-deps.sh --test)" >&2; exit 1; }
done
BUSYBOX=$(command -v busybox)

t0=$(now)
log "fetching kernels into $cache"
DMABUFD_VM_SERIES="$series" sh "$src/tests/vm/fetch-kernels.sh" --arch "$arch" "$cache"
[ "$arch" = amd64 ] || BUSYBOX="$cache/busybox-$arch/busybox"
t_fetch=$(( $(now) - t0 ))

# Build the module against every series.
t0=$(now)
for s in $series; do
	kdir=$(cat "$cache/$kprefix$s/KDIR")
	b="$work/kmod-$s"
	rm -rf "$b"
	mkdir -p "$b"
	cp "$src/kmod/Kbuild" "$src/kmod/"*.c "$src/kmod/"*.h "$b/"
	# shellcheck disable=SC2086 # kbuild_arch is a list of make variables
	if ! make -C "$kdir" M="$b" $kbuild_arch DMABUFD_UAPI="$src/include/uapi" \
		CONFIG_DEBUG_INFO_BTF_MODULES= KCFLAGS=-Werror modules >"$b/build.log" 2>&1; then
		cat "$b/build.log"
		echo "run-vm: FAIL: module build against $s ($(cat "$cache/$kprefix$s/ABI"))"
		exit 1
	fi
	log "module builds against $(cat "$cache/$kprefix$s/ABI")"
	# arm64: the test-only page-table reader (tests/vm/ptattr).
	[ "$arch" = arm64 ] || continue
	mkdir -p "$b/ptattr"
	cp "$src/tests/vm/ptattr/"* "$b/ptattr/"
	# shellcheck disable=SC2086
	if ! make -C "$kdir" M="$b/ptattr" $kbuild_arch \
		CONFIG_DEBUG_INFO_BTF_MODULES= KCFLAGS=-Werror modules >"$b/ptattr/build.log" 2>&1; then
		cat "$b/ptattr/build.log"
		echo "run-vm: FAIL: dmabufd_ptattr build against $s"
		exit 1
	fi
done
t_build=$(( $(now) - t0 ))

# Initramfs for the boot kernel.
t0=$(now)
kroot="$cache/$kprefix$boot/root"
abi=$(cat "$cache/$kprefix$boot/ABI")
[ -e "$kroot/lib/modules/$abi/modules.dep" ] || depmod -b "$kroot" "$abi"
ir="$work/initramfs"
rm -rf "$ir"
mkdir -p "$ir/bin" "$ir/sbin" "$ir/proc" "$ir/sys" "$ir/dev" "$ir/tmp" "$ir/etc" \
	"$ir/lib/modules/$abi/extra" "$ir/tests"
cp "$BUSYBOX" "$ir/bin/busybox"
# The applet list is the host busybox's (an arm64 one cannot run here; the
# same Debian version has the same applets).
for a in $(busybox --list); do
	[ "$a" = busybox ] && continue
	[ -e "$ir/bin/$a" ] || ln -s busybox "$ir/bin/$a"
done
cp "$work/kmod-$boot/dmabufd_region.ko" "$ir/lib/modules/$abi/extra/"
[ "$arch" = amd64 ] || cp "$work/kmod-$boot/ptattr/dmabufd_ptattr.ko" "$ir/lib/modules/$abi/extra/"
# Kernel modules the tests need, with their dependencies (decompressed).
for m in vgem ${DMABUFD_VM_MODULES:-}; do
	modprobe -d "$kroot" -S "$abi" --show-depends "$m" | awk '$1 == "insmod" { print $2 }' |
	while read -r p; do
		rel=${p#"$kroot"/}
		dst="$ir/${rel%.xz}"
		mkdir -p "$(dirname "$dst")"
		case $p in
		*.xz) xz -dc "$p" >"$dst" ;;
		*) cp "$p" "$dst" ;;
		esac
	done
done
cp "$kroot/lib/modules/$abi/modules.order" "$kroot/lib/modules/$abi/modules.builtin" \
	"$ir/lib/modules/$abi/" 2>/dev/null || true
depmod -b "$ir" "$abi"

# arm64 binaries: the loader and the NEEDED libraries, found in the
# binary's RUNPATH, --libdir, the cross toolchain's and the multiarch library
# dirs, recursively; all go to /lib/aarch64-linux-gnu, on the loader's
# default path.
copy_cross_libs() {
	local f interp lib found d runpath
	f=$1
	case $(od -An -c -N4 "$f" | tr -d ' ') in
	177ELF) ;;
	*) return 0 ;; # a script
	esac
	interp=$(aarch64-linux-gnu-readelf -l "$f" 2>/dev/null |
		sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	if [ -n "$interp" ] && [ ! -e "$ir$interp" ]; then
		for d in /usr/aarch64-linux-gnu/lib /usr/lib/aarch64-linux-gnu /lib/aarch64-linux-gnu; do
			[ -e "$d/$(basename "$interp")" ] || continue
			mkdir -p "$ir$(dirname "$interp")"
			cp -L "$d/$(basename "$interp")" "$ir$interp"
			break
		done
	fi
	runpath=$(aarch64-linux-gnu-readelf -d "$f" |
		sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]/\2/p' | tr ':' ' ')
	aarch64-linux-gnu-readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
	while read -r lib; do
		[ -e "$ir/lib/aarch64-linux-gnu/$lib" ] && continue
		found=""
		# shellcheck disable=SC2086 # lists of directories
		for d in $runpath $libdirs /usr/aarch64-linux-gnu/lib /usr/lib/aarch64-linux-gnu \
			/lib/aarch64-linux-gnu; do
			[ -e "$d/$lib" ] && { found="$d/$lib"; break; }
		done
		[ -n "$found" ] || { echo "run-vm: no arm64 $lib for $f" >&2; exit 1; }
		mkdir -p "$ir/lib/aarch64-linux-gnu"
		cp -L "$found" "$ir/lib/aarch64-linux-gnu/$lib"
		copy_cross_libs "$ir/lib/aarch64-linux-gnu/$lib"
	done
}

# Host binaries and their shared libraries.
copy_bin() {
	bin=$1
	[ -x "$bin" ] || { echo "run-vm: not an executable: $bin" >&2; exit 1; }
	# Replace (not write through) a busybox applet link of the same name.
	rm -f "$ir/bin/$(basename "$bin")"
	cp "$bin" "$ir/bin/"
	if [ "$arch" != amd64 ]; then
		copy_cross_libs "$bin"
		return 0
	fi
	ldd "$bin" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' |
	while read -r lib; do
		# System libraries keep their path; the project's own (found through
		# a RUNPATH into the build tree, which may lie under /tmp, where the
		# VM mounts a tmpfs) go to /usr/lib, on the loader's default path.
		case "$lib" in
		/lib/* | /lib64/* | /usr/lib/* | /usr/lib64/*) dest=$lib ;;
		*) dest=/usr/lib/$(basename "$lib") ;;
		esac
		[ -e "$ir$dest" ] && continue
		mkdir -p "$ir$(dirname "$dest")"
		cp -L "$lib" "$ir$dest"
	done
}
for b in $tests $extras; do copy_bin "$b"; done
# lib64 -> the loader path programs ask for is copied by ldd's absolute path.

{
	echo '#!/bin/sh'
	echo 'export PATH=/bin:/sbin'
	echo 'mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev'
	echo 'mount -t tmpfs -o size=60% tmpfs /tmp'
	echo 'echo "DMABUFD-VM: kernel $(uname -r) cmdline $(cat /proc/cmdline)"'
	echo 'pass=0; fail=0; skip=0; tpass=0 # tpass: passes of tests, not of insmod or the kernel log'
	echo 'if insmod /lib/modules/$(uname -r)/extra/dmabufd_region.ko; then echo "DMABUFD-VM: ok insmod"; pass=$((pass+1)); else echo "DMABUFD-VM: not ok insmod"; fail=$((fail+1)); fi'
	echo 'modprobe vgem || echo "DMABUFD-VM: # vgem not loaded"'
	if [ "$arch" = arm64 ]; then
		echo 'if insmod /lib/modules/$(uname -r)/extra/dmabufd_ptattr.ko; then echo "DMABUFD-VM: ok insmod dmabufd_ptattr"; pass=$((pass+1)); else echo "DMABUFD-VM: not ok insmod dmabufd_ptattr"; fail=$((fail+1)); fi'
	fi
	echo 'ls -l /dev/dmabufd-region /dev/dri 2>&1 | sed "s/^/DMABUFD-VM: # /"'
	echo 'run() {'
	echo '	"$@" 2>&1 | while IFS= read -r l; do echo "DMABUFD-VM: $l"; done'
	echo '}'
	for t in $tests; do
		n=$(basename "$t")
		echo "run /bin/$n > /tmp/$n.out; cat /tmp/$n.out"
		echo "p=\$(grep -c '^DMABUFD-VM: ok ' /tmp/$n.out); f=\$(grep -c '^DMABUFD-VM: not ok ' /tmp/$n.out); s=\$(grep -c '# SKIP' /tmp/$n.out)"
		echo "grep -q '^DMABUFD-VM: # done' /tmp/$n.out || { echo 'DMABUFD-VM: not ok $n did not finish'; f=\$((f+1)); }"
		echo 'pass=$((pass+p-s)); fail=$((fail+f)); skip=$((skip+s)); tpass=$((tpass+p-s))'
	done
	# Extra tests: /tests/NN.sh holds the command line, run in order.
	echo 'for t in /tests/*.sh; do'
	echo '	[ -e "$t" ] || continue'
	echo '	name="$(sed -n 2p "$t")"'
	echo '	sh "$t" > /tmp/extra.out 2>&1; rc=$?'
	echo '	sed "s/^/DMABUFD-VM: # /" /tmp/extra.out'
	echo '	case $rc in'
	echo '	0) echo "DMABUFD-VM: ok $name"; pass=$((pass+1)); tpass=$((tpass+1)) ;;'
	echo '	77) echo "DMABUFD-VM: ok $name # SKIP"; skip=$((skip+1)) ;;'
	echo '	*) echo "DMABUFD-VM: not ok $name (exit $rc)"; fail=$((fail+1)) ;;'
	echo '	esac'
	echo 'done'
	
	echo 'dmesg | grep -E "dmabufd_region|BUG|WARNING|Oops|Call Trace" | sed "s/^/DMABUFD-VM: # dmesg: /"'
	echo 'if dmesg | grep -qE "BUG:|WARNING:|Oops"; then echo "DMABUFD-VM: not ok kernel log clean"; fail=$((fail+1)); else echo "DMABUFD-VM: ok kernel log clean"; pass=$((pass+1)); fi'
	echo 'echo "DMABUFD-VM-RESULT pass=$pass fail=$fail skip=$skip tests_passed=$tpass"'
	echo 'sync; poweroff -f'
} >"$ir/init"
chmod +x "$ir/init"
n=0
printf '%s\n' "$extra_tests" | while IFS= read -r c; do
	[ -n "$c" ] || continue
	n=$((n + 1))
	printf '#!/bin/sh\n%s\n' "$c" >"$ir/tests/$(printf %02d "$n").sh"
done
(cd "$ir" && find . | cpio -o -H newc --quiet) | gzip -1 >"$work/initrd.gz"
t_initrd=$(( $(now) - t0 ))
log "initramfs $(du -h "$work/initrd.gz" | cut -f1) for $abi"

t0=$(now)
console="$work/console.log"
log "booting $abi (TCG thread=$tcg_thread, timeout ${timeout}s), console in $console"
set +e
# shellcheck disable=SC2086 # qemu_machine is a list of options
timeout --foreground -k 10 "$timeout" $qemu -accel tcg,thread=$tcg_thread \
	-m "$mem" -smp 2 -nographic -no-reboot $qemu_machine \
	-kernel "$kroot/boot/vmlinuz-$abi" -initrd "$work/initrd.gz" \
	-append "console=$console_dev panic=-1 oops=panic nokaslr movablecore=$movable${append_arch:+ $append_arch}" \
	</dev/null >"$console" 2>&1
qrc=$?
set -e
t_boot=$(( $(now) - t0 ))
tr -d '\r' <"$console" >"$console.tmp" && mv "$console.tmp" "$console"
grep '^DMABUFD-VM' "$console" || true
log "timings: fetch ${t_fetch}s, module builds ${t_build}s, initramfs ${t_initrd}s, boot+tests ${t_boot}s (qemu exit $qrc)"
result=$(grep '^DMABUFD-VM-RESULT' "$console" | tail -n 1)
case $result in
*" fail=0 skip=0 tests_passed=0") ;; # no test ran: a failure below
*" fail=0 "*" tests_passed=0") log "SKIP: no test passed, some skipped: $result"; exit 77 ;;
*" fail=0 "*) log "PASS: $result"; exit 0 ;;
esac
echo "run-vm: FAIL (${result:-no result line; qemu exit $qrc}); console log follows"
cat "$console"
exit 1
