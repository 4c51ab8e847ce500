#!/bin/bash
# t1710 — the Debian package: `make deb` (dpkg-buildpackage from debian/,
# then lintian, which must report no error) builds a .deb whose control
# data declares the runtime dependencies and whose contents are the
# programs, /sbin/mount.csvfs, the man pages and the OCF agent. The package
# is not installed on this host: it is extracted (dpkg-deb -x) and the
# extracted programs format, check and describe a volume.
# timeout: 1500
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need make dpkg-buildpackage dpkg-deb lintian mandoc

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BD=$T/build

step "make deb (build dir $BD)"
# DEPS_CMD=: the packages are there (make check installed them); the
# test must not run apt-get.
run_capture make -C "$SRC" deb B="$BD" DEPS_CMD=:
if ((RC != 0)); then
	_show "$(tail -n 60 <<<"$OUT")"
	fail "make deb failed (exit $RC)"
fi
assert_match 'lintian --fail-on error' "$OUT" "make deb ran lintian"
debs=("$BD"/deb/csvfs_*_*.deb)
[[ -f "${debs[0]}" ]] || fail "no csvfs_*.deb in $BD/deb"
deb=${debs[0]}
info "built $(basename "$deb")"

step "control data: dpkg-deb -I"
ctl=$(dpkg-deb -f "$deb" Package Version Architecture Depends Recommends)
info "$ctl"
depends=$(dpkg-deb -f "$deb" Depends)
for dep in fuse3 corosync 'libfuse3-3' 'libcpg4' 'libquorum5' 'libcmap4' \
	'libssl3' 'libc6'; do
	assert_match "(^|, )$dep( |,|$)" "$depends" "Depends names $dep"
done
assert_eq csvfs "$(dpkg-deb -f "$deb" Package)" "package name"
assert_match 'pacemaker' "$(dpkg-deb -f "$deb" Recommends)" "Recommends pacemaker"

step "contents: dpkg-deb -c"
list=$(dpkg-deb -c "$deb" | awk '{print $1, $6}')
for f in usr/sbin/mkfs.csvfs usr/sbin/fsck.csvfs usr/sbin/csvfsd \
	usr/sbin/csvfsctl sbin/mount.csvfs \
	usr/lib/ocf/resource.d/csvfs/csvfs; do
	assert_match "^-rwxr-xr-x \./$f\$" "$list" "$f is in the package, mode 0755"
done
for m in man7/csvfs.7 man8/mkfs.csvfs.8 man8/fsck.csvfs.8 man8/csvfsd.8 \
	man8/mount.csvfs.8 man8/csvfsctl.8; do
	assert_match "^-rw-r--r-- \./usr/share/man/$m\.gz\$" "$list" "man page $m"
done
assert_match '\./usr/share/doc/csvfs/copyright$' "$list" "copyright file"
if grep -q '\./usr/sbin/mount\.csvfs$' <<<"$list"; then
	fail "mount.csvfs is in both /sbin and /usr/sbin (one file with a merged /usr)"
fi

step "extracted programs work (dpkg-deb -x, not installed)"
R=$T/root
dpkg-deb -x "$deb" "$R"
for p in mkfs.csvfs fsck.csvfs csvfsd csvfsctl; do
	assert_ok "$R/usr/sbin/$p" --help
	assert_match "usage: $p" "$OUT" "$p --help"
done
assert_ok "$R/sbin/mount.csvfs" -h
assert_match 'usage: mount.csvfs' "$OUT" "mount.csvfs -h"
mkimg "$T/vol.img" 256M
assert_ok "$R/usr/sbin/mkfs.csvfs" -L debtest "$T/vol.img"
assert_match 'label +debtest' "$OUT" "extracted mkfs.csvfs formatted the volume"
assert_ok "$R/usr/sbin/fsck.csvfs" -n "$T/vol.img"
assert_ok bash -n "$R/usr/lib/ocf/resource.d/csvfs/csvfs"
assert_match 'OCF_RESKEY_bindir:=/usr/sbin' \
	"$(cat "$R/usr/lib/ocf/resource.d/csvfs/csvfs")" \
	"the OCF agent looks for the programs in /usr/sbin"
for m in "$R"/usr/share/man/man*/*.gz; do
	assert_ok mandoc -Tlint -W warning "$m"
done

step "done"
