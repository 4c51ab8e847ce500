#!/bin/bash
# t1400 — the mount command: `mount -t csvfs` through /sbin/mount.csvfs, an
# fstab line through `mount -T FSTAB DIR`, unmount with umount and with
# fusermount3 -u; after each unmount the daemon exits and fsck is clean.
# Boot-time options (_netdev, nofail, x-systemd.*...) are accepted and
# not passed on to csvfsd.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/mount.csvfs" mount umount fusermount3 findmnt

img=$T/vol.img
M=$T/mnt
helper=/sbin/mount.csvfs
mkimg "$img" 256M
mkfs_vol "$img"
mkdir -p "$M"
track_dir "$M"
last_hello=""

step "install $helper -> $B/mount.csvfs"
if [[ -L "$helper" && "$(readlink "$helper")" != "$B/mount.csvfs" &&
      "$(basename "$(readlink "$helper")")" == mount.csvfs ]]; then
	# another csvfs build's link (a checkout elsewhere): swap it for the
	# test and put it back afterwards
	old=$(readlink "$helper")
	info "$helper points at another build ($old); borrowing it"
	ln -sfn "$B/mount.csvfs" "$helper"
	on_exit "ln -sfn '$old' '$helper'"
elif [[ -e "$helper" || -L "$helper" ]]; then
	[[ "$(realpath "$helper")" == "$(realpath "$B/mount.csvfs")" ]] ||
		fail "$helper already exists and is not a csvfs build's link (-> $(realpath "$helper")); not touching it"
	info "$helper already points at this build"
else
	ln -s "$B/mount.csvfs" "$helper"
	# remove it at exit, but only if it is still the link we made
	on_exit "[[ \"\$(readlink '$helper')\" == '$B/mount.csvfs' ]] && rm -f '$helper'"
fi

# Checks that DIR is a csvfs mount of $img that works and still holds what
# the previous mount wrote, then unmounts it with the given command, waits
# for the daemon (pid in PIDFILE) to exit and checks fsck is clean.
check_and_unmount() {
	local dir=$1 pidfile=$2
	shift 2
	track_mount "$dir" "$pidfile"
	assert_match 'csvfs' "$(findmnt -n -o FSTYPE "$dir")" "fstype of the mount"
	assert_eq "$img" "$(findmnt -n -o SOURCE "$dir")" "source of the mount (fsname)"
	if [[ -n "$last_hello" ]]; then
		assert_file_content "$dir/hello" "$last_hello"
	fi
	echo "via $*" >"$dir/hello"
	last_hello="via $*"$'\n'
	assert_file_content "$dir/hello" "$last_hello"
	local pid=${_MOUNT_PID[$dir]}
	assert_ok "$@" "$dir"
	mountpoint -q "$dir" && fail "$dir still mounted after $*"
	wait_for 300 eval '! _pid_alive '"$pid" || fail "daemon $pid still running after $*"
	fsck_clean "$img"
}

step "mount -t csvfs IMG DIR; umount DIR"
assert_ok mount -t csvfs -o "pidfile=$T/pid1" "$img" "$M"
check_and_unmount "$M" "$T/pid1" umount

step "mount -t csvfs; fusermount3 -u"
assert_ok mount -t csvfs -o "pidfile=$T/pid2" "$img" "$M"
check_and_unmount "$M" "$T/pid2" fusermount3 -u

step "fstab line: mount -T FSTAB DIR"
printf '# test fstab\n%s %s csvfs defaults,_netdev,pidfile=%s 0 0\n' "$img" "$M" "$T/pid4" >"$T/fstab"
assert_ok mount -T "$T/fstab" "$M"
check_and_unmount "$M" "$T/pid4" umount

step "fstab line by source: mount -T FSTAB IMG"
printf '%s %s csvfs rw,noauto,pidfile=%s 0 0\n' "$img" "$M" "$T/pid5" >"$T/fstab"
assert_ok mount -T "$T/fstab" "$img"
check_and_unmount "$M" "$T/pid5" umount
# Boot-time mounts (issue 12): fstab-only and systemd options reach
# mount.csvfs and must be dropped, not handed to csvfsd (which refuses
# options it does not know).
BOOT_OPTS="_netdev,nofail,auto,noauto,users,nouser,x-systemd.requires=corosync.service,x-systemd.after=network-online.target,x-systemd.device-timeout=30,x-systemd.automount,comment=csvfs"
step "mount.csvfs drops fstab and systemd options"
run_capture "$B/mount.csvfs" -f -v -o "defaults,$BOOT_OPTS,noatime,pidfile=$T/pidx" "$img" "$M"
assert_eq 0 "$RC" "mount.csvfs -f -v exit status"
assert_eq "mount.csvfs: running csvfsd $img $M -o noatime,pidfile=$T/pidx" "$OUT" \
	"the csvfsd command line keeps only csvfsd's options"

step "mount -t csvfs -o _netdev,x-systemd.requires=corosync.service,..."
assert_ok mount -t csvfs -o "$BOOT_OPTS,pidfile=$T/pid6" "$img" "$M"
check_and_unmount "$M" "$T/pid6" umount

step "the documented boot fstab line: mount -T FSTAB DIR"
printf '%s %s csvfs %s,pidfile=%s 0 0\n' "$img" "$M" \
	"defaults,_netdev,nofail,x-systemd.requires=corosync.service,x-systemd.after=corosync.service" \
	"$T/pid7" >"$T/fstab"
assert_ok mount -T "$T/fstab" "$M"
check_and_unmount "$M" "$T/pid7" umount
step "done"
