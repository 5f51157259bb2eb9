#!/bin/sh
# The README's commands on a fresh Debian 12 (bookworm) system, as a new
# user would run them: mmdebstrap builds a minimal root (variant "apt": the
# Essential packages and apt, nothing of the project's) from this machine's
# own apt sources, a clean copy of the tree goes to /root/dmabufd in it, and
# each command runs there with chroot as the only command, in its own fresh
# root, with /proc, /sys and /dev mounted (in a private mount namespace).
# The wall time of each is printed.
#
# Usage: scripts/fresh-check.sh [--test] [--keep] [--work DIR] [-- TEST_ARGS...]
#   (always)    scripts/demo.sh
#   --test      then scripts/test.sh TEST_ARGS in a second fresh root, e.g.
#               "--test -- -LE vm" (the VM tests fetch kernels and boot QEMU
#               under TCG, an hour on 2 cores)
#   --keep      keep the roots (default: removed at exit)
#   --work DIR  where the roots go (default: a new directory in /var/tmp)
# The tree copied is the committed state: a git clone of HEAD when this is a
# git checkout (uncommitted changes are not seen), else a copy of the
# directory without its build directories.
#
# The root's apt uses the sources of this machine (/etc/apt/sources.list and
# /etc/apt/sources.list.d/*.list, *.sources) and its apt settings on how to
# reach them (proxies, Release validity dates), nothing else of its own.
# Needs root (chroot, mounts); installs mmdebstrap when it is missing.
# Exit: 0 when every command succeeded.
set -eu
cd "$(dirname "$0")/.."
src=$PWD

usage() {
	echo "usage: $0 [--test] [--keep] [--work DIR] [-- TEST_ARGS...]" >&2
	exit 2
}
test=0 keep=0 work=""
while [ $# -gt 0 ]; do
	case "$1" in
	--test) test=1; shift ;;
	--keep) keep=1; shift ;;
	--work) [ $# -ge 2 ] || usage; work=$2; shift 2 ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[ $# -eq 0 ] || [ $test = 1 ] || usage

if [ "$(id -u)" -ne 0 ]; then
	echo "fresh-check: needs root (mmdebstrap, chroot, mounts)" >&2
	exit 1
fi
if ! command -v mmdebstrap >/dev/null; then
	apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends mmdebstrap
fi

now() { date +%s.%N; }
elapsed() { # START: "Mm S.Ss (T s)" since START
	awk -v a="$1" -v b="$(now)" \
		'BEGIN { t = b - a; printf "%dm%04.1fs (%.0f s)", int(t / 60), t - 60 * int(t / 60), t }'
}
log() { echo "fresh-check: $*" >&2; }

if [ -z "$work" ]; then
	work=$(mktemp -d /var/tmp/dmabufd-fresh.XXXXXX)
else
	mkdir -p "$work"
fi
cleanup() {
	[ $keep = 1 ] && { log "roots kept in $work"; return; }
	# Mounts live in the chroot's private namespace only, never here: refuse
	# to remove anything if one is seen under the work directory after all.
	if grep -q " $work/" /proc/self/mountinfo; then
		log "mounts left under $work, not removing it"
		return
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The base root from this machine's sources and the apt settings needed to
# reach them.
make_base() {
	set --
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources; do
		if [ -f "$f" ] && grep -qE '^[[:space:]]*(deb|Types:)' "$f"; then
			set -- "$@" "$f"
		fi
	done
	[ $# -gt 0 ] || { log "no apt sources found in /etc/apt"; exit 1; }
	for opt in Acquire::Check-Valid-Until Acquire::Check-Date Acquire::http::Proxy \
		Acquire::https::Proxy; do
		v=$(apt-config dump "$opt" | sed -n "s/^$opt \"\\(.*\\)\";\$/\\1/p")
		if [ -n "$v" ]; then
			set -- --aptopt="$opt \"$v\"" "$@"
		fi
	done
	t=$(now)
	log "mmdebstrap bookworm (variant apt): $*"
	mmdebstrap --variant=apt --quiet bookworm "$work/base.tar" "$@"
	log "base root: $(du -h "$work/base.tar" | cut -f1), made in $(elapsed "$t")"
}
make_base

# fresh CMD...: run CMD in /root/dmabufd of a new root; print its wall time.
status=0
fresh() {
	name=$1
	root="$work/$name"
	mkdir "$root"
	tar -C "$root" -xf "$work/base.tar"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	# This machine's trust for TLS (npm fetches over https; a site may add
	# its own CA), as the apt settings above: how to reach the registries.
	cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/host-ca-certificates.crt"
	if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git clone -q --no-hardlinks "$src" "$root/root/dmabufd"
		log "$name: tree = git clone of $(git -C "$src" rev-parse --short HEAD)"
	else
		mkdir "$root/root/dmabufd"
		tar -C "$src" --exclude='./build*' -cf - . | tar -C "$root/root/dmabufd" -xf -
		log "$name: tree = copy of $src"
	fi
	shift
	log "$name: chroot $root: $*"
	t=$(now)
	rc=0
	unshare --mount --propagation private sh -c '
		root=$1; shift
		mount -t proc proc "$root/proc" &&
		mount -t sysfs sysfs "$root/sys" &&
		mount --rbind /dev "$root/dev" &&
		exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
			NODE_EXTRA_CA_CERTS=/etc/host-ca-certificates.crt \
			chroot "$root" sh -c "cd /root/dmabufd && exec \"\$@\"" sh "$@"
	' sh "$root" "$@" || rc=$?
	log "$name: $* exit $rc, wall time $(elapsed "$t") on $(nproc) CPUs"
	[ $rc = 0 ] || status=1
	[ $keep = 1 ] || rm -rf "$root"
}

fresh demo scripts/demo.sh
[ $test = 0 ] || fresh test scripts/test.sh "$@"
exit $status
