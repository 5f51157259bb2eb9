#!/bin/sh
# Fetches Debian 12's kernel packages (bookworm 6.1 and bookworm-backports
# 6.12) into a cache dir and unpacks them, without touching the host's apt
# state or installing anything.
#
# Usage: tests/vm/fetch-kernels.sh [--arch amd64|arm64] [--sysroot PKGS] CACHE_DIR
# Output (amd64, the default): CACHE_DIR/k-6.1/, CACHE_DIR/k-6.12/;
# arm64: CACHE_DIR/k-arm64-6.1/, CACHE_DIR/k-arm64-6.12/; each holding
#   root/        the unpacked packages (boot/vmlinuz-*, lib/modules/*, usr/src/*)
#   ABI          the kernel ABI name (e.g. 6.12.30+deb12-amd64)
#   KDIR         path of the (patched) kernel headers tree for Kbuild
# and for arm64 also CACHE_DIR/busybox-arm64/busybox (from busybox-static).
# --sysroot "PKG..." (arm64 only) unpacks those arm64 packages (e.g.
# libdrm-dev, for cross-building the test programs) into
# CACHE_DIR/sysroot-arm64/ (no dependency resolution: name every package).
# arm64 headers are paired with the host's (amd64) linux-kbuild package of
# the same version: its scripts/ (fixdep, modpost, ...) are host binaries,
# while the arm64 linux-kbuild's are arm64 binaries that cannot run here. A
# cross build then needs only ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-.
# The archive URI is read from the machine's own apt sources; no host name is
# written here.
# Exit: 0 ok, 1 failure.
set -eu
ARCH=amd64 SYSROOT_PKGS=""
while [ $# -gt 1 ]; do
	case $1 in
	--arch) ARCH=$2; shift 2 ;;
	--sysroot) SYSROOT_PKGS=$2; shift 2 ;;
	*) break ;;
	esac
done
case $ARCH in
amd64) kprefix=k- ;;
arm64) kprefix=k-arm64- ;;
*) echo "fetch-kernels: --arch amd64|arm64" >&2; exit 1 ;;
esac
CACHE=${1:?usage: fetch-kernels.sh [--arch amd64|arm64] CACHE_DIR}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
APT="$CACHE/apt"
# The arm64 lists (both architectures: arm64 kernels, the host's kbuild) are
# kept apart from the amd64-only ones.
lists="$APT/lists"
[ "$ARCH" = amd64 ] || lists="$APT/lists-$ARCH"
mkdir -p "$lists/partial" "$APT/cache/archives/partial" "$APT/debs" "$APT/etc"

# The URI that serves SUITE, from every apt source of this machine: one-line
# ("deb [options] URI SUITE ...") in sources.list and *.list, deb822
# ("URIs:" and "Suites:" of one stanza) in *.sources, whatever they are
# named (a fresh install has sources.list; images and mmdebstrap roots
# have a .sources file).
source_uri() {
	suite=$1
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		awk -v s="$suite" '$1 == "deb" {
			i = 2
			if ($i ~ /^\[/) while (i <= NF && $i !~ /\]$/) i++
			if ($i ~ /^\[/ || $i ~ /\]$/) i++
			if ($(i + 1) == s) { print $i; exit }
		}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk -v s="$suite" '
			/^[ \t]*$/ { if (ok && u != "") { print u; exit } u = ""; ok = 0; next }
			/^URIs:/ { u = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
			END { if (ok && u != "") print u }' "$f"
	done
}
uri=$(source_uri bookworm | head -n 1)
if [ -z "$uri" ]; then
	echo "fetch-kernels: no Debian archive URI for bookworm in the host's apt sources" >&2
	exit 1
fi
printf 'deb %s bookworm main\ndeb %s bookworm-backports main\n' "$uri" "$uri" >"$APT/etc/sources.list"
securi=$(source_uri bookworm-security | head -n 1)
[ -n "$securi" ] && printf 'deb %s bookworm-security main\n' "$securi" >>"$APT/etc/sources.list"

aptq() {
	"$@" -o Dir::Etc::sourcelist="$APT/etc/sources.list" \
		-o Dir::Etc::sourceparts=- \
		-o Dir::State::Lists="$lists" \
		-o APT::Architecture=amd64 -o APT::Architectures::=amd64 \
		${ARCHOPT:+-o APT::Architectures::=$ARCHOPT} \
		-o Dir::State::status=/dev/null \
		-o Dir::Cache="$APT/cache" \
		-o Debug::NoLocking=1 -o APT::Get::List-Cleanup=0
}
ARCHOPT=""
[ "$ARCH" = amd64 ] || ARCHOPT=$ARCH
# Lists are refreshed at most once a day.
stamp="$lists/.stamp"
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
	aptq apt-get update -q >"$APT/update.log" 2>&1 || { cat "$APT/update.log" >&2; exit 1; }
	touch "$stamp"
fi

# Highest available linux-image-<ABI> for a series ("6.1" or "6.12").
pick_abi() {
	series=$1
	aptq apt-cache show "linux-image-$ARCH:$ARCH" 2>/dev/null |
		sed -n 's/^Depends: *//p' | tr ',' '\n' |
		sed -n "s/^ *linux-image-\(${series}\.[^ ]*-$ARCH\).*/\1/p" |
		sort -V | tail -n 1
}

fetch_one() {
	series=$1 abi=$2
	dst="$CACHE/$kprefix$series"
	if [ -e "$dst/.done" ] && [ "$(cat "$dst/ABI")" = "$abi" ]; then
		return 0
	fi
	rm -rf "$dst"
	mkdir -p "$dst/root"
	pkgs="linux-image-$abi:$ARCH linux-headers-$abi:$ARCH"
	# The headers package depends on -common (all) and linux-kbuild-*, which
	# is taken for the host (amd64): see the top of this file.
	deps=$(aptq apt-cache depends "linux-headers-$abi:$ARCH" 2>/dev/null |
		sed -n 's/^ *Depends: *<\{0,1\}\(linux-\(headers\|kbuild\)-[^ :>]*\).*/\1/p' | sort -u)
	for d in $deps; do
		case $d in
		linux-kbuild-*) pkgs="$pkgs $d:amd64" ;;
		*) pkgs="$pkgs $d" ;;
		esac
	done
	echo "fetch-kernels: $ARCH $series -> $abi: $pkgs"
	(cd "$APT/debs" && aptq apt-get download -q $pkgs) >"$dst/download.log" 2>&1 ||
		{ cat "$dst/download.log" >&2; exit 1; }
	for p in $pkgs; do
		a=${p#*:}
		[ "$a" != "$p" ] || a=all
		deb=$(ls "$APT/debs/${p%%:*}_"*"_$a.deb" | sort -V | tail -n 1)
		dpkg-deb -x "$deb" "$dst/root"
	done
	kdir="$dst/root/usr/src/linux-headers-$abi"
	common=$(ls -d "$dst/root/usr/src/linux-headers-${abi%-"$ARCH"}-common" 2>/dev/null || true)
	[ -n "$common" ] || { echo "fetch-kernels: no -common headers for $abi" >&2; exit 1; }
	# The arch headers' Makefile includes the -common tree by absolute path.
	sed -i "s#/usr/src/linux-headers-${abi%-"$ARCH"}-common#$common#g" "$kdir/Makefile"
	# scripts/ and tools/ are symlinks into linux-kbuild-*, absolute as well.
	for l in $(find "$kdir" "$common" -maxdepth 2 -type l); do
		t=$(readlink "$l")
		case $t in /*) ln -sfn "$dst/root$t" "$l" ;; esac
	done
	echo "$abi" >"$dst/ABI"
	echo "$kdir" >"$dst/KDIR"
	touch "$dst/.done"
}

# The arm64 initramfs's busybox (statically linked).
fetch_busybox() {
	dst="$CACHE/busybox-$ARCH"
	[ -x "$dst/busybox" ] && return 0
	rm -rf "$dst"
	mkdir -p "$dst/root"
	(cd "$APT/debs" && aptq apt-get download -q "busybox-static:$ARCH") >"$dst/download.log" 2>&1 ||
		{ cat "$dst/download.log" >&2; exit 1; }
	deb=$(ls "$APT/debs/busybox-static_"*"_$ARCH.deb" | sort -V | tail -n 1)
	dpkg-deb -x "$deb" "$dst/root"
	cp "$dst/root/bin/busybox" "$dst/busybox"
}

# DMABUFD_VM_SERIES set but empty: no kernel (only busybox and --sysroot).
for series in ${DMABUFD_VM_SERIES-6.1 6.12}; do
	abi=$(pick_abi "$series")
	if [ -z "$abi" ]; then
		echo "fetch-kernels: no linux-image-$series.*-$ARCH found" >&2
		exit 1
	fi
	fetch_one "$series" "$abi"
done
# arm64 -dev packages for cross builds, unpacked together; redone when the
# package list changes.
fetch_sysroot() {
	dst="$CACHE/sysroot-$ARCH"
	[ -e "$dst/.done" ] && [ "$(cat "$dst/.done")" = "$SYSROOT_PKGS" ] && return 0
	rm -rf "$dst"
	mkdir -p "$dst"
	pkgs=""
	for p in $SYSROOT_PKGS; do pkgs="$pkgs $p:$ARCH"; done
	(cd "$APT/debs" && aptq apt-get download -q $pkgs) >"$CACHE/sysroot-$ARCH.log" 2>&1 ||
		{ cat "$CACHE/sysroot-$ARCH.log" >&2; exit 1; }
	for p in $SYSROOT_PKGS; do
		deb=$(ls "$APT/debs/${p}_"*"_$ARCH.deb" "$APT/debs/${p}_"*"_all.deb" 2>/dev/null |
			sort -V | tail -n 1)
		dpkg-deb -x "$deb" "$dst"
	done
	echo "$SYSROOT_PKGS" >"$dst/.done"
}

[ "$ARCH" = amd64 ] || fetch_busybox
[ "$ARCH" = amd64 ] || [ -z "$SYSROOT_PKGS" ] || fetch_sysroot
