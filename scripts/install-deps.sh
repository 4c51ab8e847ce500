#!/usr/bin/env bash
# install-deps.sh — install the Debian 12 packages csvfs needs to build, test,
# benchmark and run its local multi-node cluster.
#
# Idempotent and non-interactive: when every package is already installed it
# does not call apt-get at all; otherwise it runs `apt-get update` once and
# installs only what is missing. Run as root (or through sudo).
#
# Services: corosync/pacemaker ship init scripts that dpkg would start on the
# host. csvfs never wants host-level cluster daemons (scripts/cluster runs them
# in private namespaces), so during the install a policy-rc.d that forbids
# service starts is put in place (unless one already exists), and any
# corosync/pacemakerd process that appeared in *this* host namespace during
# the install is stopped afterwards, by pid. Processes that were running
# before, or that live in other namespaces (a running scripts/cluster), are
# left alone.
#
# Recommends are not installed (--no-install-recommends): every package the
# project uses is named below, which keeps a fresh machine's install small.
set -euo pipefail

PACKAGES=(
	# build
	build-essential pkg-config clang libclang-rt-14-dev
	libfuse3-dev libssl-dev zlib1g-dev libcunit1-dev
	libcpg-dev libquorum-dev libcmap-dev libvotequorum-dev libcfg-dev
	# run and test
	fuse3 corosync pacemaker pacemaker-cli-utils resource-agents
	libxml2-utils		# xmllint, used by ocf-tester to check meta-data
	qemu-utils fio valgrind attr python3 sqlite3
	strace			# t3300: the writes of a woken coordinator
	# the QEMU test guest (tests/vm): TCG, busybox initramfs, serial commands
	qemu-system-x86 busybox-static socat
	bsdutils		# script(1): a pty for the progress tests
	# man pages and the Debian package (make check, make deb)
	mandoc debhelper dpkg-dev fakeroot lintian
	# the cluster harness (ip netns, unshare/nsenter, ps, fuser, modprobe)
	iproute2 util-linux procps psmisc kmod
)
CLUSTER_DAEMONS=(corosync pacemakerd)
POLICY_RC=/usr/sbin/policy-rc.d

say() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

is_installed() {
	[[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

# Pids of cluster daemons running in our own network + mount namespace, i.e.
# on the host as far as this script can tell.
host_daemon_pids() {
	local self_net self_mnt name pid
	self_net=$(readlink /proc/self/ns/net)
	self_mnt=$(readlink /proc/self/ns/mnt)
	for name in "${CLUSTER_DAEMONS[@]}"; do
		for pid in $(pgrep -x "$name" 2>/dev/null || true); do
			[[ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" == "$self_net" ]] || continue
			[[ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" == "$self_mnt" ]] || continue
			echo "$pid"
		done
	done | sort -n
}

policy_created=0
cleanup_policy() {
	if (( policy_created )); then rm -f "$POLICY_RC"; fi
}

install_missing() {
	local missing=("$@") p unknown=()
	export DEBIAN_FRONTEND=noninteractive
	say "missing: ${missing[*]}"
	say "running apt-get update"
	apt-get -y -q update || die "apt-get update failed"
	for p in "${missing[@]}"; do
		apt-cache show "$p" >/dev/null 2>&1 || unknown+=("$p")
	done
	(( ${#unknown[@]} == 0 )) || die "apt knows no package named: ${unknown[*]}"

	if [[ ! -e "$POLICY_RC" ]]; then
		printf '#!/bin/sh\n# written by csvfs install-deps.sh; removed after the install\nexit 101\n' \
			>"$POLICY_RC"
		chmod 0755 "$POLICY_RC"
		policy_created=1
		trap cleanup_policy EXIT
	fi

	local before after pid
	before=$(host_daemon_pids)
	apt-get -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		install "${missing[@]}" || die "apt-get install failed"
	after=$(host_daemon_pids)

	# Stop host-level daemons the install started (present now, absent before).
	for pid in $(comm -13 <(echo "$before") <(echo "$after")); do
		say "stopping $(cat "/proc/$pid/comm" 2>/dev/null || echo daemon) (pid $pid) started by the install"
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $(comm -13 <(echo "$before") <(echo "$after")); do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	# With systemd, also make sure the units are not left running or enabled
	# (policy-rc.d covers invoke-rc.d; deb-systemd-invoke honours it too).
	if [[ -d /run/systemd/system ]]; then
		systemctl disable --now corosync.service pacemaker.service >/dev/null 2>&1 || true
	fi
	cleanup_policy
	policy_created=0
}

ensure_fuse() {
	if command -v modprobe >/dev/null 2>&1; then
		modprobe fuse 2>/dev/null || true
	fi
	if [[ ! -e /dev/fuse ]]; then
		say "creating /dev/fuse"
		mknod -m 0666 /dev/fuse c 10 229 || die "cannot create /dev/fuse"
	fi
	[[ -c /dev/fuse ]] || die "/dev/fuse is not a character device"
}

main() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		is_installed "$p" || missing+=("$p")
	done
	if (( ${#missing[@]} )); then
		# only installing needs root: `make install DESTDIR=...` as a
		# user on a machine that has everything must work
		(( EUID == 0 )) || die "must run as root to install: ${missing[*]}"
		install_missing "${missing[@]}"
	else
		say "all ${#PACKAGES[@]} packages already installed"
	fi
	if (( EUID == 0 )); then ensure_fuse; fi
	say "done"
}

main "$@"
