#!/bin/bash
# build-guest.sh — the tiny QEMU test guest of the VM tests, built offline
# from Debian packages: the kernel of linux-image-cloud-amd64 (downloaded
# with apt-get download and unpacked with dpkg-deb -x, never installed) and
# an initramfs of busybox-static plus tests/vm/guestwriter.c (gcc -static),
# whose /init loads the virtio modules and runs the writer on /dev/vda.
#
#   tests/vm/build-guest.sh BUILD_DIR      -> prints BUILD_DIR/vm
#
# BUILD_DIR/vm then holds vmlinuz and initrd.img. Cached: the kernel package
# is fetched once per build dir, and the initramfs is rebuilt only when one
# of its inputs changes (this script, the writer's sources, busybox, the
# kernel). Kernel command-line words rate=N (records/s) and sync=N (records
# per fdatasync) reach /init as environment variables.
set -euo pipefail

B=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$B/vm
META=linux-image-cloud-amd64
BUSYBOX=/bin/busybox
# What the guest needs from the kernel; loaded as modules when not built in.
WANT_MODS=(virtio_pci virtio_blk)

say() { printf 'build-guest: %s\n' "$*" >&2; }
die() { printf 'build-guest: error: %s\n' "$*" >&2; exit 1; }

for p in gcc dpkg-deb apt-get apt-cache modinfo gzip sha256sum; do
	command -v "$p" >/dev/null || die "$p is missing (run scripts/install-deps.sh)"
done
[[ -x $BUSYBOX ]] || die "$BUSYBOX is missing (package busybox-static)"
mkdir -p "$OUT"

# ---- the kernel: unpacked once per build dir
kernel_pkg() {
	apt-cache depends "$META" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}

fetch_kernel() {
	local pkg dl
	pkg=$(kernel_pkg)
	if [[ -z $pkg ]]; then
		say "apt knows no $META yet: apt-get update"
		apt-get -q update >&2 || die "apt-get update failed"
		pkg=$(kernel_pkg)
	fi
	[[ -n $pkg ]] || die "apt-cache finds no kernel package behind $META"
	dl=$OUT/dl
	rm -rf "$dl" "$OUT/kernel.new"
	mkdir -p "$dl"
	chmod 0777 "$dl"	# apt's download user writes there
	say "downloading $pkg"
	(cd "$dl" && apt-get -q download "$pkg" >&2) || die "apt-get download $pkg failed"
	dpkg-deb -x "$dl"/"$pkg"_*.deb "$OUT/kernel.new" || die "dpkg-deb -x failed"
	rm -rf "$dl" "$OUT/kernel"
	mv "$OUT/kernel.new" "$OUT/kernel"
	echo "$pkg" >"$OUT/kernel/.package"
}

[[ -s $OUT/kernel/.package ]] || fetch_kernel
KVER=$(basename "$(ls -d "$OUT"/kernel/lib/modules/*/ | head -n 1)")
VMLINUZ=$OUT/kernel/boot/vmlinuz-$KVER
CONFIG=$OUT/kernel/boot/config-$KVER
MODDIR=$OUT/kernel/lib/modules/$KVER
[[ -f $VMLINUZ && -f $CONFIG ]] || die "no vmlinuz/config for $KVER in $OUT/kernel"

# ---- cached?
stamp=$( (cat "$0" "$HERE/guestwriter.c" "$HERE/../tools/vmrec.h" "$BUSYBOX"
	cat "$OUT/kernel/.package"; gcc --version | head -n 1) | sha256sum | cut -c1-32)
if [[ -f $OUT/initrd.img && -f $OUT/vmlinuz && "$(cat "$OUT/stamp" 2>/dev/null)" == "$stamp" ]]; then
	echo "$OUT"
	exit 0
fi
say "building the initramfs ($KVER)"

# ---- modules: what is =m, with its dependencies first
declare -A seen=()
ORDER=()
mod_path() { find "$MODDIR" -name "$1.ko" -print -quit; }
add_mod() {
	local m=$1 p d
	[[ -z ${seen[$m]:-} ]] || return 0
	seen[$m]=1
	p=$(mod_path "$m")
	[[ -n $p ]] || die "module $m not found under $MODDIR"
	for d in $(modinfo -F depends "$p" | tr ',' ' '); do add_mod "$d"; done
	ORDER+=("$m")
}
for m in "${WANT_MODS[@]}"; do
	opt=CONFIG_${m^^}
	if grep -q "^$opt=y" "$CONFIG"; then
		continue
	elif grep -q "^$opt=m" "$CONFIG"; then
		add_mod "$m"
	else
		die "the kernel has no $opt"
	fi
done

# ---- the initramfs tree
root=$OUT/root.new
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,lib/modules}
cp "$BUSYBOX" "$root/bin/busybox"
for a in sh mount insmod sleep cat echo poweroff mkdir ls; do ln -s busybox "$root/bin/$a"; done
gcc -static -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$root/bin/guestwriter" \
	"$HERE/guestwriter.c" -lz || die "cannot build guestwriter (gcc -static, libz.a)"
: >"$root/lib/modules/order"
for m in "${ORDER[@]}"; do
	cp "$(mod_path "$m")" "$root/lib/modules/$m.ko"
	echo "$m" >>"$root/lib/modules/order"
done
cat >"$root/init" <<'EOF'
#!/bin/sh
# /init of the csvfs test guest: virtio modules, then the record writer.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do
	insmod /lib/modules/$m.ko || echo "init: insmod $m failed"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || echo "init: no /dev/vda"
echo "init: starting guestwriter"
exec /bin/guestwriter /dev/vda /dev/ttyS1 "${rate:-100}" "${sync:-8}"
EOF
chmod 0755 "$root/init"
(cd "$root" && find . | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null) |
	gzip -9 >"$OUT/initrd.img.new"
mv "$OUT/initrd.img.new" "$OUT/initrd.img"
cp "$VMLINUZ" "$OUT/vmlinuz"
rm -rf "$root"
echo "$stamp" >"$OUT/stamp"
say "guest ready: $OUT (kernel $KVER, modules: ${ORDER[*]:-none})"
echo "$OUT"
