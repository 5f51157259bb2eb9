#!/bin/sh
# Builds the Debian packages (debian/) from a clean copy of the source tree
# with `dpkg-buildpackage -b -us -uc` and checks them with lintian; prints
# the build's summary, lintian's output and every package's contents.
# Usage: deb_build.sh SOURCE_DIR OUT_DIR
#
# The copy is OUT_DIR/src/dmabufd (dpkg-buildpackage writes ../*.deb, so
# never in the source tree); the .deb, .changes and .buildinfo files are
# left in OUT_DIR for the VM test (vm_systemd.sh --debs). When kernel
# headers are found ($DMABUFD_KDIR, the running kernel's, or those the VM
# tests unpacked under $DMABUFD_VMCACHE), DKMS builds the module from
# dmabufd-dkms in a private DKMS tree.
# Exit: 0 pass, 1 build failure or lintian error, 77 when debhelper or
# dpkg-buildpackage is missing (scripts/install-deps.sh --deb).
set -eu
src=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

command -v dpkg-buildpackage >/dev/null 2>&1 || skip "dpkg-buildpackage missing (dpkg-dev)"
command -v dh >/dev/null 2>&1 || skip "debhelper missing (scripts/install-deps.sh --deb)"
command -v lintian >/dev/null 2>&1 || skip "lintian missing (scripts/install-deps.sh --deb)"

rm -rf "$out/src" "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo "$out"/*.log
tree=$out/src/dmabufd
mkdir -p "$tree"
# Tracked and untracked-but-not-ignored files: what a clean clone of this
# tree would hold, without build directories.
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z -co --exclude-standard | xargs -0 tar -cf - --no-recursion) |
		tar -xf - -C "$tree"
else
	(cd "$src" && tar -cf - --exclude='./build*' --exclude=./.vmcache .) | tar -xf - -C "$tree"
fi

if ! (cd "$tree" && dpkg-checkbuilddeps) >"$out/checkbuilddeps.log" 2>&1; then
	cat "$out/checkbuilddeps.log"
	fail "build dependencies missing (scripts/install-deps.sh --deb installs them)"
fi

echo "== dpkg-buildpackage -b -us -uc"
start=$(date +%s)
if ! (cd "$tree" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
	dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1; then
	tail -60 "$out/build.log"
	fail "dpkg-buildpackage failed (log: $out/build.log)"
fi
echo "built in $(($(date +%s) - start)) s; log: $out/build.log"
grep -E "^dpkg-(buildpackage|deb|genchanges|source): " "$out/build.log" | grep -v "^dpkg-source: info" || true
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
changes=$(ls "$out"/*.changes)

echo "== lintian --pedantic --display-info $(basename "$changes")"
# Tags are printed with their severity; --fail-on error makes an error tag
# the only lintian outcome that fails this test.
rc=0
lintian --pedantic --display-info --fail-on error "$changes" >"$out/lintian.log" 2>&1 || rc=$?
grep -v "running with root privileges" "$out/lintian.log" || true
[ "$rc" -eq 0 ] || fail "lintian reports errors (exit $rc)"
! grep -q "^E: " "$out/lintian.log" || fail "lintian reports errors"

echo "== packages"
for deb in "$out"/*.deb; do
	case "$deb" in *-dbgsym_*) continue ;; esac
	echo "-- $(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
	dpkg-deb -c "$deb" | awk '$6 !~ /\/$/ { print "   " $1 " " $6 ($7 ? " " $7 " " $8 : "") }'
done

# The module through DKMS, as dmabufd-dkms's postinst builds it, against
# the first kernel headers found; private trees, the system's DKMS state
# is not touched.
kdir=${DMABUFD_KDIR:-} kver=
if [ -z "$kdir" ] && [ -e "/lib/modules/$(uname -r)/build/Makefile" ]; then
	kdir=/lib/modules/$(uname -r)/build kver=$(uname -r)
fi
if [ -z "$kdir" ] && [ -n "${DMABUFD_VMCACHE:-}" ]; then
	# KDIR and ABI (the release the headers are for) as tests/vm leaves them.
	for f in "$DMABUFD_VMCACHE"/k-[0-9]*/KDIR; do
		[ -f "$f" ] && [ -e "$(cat "$f")/Makefile" ] || continue
		kdir=$(cat "$f")
		kver=$(cat "$(dirname "$f")/ABI" 2>/dev/null || true)
		break
	done
fi
if ! command -v dkms >/dev/null 2>&1 || [ -z "$kdir" ]; then
	echo "== dkms: not checked (no dkms or no kernel headers; set DMABUFD_KDIR)"
	exit 0
fi
[ -n "$kver" ] || kver=$(cat "$kdir/include/config/kernel.release" 2>/dev/null ||
	make -s -C "$kdir" kernelrelease 2>/dev/null || true)
[ -n "$kver" ] || fail "cannot read the kernel release of $kdir"
dk=$out/dkms
rm -rf "$dk" && mkdir -p "$dk/root" "$dk/tree"
dpkg-deb -x "$out"/dmabufd-dkms_*_all.deb "$dk/root"
ver=$(dpkg-deb -f "$out"/dmabufd-dkms_*_all.deb Version)
echo "== dkms build -m dmabufd -v $ver -k $kver ($kdir)"
if ! dkms build -m dmabufd -v "$ver" -k "$kver" --kernelsourcedir "$kdir" \
	--sourcetree "$dk/root/usr/src" --dkmstree "$dk/tree" >"$dk/build.log" 2>&1; then
	cat "$dk/build.log"
	cat "$dk"/tree/dmabufd/"$ver"/build/make.log 2>/dev/null || true
	fail "DKMS could not build the module"
fi
ko=$(find "$dk/tree/dmabufd/$ver/$kver" -name 'dmabufd_region.ko*' | head -1)
[ -n "$ko" ] || fail "DKMS built no dmabufd_region.ko"
vermagic=$(modinfo -F vermagic "$ko")
echo "built $(basename "$ko"), vermagic $vermagic"
[ "${vermagic%% *}" = "$kver" ] || fail "module built for ${vermagic%% *}, not $kver"
