# lib-vm.sh — run the QEMU test guest (tests/vm/build-guest.sh) on the nodes
# of a scripts/cluster cluster and live-migrate it. Source it after
# tests/integration/lib.sh and tmp_setup; needs CL (scripts/cluster) and
# CSVFS_CLUSTER_STATE set, and calls vm_setup once.
#
#   vm_setup                     build/find the guest, register cleanup
#   vm_start NAME NODE STYLE FILE [INCOMING]
#                                start QEMU instance NAME on NODE (TCG,
#                                256 MiB, daemonized) on FILE (a path inside
#                                the mount); STYLE: drive (-drive
#                                ...,cache=none,if=virtio, format from the
#                                file's suffix) or blockdev (libvirt's:
#                                file + raw nodes, auto-read-only,
#                                cache.direct); INCOMING: a -incoming URI.
#                                Returns QEMU's status; its output is in
#                                $VMD/NAME/qemu.out
#   vm_qmp NAME CMD [JSON]       one QMP command; prints QEMU's answer line,
#                                fails on an error answer
#   vm_wait_migration NAME SECS  until NAME's migration ends; $VM_OUT holds
#                                the last query-migrate; fails unless completed
#   vm_wait_status NAME STATUS SECS  until query-status says STATUS
#   vm_send NAME LINE            a command to the guest's writer (verify, stop)
#   vm_synced NAME               the last "gw: synced N" of NAME's console
#   vm_wait_synced NAME MIN SECS wait until NAME's console says synced > MIN
#   vm_clean NAME                fails on a BLOCK_IO_ERROR event or an I/O
#                                error on NAME's console
#   vm_quit NAME                 QMP quit, wait for the process to end
#   vm_kill NAME                 kill -9 (the host died)
#   vm_migrate SRC DST NODE STYLE FILE
#                                live migration of SRC to a new instance DST
#                                on NODE over TCP on the node subnet; checks
#                                the hop (completed, DST running, SRC gone,
#                                guest advancing, no I/O error); sets
#                                MIG_DOWNTIME (ms, QEMU's figure) and
#                                MIG_TOTAL (ms)
#
# Each instance has its own directory $VMD/NAME: console.log (serial 0),
# cmd.sock (serial 1: the writer's commands), qmp.sock, qmp.log, pid,
# qemu.out. One socat per instance holds the QMP connection for its whole
# life: commands go in through a FIFO (tagged with an id), and everything
# QEMU says (answers and every event, BLOCK_IO_ERROR included) lands in
# qmp.log. No process is started per command: on this loaded machine a
# python start costs seconds.

VM_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VMD=""
VM_RATE=${VM_RATE:-100}	# records per second
VM_SYNC=${VM_SYNC:-8}		# records per fdatasync
VM_PORT=4400
_VM_NAMES=()
_VM_LOGGERS=()
declare -A _VM_QFD=() _VM_QPID=()

vm_setup() {
	need qemu-system-x86_64 qemu-img python3 socat gcc
	VMD=${VMD:-$T/vm}
	mkdir -p "$VMD"
	VM_GUEST=$("$VM_HERE/build-guest.sh" "$B") || fail "cannot build the test guest"
	info "guest: $VM_GUEST"
	on_exit _vm_cleanup
}

_vm_pid() { cat "$VMD/$1/pid" 2>/dev/null; }

_vm_alive() {
	local pid
	pid=$(_vm_pid "$1") || return 1
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
		[[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == qemu-system* ]]
}

_vm_cleanup() {
	local n p
	for n in "${_VM_NAMES[@]}"; do
		_vm_alive "$n" && kill -KILL "$(_vm_pid "$n")" 2>/dev/null
	done
	for p in "${_VM_LOGGERS[@]}"; do kill "$p" 2>/dev/null; done
	return 0
}

declare -A _VM_IP=()
_vm_ip_fill() { # NODE: looked up once (a `cluster run` is costly under load)
	[[ -n "${_VM_IP[$1]:-}" ]] ||
		_VM_IP[$1]=$("$CL" run "$1" -- ip -4 -o addr show dev eth0 | awk '{ sub("/.*", "", $4); print $4; exit }')
}
vm_node_ip() { _vm_ip_fill "$1"; echo "${_VM_IP[$1]}"; }

# Runs CMD in the background with its output in FILE and waits for it: a
# signal (the test runner's time limit) interrupts `wait` at once, where
# bash would hold its trap until a foreground command ends, and then the
# runner's SIGKILL would come before the cleanup could end the QEMUs.
_vm_bg() { # FILE CMD...
	local f=$1 rc=0
	shift
	"$@" </dev/null >"$f" 2>&1 &
	wait $! || rc=$?
	return $rc
}

vm_start() {
	local name=$1 node=$2 style=$3 file=$4 incoming=${5:-} d fmt rc=0
	local -a disk args
	d=$VMD/$name
	[[ ! -e "$d" ]] || fail "VM instance name $name used twice"
	mkdir -p "$d"
	_VM_NAMES+=("$name")
	echo "$node" >"$d/node"
	fmt=raw
	[[ "$file" == *.qcow2 ]] && fmt=qcow2
	case $style in
	drive) disk=(-drive "file=$file,format=$fmt,cache=none,if=virtio") ;;
	blockdev)
		disk=(-blockdev "driver=file,filename=$file,node-name=f,cache.direct=on,auto-read-only=on,discard=unmap"
			-blockdev "driver=$fmt,file=f,node-name=d"
			-device virtio-blk-pci,drive=d) ;;
	*) fail "unknown disk style $style" ;;
	esac
	args=(-name "$name" -machine pc -accel tcg -m 256 -smp 1
		-nodefaults -no-user-config -display none
		-kernel "$VM_GUEST/vmlinuz" -initrd "$VM_GUEST/initrd.img"
		-append "console=ttyS0 quiet panic=-1 rate=$VM_RATE sync=$VM_SYNC"
		-chardev "file,id=con,path=$d/console.log" -serial chardev:con
		-chardev "socket,id=cmd,path=$d/cmd.sock,server=on,wait=off" -serial chardev:cmd
		-qmp "unix:$d/qmp.sock,server=on,wait=off"
		-pidfile "$d/pid" -daemonize "${disk[@]}")
	[[ -n "$incoming" ]] && args+=(-incoming "$incoming")
	printf '%s\n' "${args[*]}" >"$d/cmdline"
	_vm_bg "$d/qemu.out" timeout 120 "$CL" run "$node" -- qemu-system-x86_64 "${args[@]}" || rc=$?
	((rc == 0)) && _vm_qmp_open "$name"
	return $rc
}

# Connects NAME's monitor: socat reads commands from a FIFO that this shell
# keeps open (fd in _VM_QFD) and appends QEMU's output to qmp.log.
_vm_qmp_open() {
	local name=$1 d=$VMD/$1 fd
	mkfifo "$d/qmp.in"
	socat - "UNIX-CONNECT:$d/qmp.sock" <"$d/qmp.in" >"$d/qmp.log" 2>&1 &
	_VM_QPID[$name]=$!
	_VM_LOGGERS+=($!)
	exec {fd}>"$d/qmp.in"
	_VM_QFD[$name]=$fd
	vm_qmp "$name" qmp_capabilities >/dev/null || fail "$name: no QMP monitor: $(cat "$d/qmp.log")"
}

_vm_qmp_close() {
	local fd=${_VM_QFD[$1]:-}
	[[ -n "$fd" ]] || return 0
	exec {fd}>&-
	unset "_VM_QFD[$1]"
}

vm_qmp() {
	local name=$1 cmd=$2 args=${3:-} fd=${_VM_QFD[$1]:-} id line i
	if [[ -z "$fd" ]] || ! kill -0 "${_VM_QPID[$name]}" 2>/dev/null; then
		echo "qmp $cmd: $name: the monitor is closed" >&2
		return 1
	fi
	id=q$BASHPID.$RANDOM$RANDOM
	printf '{"execute": "%s"%s, "id": "%s"}\n' "$cmd" "${args:+, \"arguments\": $args}" "$id" >&"$fd"
	for ((i = 0; i < 600; i++)); do
		line=$(grep -F "\"id\": \"$id\"" "$VMD/$name/qmp.log") && break
		sleep 0.05
	done
	[[ -n "$line" ]] || { echo "qmp $cmd: $name: no answer" >&2; return 1; }
	echo "$line"
	[[ "$line" == *'"return"'* ]]
}

vm_wait_migration() {
	local name=$1 end=$((SECONDS + $2))
	while :; do
		VM_OUT=$(vm_qmp "$name" query-migrate) || return 1
		case $VM_OUT in
		*'"status": "completed"'*) return 0 ;;
		*'"status": "failed"'* | *'"status": "cancelled"'*) return 1 ;;
		esac
		((SECONDS < end)) || return 2
		sleep 0.2
	done
}

vm_wait_status() {
	local name=$1 end=$((SECONDS + $3))
	while :; do
		VM_OUT=$(vm_qmp "$name" query-status) || return 1
		[[ "$VM_OUT" == *"\"status\": \"$2\""* ]] && return 0
		((SECONDS < end)) || return 2
		sleep 0.2
	done
}

vm_send() {
	printf '%s\n' "$2" | timeout 10 socat - "UNIX-CONNECT:$VMD/$1/cmd.sock" ||
		fail "$1: cannot send \"$2\" to the guest"
}

vm_synced() {
	sed -n 's/^gw: synced \([0-9]*\).*/\1/p' "$VMD/$1/console.log" 2>/dev/null | tail -n 1
}

_vm_synced_over() { local s; s=$(vm_synced "$1"); [[ -n "$s" ]] && ((s > $2)); }

vm_wait_synced() {
	local name=$1 min=$2 secs=$3
	wait_for $((secs * 10)) _vm_synced_over "$name" "$min" || {
		tail -n 20 "$VMD/$name/console.log" >&2
		fail "$name: the guest did not sync past record $min within ${secs}s (last: $(vm_synced "$name"))"
	}
}

# Fails when QEMU reported an I/O error to QMP or the guest saw one.
vm_clean() {
	local d=$VMD/$1 bad
	bad=$(grep -E '"BLOCK_IO_ERROR"' "$d/qmp.log" 2>/dev/null || true)
	[[ -z "$bad" ]] || { _show "$bad"; fail "$1: QEMU reported BLOCK_IO_ERROR"; }
	bad=$(grep -iE 'I/O error|blk_update_request|Buffer I/O' "$d/console.log" 2>/dev/null || true)
	[[ -z "$bad" ]] || { _show "$bad"; fail "$1: the guest saw an I/O error"; }
}

vm_quit() {
	local name=$1
	_vm_alive "$name" || return 0
	vm_qmp "$name" quit >/dev/null 2>&1 || true
	wait_for 300 eval '! _vm_alive '"$name" || {
		kill -KILL "$(_vm_pid "$name")" 2>/dev/null
		fail "$name: QEMU did not quit within 30 s"
	}
	_vm_qmp_close "$name"
}

vm_kill() {
	_vm_alive "$1" && kill -KILL "$(_vm_pid "$1")"
	wait_for 100 eval '! _vm_alive '"$1" || fail "$1: QEMU still alive after kill -9"
	_vm_qmp_close "$1"
}

vm_migrate() {
	local src=$1 dst=$2 node=$3 style=$4 file=$5 ip uri out last t0=$SECONDS
	local -a tm=()
	VM_PORT=$((VM_PORT + 1))
	_vm_ip_fill "$node"
	ip=${_VM_IP[$node]}
	[[ -n "$ip" ]] || fail "no address for node $node"
	uri=tcp:$ip:$VM_PORT
	if ! vm_start "$dst" "$node" "$style" "$file" "$uri"; then
		_show "$(cat "$VMD/$dst/qemu.out")"
		fail "$src -> $dst: the target QEMU on node $node did not start"
	fi
	tm+=("target up $((SECONDS - t0))")
	vm_qmp "$src" migrate-set-parameters '{"max-bandwidth": 1073741824}' >/dev/null ||
		fail "$src: migrate-set-parameters failed"
	vm_qmp "$src" migrate "{\"uri\": \"$uri\"}" >/dev/null || fail "$src: migrate failed to start"
	vm_wait_migration "$src" 180 || {
		out=$VM_OUT
		_show "$out"
		_show "$(tail -n 5 "$VMD/$dst/qmp.log"; cat "$VMD/$dst/qemu.out")"
		fail "$src -> $dst (node $node): the migration did not complete"
	}
	out=$VM_OUT
	tm+=("migrated $((SECONDS - t0))")
	MIG_DOWNTIME=$(sed -n 's/.*"downtime": \([0-9]*\).*/\1/p' <<<"$out")
	MIG_TOTAL=$(sed -n 's/.*"total-time": \([0-9]*\).*/\1/p' <<<"$out")
	vm_wait_status "$dst" running 60 ||
		fail "$dst: not running on node $node after the migration"
	tm+=("running $((SECONDS - t0))")
	last=$(vm_synced "$src")
	vm_quit "$src"
	tm+=("source gone $((SECONDS - t0))")
	vm_wait_synced "$dst" "${last:-0}" 60
	vm_clean "$src"
	vm_clean "$dst"
	info "$src -> $dst on node $node: downtime ${MIG_DOWNTIME} ms, total ${MIG_TOTAL} ms, synced ${last:-0} -> $(vm_synced "$dst") ($((SECONDS - t0)) s: $(IFS=,; echo "${tm[*]}"))"
}
