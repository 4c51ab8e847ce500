#!/bin/bash
# t1100 — POSIX behaviour of a standalone mount: files, directories, rename
# (incl. RENAME_NOREPLACE / RENAME_EXCHANGE), links, special files, modes,
# owners, nanosecond timestamps, truncate, setgid dirs, SUID clearing, sticky
# dirs, permissions, name length, xattrs, fallocate and SEEK_DATA/SEEK_HOLE,
# statfs, O_DIRECT, ENOSPC, refused mounts; then unmount, fsck clean, remount
# and check that everything is still there.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$TOOLS/renameat2" \
	"$TOOLS/seekdata" setfattr getfattr setpriv python3 fallocate

img=$T/vol.img
M=$T/mnt
mkimg "$img" 1G
mkfs_vol "$img"
mount_vol "$img" "$M"

fsize() { stat -c %s "$1"; }
nlink() { stat -c %h "$1"; }

# ---------------------------------------------------------------- files
step "create, write, append, overwrite, read"
echo hello >"$M/a"
assert_file_content "$M/a" $'hello\n'
echo world >>"$M/a"
assert_file_content "$M/a" $'hello\nworld\n'
printf 'xy' >"$M/a"
assert_file_content "$M/a" 'xy'
: >"$M/empty"
assert_eq 0 "$(fsize "$M/empty")" "size of an empty file"
head -c 3000000 /dev/urandom >"$T/rand"
cp "$T/rand" "$M/rand"
assert_ok cmp "$T/rand" "$M/rand"
dd if="$T/rand" of="$M/rand" bs=4096 seek=100 count=3 skip=7 conv=notrunc status=none
dd if="$T/rand" of="$T/rand" bs=4096 seek=100 count=3 skip=7 conv=notrunc status=none
assert_ok cmp "$T/rand" "$M/rand"
assert_fails_with EEXIST python3 -c 'import os, sys; os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY)' "$M/a"
assert_fails_with ENOENT cat "$M/nonexistent"

# ---------------------------------------------------------------- dirs
step "mkdir, rmdir, nlink of directories"
root_links=$(nlink "$M")
mkdir "$M/d" "$M/d/sub1" "$M/d/sub2"
assert_eq 4 "$(nlink "$M/d")" "nlink of a dir with 2 subdirs"
assert_eq 2 "$(nlink "$M/d/sub1")" "nlink of an empty dir"
assert_eq $((root_links + 1)) "$(nlink "$M")" "root nlink after mkdir"
assert_fails_with EEXIST mkdir "$M/d"
touch "$M/d/sub1/f"
assert_fails_with ENOTEMPTY rmdir "$M/d/sub1"
assert_fails_with ENOTDIR rmdir "$M/a"
assert_fails_with ENOTDIR touch "$M/a/x"
rmdir "$M/d/sub2"
assert_eq 3 "$(nlink "$M/d")" "nlink after rmdir"
mkdir -p "$M/deep/a/b/c/d/e/f/g"
echo deep >"$M/deep/a/b/c/d/e/f/g/file"
assert_file_content "$M/deep/a/b/c/d/e/f/g/file" $'deep\n'
for i in $(seq 1 300); do : >"$M/d/many.$i"; done
assert_eq 300 "$(find "$M/d" -maxdepth 1 -name 'many.*' | wc -l)" "entries listed in a 300-file dir"
assert_eq 300 "$(ls "$M/d" | grep -c '^many\.')" "ls of a 300-file dir"

# ---------------------------------------------------------------- unlink
step "unlink, and an unlinked file stays readable while open"
echo gone >"$M/unl"
rm "$M/unl"
assert_fails_with ENOENT stat "$M/unl"
echo still-here >"$M/openunl"
exec 7<"$M/openunl"
rm "$M/openunl"
assert_eq still-here "$(cat <&7)" "content of an open unlinked file"
exec 7<&-
assert_fails_with ENOENT stat "$M/openunl"

# ---------------------------------------------------------------- rename
step "rename: plain, over a file, into another dir, directories"
echo one >"$M/r1"
mv "$M/r1" "$M/r2"
assert_file_content "$M/r2" $'one\n'
assert_fails_with ENOENT stat "$M/r1"
echo two >"$M/r3"
ino=$(stat -c %i "$M/r3")
mv -f "$M/r3" "$M/r2"
assert_file_content "$M/r2" $'two\n'
assert_eq "$ino" "$(stat -c %i "$M/r2")" "inode of a renamed file"
mkdir "$M/rdst"
mv "$M/r2" "$M/rdst/"
assert_file_content "$M/rdst/r2" $'two\n'
assert_fails_with ENOENT stat "$M/r2"
mkdir -p "$M/rsrc/moved/inner"
d_links=$(nlink "$M/rsrc")
mv "$M/rsrc/moved" "$M/rdst/moved"
assert_eq $((d_links - 1)) "$(nlink "$M/rsrc")" "nlink of the old parent after moving a dir"
assert_eq 3 "$(nlink "$M/rdst")" "nlink of the new parent after moving a dir in"
assert_eq "$(stat -c %i "$M/rdst")" "$(stat -c %i "$M/rdst/moved/..")" "'..' of a moved dir"
mkdir "$M/emptydir" "$M/fulldir"
touch "$M/fulldir/x"
assert_ok "$TOOLS/renameat2" "$M/rsrc" "$M/emptydir"
assert_fails_with ENOTEMPTY "$TOOLS/renameat2" "$M/emptydir" "$M/fulldir"
assert_fails_with EISDIR "$TOOLS/renameat2" "$M/a" "$M/fulldir"
assert_fails_with ENOTDIR "$TOOLS/renameat2" "$M/fulldir" "$M/a"
assert_fails_with EINVAL "$TOOLS/renameat2" "$M/fulldir" "$M/fulldir/sub"

step "renameat2 RENAME_NOREPLACE and RENAME_EXCHANGE"
echo A >"$M/xa"
echo B >"$M/xb"
assert_fails_with EEXIST "$TOOLS/renameat2" --noreplace "$M/xa" "$M/xb"
assert_file_content "$M/xb" $'B\n'
assert_ok "$TOOLS/renameat2" --noreplace "$M/xa" "$M/xc"
assert_file_content "$M/xc" $'A\n'
assert_ok "$TOOLS/renameat2" --exchange "$M/xc" "$M/xb"
assert_file_content "$M/xc" $'B\n'
assert_file_content "$M/xb" $'A\n'
assert_ok "$TOOLS/renameat2" --exchange "$M/xb" "$M/fulldir"
[[ -d "$M/xb" && -f "$M/xb/x" && -f "$M/fulldir" ]] || fail "exchange of a file and a dir"
assert_file_content "$M/fulldir" $'A\n'
assert_fails_with ENOENT "$TOOLS/renameat2" --exchange "$M/xc" "$M/nope"

# ---------------------------------------------------------------- links
step "hard links"
echo linked >"$M/h1"
ln "$M/h1" "$M/h2"
ln "$M/h1" "$M/d/h3"
assert_eq 3 "$(nlink "$M/h1")" "nlink after 2 links"
assert_eq "$(stat -c %i "$M/h1")" "$(stat -c %i "$M/d/h3")" "inode of a hard link"
echo more >>"$M/h2"
assert_file_content "$M/d/h3" $'linked\nmore\n'
rm "$M/h1"
assert_eq 2 "$(nlink "$M/h2")" "nlink after unlinking one name"
assert_fails_with EEXIST ln "$M/h2" "$M/d/h3"
assert_fails ln "$M/d" "$M/dirlink"

step "symlinks"
ln -s target-does-not-exist "$M/dangling"
assert_eq target-does-not-exist "$(readlink "$M/dangling")" "readlink"
ln -s d/sub1/f "$M/sl"
assert_eq "regular empty file" "$(stat -L -c %F "$M/sl")" "stat through a symlink"
assert_eq "symbolic link" "$(stat -c %F "$M/sl")" "lstat of a symlink"
long=$(printf 'p%.0s' $(seq 1 1000))
ln -s "$long" "$M/longlink"
assert_eq "$long" "$(readlink "$M/longlink")" "readlink of a 1000-byte target"
assert_eq 1000 "$(stat -c %s "$M/longlink")" "size of a symlink"
ln -s loop2 "$M/loop1"
ln -s loop1 "$M/loop2"
assert_fails_with ELOOP cat "$M/loop1"

# ---------------------------------------------------------------- special files
step "FIFO, unix socket, device nodes"
mkfifo "$M/fifo"
assert_eq fifo "$(stat -c %F "$M/fifo")" "type of a FIFO"
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$M/sock"
assert_eq socket "$(stat -c %F "$M/sock")" "type of a socket"
mknod "$M/null" c 1 3
assert_eq "character special file 1 3" "$(stat -c '%F %t %T' "$M/null")" "char device"
mknod "$M/blk" b 7 200
assert_eq "block special file 7 c8" "$(stat -c '%F %t %T' "$M/blk")" "block device"

# ---------------------------------------------------------------- attributes
step "chmod, chown, nanosecond timestamps, ctime"
touch "$M/attr"
chmod 0751 "$M/attr"
assert_eq 751 "$(stat -c %a "$M/attr")" "mode after chmod"
chown 1234:5678 "$M/attr"
assert_eq 1234:5678 "$(stat -c %u:%g "$M/attr")" "owner after chown"
chown 4000000000:4000000001 "$M/empty"
assert_eq 4000000000:4000000001 "$(stat -c %u:%g "$M/empty")" "32-bit uid/gid"
touch -d '2020-01-02 03:04:05.123456789' "$M/attr"
assert_eq "2020-01-02 03:04:05.123456789 +0000" "$(stat -c %y "$M/attr")" "mtime"
assert_eq "2020-01-02 03:04:05.123456789 +0000" "$(stat -c %x "$M/attr")" "atime"
touch -a -d '2001-02-03 04:05:06.000000001' "$M/attr"
assert_eq "2001-02-03 04:05:06.000000001 +0000" "$(stat -c %x "$M/attr")" "atime alone"
assert_eq "2020-01-02 03:04:05.123456789 +0000" "$(stat -c %y "$M/attr")" "mtime kept by touch -a"
touch -m -d '1969-07-20 20:17:40.5' "$M/empty"
assert_eq "1969-07-20 20:17:40.500000000 +0000" "$(stat -c %y "$M/empty")" "mtime before 1970"
touch -d '2200-01-01 00:00:00.999999999' "$M/rand"
assert_eq "2200-01-01 00:00:00.999999999 +0000" "$(stat -c %y "$M/rand")" "mtime after 2038"
ctime1=$(stat -c %Z.%z "$M/attr")
sleep 0.05
chmod 0750 "$M/attr"
[[ "$(stat -c %Z.%z "$M/attr")" != "$ctime1" ]] || fail "chmod did not change ctime"
mtime1=$(stat -c %y "$M/a")
sleep 0.05
echo more >>"$M/a"
[[ "$(stat -c %y "$M/a")" != "$mtime1" ]] || fail "write did not change mtime"
dmtime=$(stat -c %y "$M/d")
sleep 0.05
touch "$M/d/newentry"
[[ "$(stat -c %y "$M/d")" != "$dmtime" ]] || fail "create did not change the dir's mtime"

# ---------------------------------------------------------------- truncate
step "truncate up and down: zeroes past the old end, no stale data"
head -c 3000000 /dev/urandom >"$T/tr"
cp "$T/tr" "$M/tr"
truncate -s 10M "$M/tr"
assert_eq 10485760 "$(fsize "$M/tr")" "size after truncate up"
assert_ok cmp -n 3000000 "$T/tr" "$M/tr"
assert_ok cmp -i 3000000:0 -n $((10485760 - 3000000)) "$M/tr" /dev/zero
truncate -s 100 "$M/tr"
assert_eq 100 "$(fsize "$M/tr")" "size after truncate down"
assert_ok cmp -n 100 "$T/tr" "$M/tr"
truncate -s 2M "$M/tr"
assert_ok cmp -i 100:0 -n $((2097152 - 100)) "$M/tr" /dev/zero
truncate -s 0 "$M/tr"
assert_eq 0 "$(fsize "$M/tr")" "size after truncate to 0"

# ---------------------------------------------------------------- ownership rules
step "setgid directory: new entries get the dir's group"
mkdir "$M/sg"
chgrp 1234 "$M/sg"
chmod 2775 "$M/sg"
touch "$M/sg/f"
mkdir "$M/sg/sub"
assert_eq 1234 "$(stat -c %g "$M/sg/f")" "gid of a file in a setgid dir"
assert_eq 1234 "$(stat -c %g "$M/sg/sub")" "gid of a dir in a setgid dir"
[[ "$(stat -c %A "$M/sg/sub")" == ??????s* ]] || fail "subdir of a setgid dir lost the setgid bit: $(stat -c %A "$M/sg/sub")"
mkdir "$M/nosg"
chgrp 1234 "$M/nosg"
touch "$M/nosg/f"
assert_eq 0 "$(stat -c %g "$M/nosg/f")" "gid of a file in a plain dir (root creates)"

step "SUID and SGID are cleared when a non-root user writes"
touch "$M/suid"
chmod 6777 "$M/suid"
assert_eq 6777 "$(stat -c %a "$M/suid")" "mode after chmod 6777"
as_user 1000 sh -c "echo data >> '$M/suid'"
assert_eq 777 "$(stat -c %a "$M/suid")" "mode after a write by uid 1000"

step "sticky directory: only the owner may delete"
mkdir "$M/sticky"
chmod 1777 "$M/sticky"
as_user 1000 sh -c "echo mine > '$M/sticky/f1000'"
assert_eq 1000:1000 "$(stat -c %u:%g "$M/sticky/f1000")" "owner of a file made by uid 1000"
assert_fails_with EPERM as_user 1001 rm -f "$M/sticky/f1000"
assert_fails_with EPERM as_user 1001 mv "$M/sticky/f1000" "$M/sticky/stolen"
assert_ok as_user 1000 rm "$M/sticky/f1000"

step "permission checks for another uid"
echo secret >"$M/priv"
chmod 0600 "$M/priv"
assert_fails_with EACCES as_user 1000 cat "$M/priv"
chmod 0644 "$M/priv"
assert_eq secret "$(as_user 1000 cat "$M/priv")" "read of a 0644 file by uid 1000"
assert_fails_with EACCES as_user 1000 sh -c "echo x >> '$M/priv'"
assert_fails_with EACCES as_user 1000 touch "$M/d/by1000"
mkdir -m 0700 "$M/closed"
assert_fails_with EACCES as_user 1000 ls "$M/closed"
assert_fails_with EPERM as_user 1000 chown 1000 "$M/priv"
assert_fails_with EPERM as_user 1000 chmod 777 "$M/priv"

# ---------------------------------------------------------------- names
step "a 255-byte name works, 256 bytes is ENAMETOOLONG"
n255=$(printf 'n%.0s' $(seq 1 255))
echo long >"$M/$n255"
assert_file_content "$M/$n255" $'long\n'
assert_eq 1 "$(ls "$M" | grep -c "^$n255\$")" "255-byte name listed"
assert_fails_with ENAMETOOLONG touch "$M/${n255}x"
assert_fails_with ENAMETOOLONG mkdir "$M/${n255}x"
utf=$'\xc3\xa9t\xc3\xa9 \xe2\x98\x83 name with spaces\ttab'
echo utf >"$M/$utf"
assert_file_content "$M/$utf" $'utf\n'

# ---------------------------------------------------------------- xattrs
step "extended attributes: user.* and trusted.*, list, remove"
touch "$M/xf"
setfattr -n user.color -v blue "$M/xf"
setfattr -n trusted.secret -v 0x00ff10 "$M/xf"
setfattr -n user.empty "$M/xf"
mid=$(head -c 512 /dev/zero | tr '\0' 'v')
setfattr -n user.mid -v "$mid" "$M/xf"
assert_eq blue "$(getfattr --absolute-names --only-values -n user.color "$M/xf")" "user.color"
assert_eq 0x00ff10 "$(getfattr --absolute-names -e hex -n trusted.secret "$M/xf" | sed -n 's/^trusted.secret=//p')" "trusted.secret"
assert_eq "$mid" "$(getfattr --absolute-names --only-values -n user.mid "$M/xf")" "512-byte value"
# A value too large for the volume's xattr space may be refused, cleanly.
big=$(head -c 3000 /dev/zero | tr '\0' 'w')
expect="trusted.secret user.color user.empty user.mid "
run_capture setfattr -n user.big -v "$big" "$M/xf"
if ((RC == 0)); then
	assert_eq "$big" "$(getfattr --absolute-names --only-values -n user.big "$M/xf")" "3000-byte value"
	expect="trusted.secret user.big user.color user.empty user.mid "
else
	assert_match "$(strerror E2BIG)|$(strerror ENOSPC)" "$OUT" "refusal of a 3000-byte xattr value"
	info "a 3000-byte xattr value is refused: $OUT"
fi
names=$(getfattr --absolute-names -d -m - "$M/xf" 2>/dev/null | sed -n 's/=.*//p' | grep -v '^#' | sort | tr '\n' ' ')
assert_eq "$expect" "$names" "listed xattrs"
setfattr -n user.color -v red "$M/xf"
assert_eq red "$(getfattr --absolute-names --only-values -n user.color "$M/xf")" "replaced value"
setfattr -x user.color "$M/xf"
run_capture getfattr --absolute-names -n user.color "$M/xf"
((RC != 0)) || fail "getfattr of a removed xattr succeeded"
assert_match 'No such attribute|No data available' "$OUT" "getfattr of a removed xattr"
mkdir "$M/xd"
setfattr -n user.dirattr -v yes "$M/xd"
assert_eq yes "$(getfattr --absolute-names --only-values -n user.dirattr "$M/xd")" "xattr on a dir"

# ---------------------------------------------------------------- fallocate
step "fallocate: -l, -n (keep size), -p (punch hole)"
fallocate -l 8M "$M/fa"
assert_eq 8388608 "$(fsize "$M/fa")" "size after fallocate -l 8M"
(($(stat -c '%b * %B' "$M/fa") >= 8388608)) || fail "fallocate -l 8M allocated only $(stat -c '%b*%B' "$M/fa") bytes"
assert_ok cmp -n 8388608 "$M/fa" /dev/zero
fallocate -n -o 8M -l 4M "$M/fa"
assert_eq 8388608 "$(fsize "$M/fa")" "size after fallocate -n past EOF"
fallocate -o 8M -l 4M "$M/fa"
assert_eq 12582912 "$(fsize "$M/fa")" "size after fallocate past EOF"
head -c 4M /dev/urandom >"$T/pat"
dd if="$T/pat" of="$M/fa" bs=1M conv=notrunc status=none
fallocate -p -o 1M -l 1M "$M/fa"
fallocate --punch-hole -o 3000 -l 5000 "$M/fa"
cp "$T/pat" "$T/pat.exp"
dd if=/dev/zero of="$T/pat.exp" bs=1M seek=1 count=1 conv=notrunc status=none
dd if=/dev/zero of="$T/pat.exp" bs=1 seek=3000 count=5000 conv=notrunc status=none
assert_ok cmp -n 4194304 "$T/pat.exp" "$M/fa"
assert_eq 12582912 "$(fsize "$M/fa")" "size after punching holes"

step "SEEK_DATA / SEEK_HOLE"
# 1 MiB data, 2 MiB never written, 1 MiB data: the middle must be a hole
truncate -s 4M "$M/sparse"
dd if="$T/pat" of="$M/sparse" bs=1M count=1 conv=notrunc status=none
dd if="$T/pat" of="$M/sparse" bs=1M seek=3 skip=3 count=1 conv=notrunc status=none
info "map: $("$TOOLS/seekdata" "$M/sparse" | tr '\n' ';')"
assert_eq 0 "$("$TOOLS/seekdata" "$M/sparse" data 0)" "SEEK_DATA from 0"
hole=$("$TOOLS/seekdata" "$M/sparse" hole 0)
((hole >= 1048576 && hole < 3145728)) || fail "SEEK_HOLE from 0 is $hole, expected in [1M, 3M)"
assert_eq 3145728 "$("$TOOLS/seekdata" "$M/sparse" data 1572864)" "SEEK_DATA from inside the hole"
assert_eq 4194304 "$("$TOOLS/seekdata" "$M/sparse" hole 3145728)" "SEEK_HOLE in the last data (EOF)"
assert_eq ENXIO "$("$TOOLS/seekdata" "$M/sparse" data 4194304)" "SEEK_DATA at EOF"
fallocate -p -o 3M -l 1M "$M/sparse"
assert_eq ENXIO "$("$TOOLS/seekdata" "$M/sparse" data 1572864)" "SEEK_DATA after punching the last block"
assert_ok cmp -n 1048576 "$T/pat" "$M/sparse"
assert_ok cmp -i 1048576:0 -n 3145728 "$M/sparse" /dev/zero

# ---------------------------------------------------------------- statfs, O_DIRECT
step "statfs and a 64 MiB O_DIRECT file"
read -r bsize blocks bfree bavail files ffree < <(stat -f -c '%S %b %f %a %c %d' "$M")
info "statfs: bsize $bsize blocks $blocks free $bfree avail $bavail files $files ffree $ffree"
((blocks > 0 && bfree <= blocks && bavail <= bfree)) || fail "statfs block counts are inconsistent"
total=$((blocks * bsize))
((total > 512 * 1048576 && total <= 1073741824)) || fail "statfs says $total bytes on a 1 GiB volume"
assert_match "$M\$" "$(df -P "$M" | tail -n 1)" "df of the mount"
head -c 64M /dev/urandom >"$T/big"
assert_ok dd if="$T/big" of="$M/big" bs=1M count=64 oflag=direct status=none
assert_ok cmp "$T/big" "$M/big"
cmp <(dd if="$M/big" bs=1M iflag=direct status=none) "$T/big" || fail "O_DIRECT read of big differs"
bfree2=$(stat -f -c %f "$M")
used=$(((bfree - bfree2) * bsize))
((used >= 64 * 1048576)) || fail "free space dropped by only $used bytes after writing 64 MiB"

# ---------------------------------------------------------------- ENOSPC
step "ENOSPC on a 64 MiB volume, then space comes back"
mkimg "$T/small.img" 64M
mkfs_vol "$T/small.img"
mount_vol "$T/small.img" "$T/small"
run_capture dd if=/dev/zero of="$T/small/fill" bs=1M count=200 status=none
((RC != 0)) || fail "writing 200 MiB to a 64 MiB volume succeeded"
assert_match "No space left on device" "$OUT" "dd on a full volume"
info "filled with $(fsize "$T/small/fill") bytes; avail $(stat -f -c %a "$T/small") blocks"
assert_fails_with ENOSPC sh -c "head -c 8M /dev/zero > '$T/small/more'"
rm -f "$T/small/fill" "$T/small/more"
assert_ok dd if=/dev/zero of="$T/small/again" bs=1M count=16 status=none
assert_ok dd if=/dev/zero of="$T/small/again2" bs=1M count=16 oflag=direct status=none
umount_vol "$T/small"
fsck_clean "$T/small.img"

# ---------------------------------------------------------------- refused mounts
step "mounts that must be refused"
mkimg "$T/junk.img" 256M
head -c 1M /dev/urandom | dd of="$T/junk.img" conv=notrunc status=none
assert_mount_refused "$T/junk.img" "$T/m-junk" 'csvfs|magic|superblock'
mkimg "$T/zero.img" 256M
assert_mount_refused "$T/zero.img" "$T/m-zero" 'csvfs|magic|superblock'
mkimg "$T/cut.img" 512M
mkfs_vol "$T/cut.img"
truncate -s 256M "$T/cut.img"
assert_mount_refused "$T/cut.img" "$T/m-cut" 'trunc|small|short|size|end of|beyond'
assert_mount_refused "$img" "$T/m-twice" 'mounted|alive|heartbeat|busy|in use'
rm -f "$T/junk.img" "$T/zero.img" "$T/cut.img"

# ---------------------------------------------------------------- remount
step "unmount, fsck clean, remount: everything is still there"
snapshot() {
	(
		cd "$M"
		# inode, type, mode, owner, size, links, mtime, ctime, symlink target
		find . -printf '%p %i %y %m %U:%G %s %n %T@ %C@ %l\n' | sort
		find . -type f ! -name attr -print0 | sort -z | xargs -0 sha256sum
		find . -print0 | sort -z | xargs -0 getfattr --absolute-names -h -d -m - -e hex 2>/dev/null
		stat -c '%n %x' ./attr	# never read: its atime must hold
		stat -f -c 'statfs %S %b %f %c %d' .
	)
}
snapshot >"$T/before"
umount_vol "$M"
fsck_clean "$img"
mount_vol "$img" "$M"
snapshot >"$T/after"
if ! diff -u "$T/before" "$T/after" >"$T/diff"; then
	_show "$(cat "$T/diff")"
	fail "the volume differs after a remount"
fi
info "$(wc -l <"$T/before") lines of listing, sums and xattrs identical"
assert_eq 2 "$(nlink "$M/h2")" "nlink after remount"
assert_file_content "$M/fulldir" $'A\n'

step "unmount, fsck clean again"
umount_vol "$M"
fsck_clean "$img"
step "done"
