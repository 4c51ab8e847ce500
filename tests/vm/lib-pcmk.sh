# lib-pcmk.sh — the Pacemaker configuration of a csvfs volume and a libvirt
# VM, written once for t2500, t2550, `make demo` and the Pacemaker bench. Source it
# with PCMK_CL (scripts/cluster) and CSVFS_CLUSTER_STATE set, on a cluster
# started with `scripts/cluster up --no-mount --pacemaker --libvirt`.
#
#   pcmk_domain_xml FILE GUEST_DIR DISK CONSOLE RATE SYNC
#                        writes domain vm1: the test guest (tests/vm) with
#                        DISK as virtio raw, cache='none' io='native', the
#                        serial console appended to CONSOLE
#   pcmk_add_volume PROV DEV DIR KEY BINDIR OPTIONS
#                        the clone vol-clone of ocf:PROV:csvfs mounting DEV
#                        on DIR on every node (monitor 10 s)
#   pcmk_add_vm CONFIG   VirtualDomain resource 'vm' (allow-migrate, libvirt
#                        migration over TCP, --unsafe: libvirt 9 does not
#                        know csvfs as shared; cache='none' makes it safe),
#                        ordered after and placed with vol-clone
#   pcmk_add_fence       fence_csvfs_harness (kills a harness node) and
#                        stonith-enabled=true
#   pcmk_located [NODE]  the node name the VM runs on, as NODE (default 1)
#                        sees it; empty when it runs nowhere
#   pcmk_wait_located NAME SECS [NODE]
#                        until the VM runs on NAME (any node but NAME when
#                        NAME is !nodeN); fails after SECS
#   pcmk_move TO SECS    crm_resource --move to TO, wait until it runs
#                        there, clear the constraint; PCMK_MS holds the time,
#                        PCMK_MIGRATE_MS the libvirt migration's part of it
#                        (migrate_to's exec-time as Pacemaker recorded it)

_pcmk_run() { "$PCMK_CL" run "$@"; }
_pcmk_cib() { _pcmk_run 1 -- cibadmin -C -o "$1" --xml-text "$2"; }

pcmk_domain_xml() {
	cat >"$1" <<XML
<domain type='qemu'>
  <name>vm1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$2/vmlinuz</kernel>
    <initrd>$2/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 rate=$5 sync=$6</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' cache='none' io='native'/>
      <source file='$3'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'>
      <source path='$4' append='on'/>
      <target port='0'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
XML
}

pcmk_add_volume() {
	_pcmk_cib resources "
<clone id='vol-clone'>
  <meta_attributes id='vol-clone-meta'>
    <nvpair id='vol-clone-il' name='interleave' value='true'/>
  </meta_attributes>
  <primitive id='vol' class='ocf' provider='$1' type='csvfs'>
    <instance_attributes id='vol-ia'>
      <nvpair id='vol-dev' name='device' value='$2'/>
      <nvpair id='vol-dir' name='directory' value='$3'/>
      <nvpair id='vol-key' name='keyfile' value='$4'/>
      <nvpair id='vol-bin' name='bindir' value='$5'/>
      <nvpair id='vol-opt' name='options' value='$6'/>
    </instance_attributes>
    <operations>
      <op id='vol-mon' name='monitor' interval='10s' timeout='20s'/>
      <op id='vol-start' name='start' interval='0' timeout='90s'/>
      <op id='vol-stop' name='stop' interval='0' timeout='60s'/>
    </operations>
  </primitive>
</clone>"
}

pcmk_add_vm() {
	_pcmk_cib resources "
<primitive id='vm' class='ocf' provider='heartbeat' type='VirtualDomain'>
  <instance_attributes id='vm-ia'>
    <nvpair id='vm-cfg' name='config' value='$1'/>
    <nvpair id='vm-hv' name='hypervisor' value='qemu:///system'/>
    <nvpair id='vm-tr' name='migration_transport' value='tcp'/>
    <nvpair id='vm-mo' name='migrate_options' value='--unsafe'/>
    <nvpair id='vm-fs' name='force_stop' value='true'/>
  </instance_attributes>
  <meta_attributes id='vm-meta'>
    <nvpair id='vm-am' name='allow-migrate' value='true'/>
  </meta_attributes>
  <operations>
    <op id='vm-mon' name='monitor' interval='10s' timeout='30s'/>
    <op id='vm-start' name='start' interval='0' timeout='120s'/>
    <op id='vm-stop' name='stop' interval='0' timeout='120s'/>
    <op id='vm-mt' name='migrate_to' interval='0' timeout='180s'/>
    <op id='vm-mf' name='migrate_from' interval='0' timeout='60s'/>
  </operations>
</primitive>" &&
	_pcmk_cib constraints \
		"<rsc_order id='vol-before-vm' first='vol-clone' then='vm' kind='Mandatory'/>" &&
	_pcmk_cib constraints \
		"<rsc_colocation id='vm-with-vol' rsc='vm' with-rsc='vol-clone' score='INFINITY'/>"
}

pcmk_add_fence() {
	_pcmk_cib resources "
<primitive id='fence' class='stonith' type='fence_csvfs_harness'>
  <instance_attributes id='fence-ia'>
    <nvpair id='fence-cl' name='cluster' value='$PCMK_CL'/>
    <nvpair id='fence-st' name='state' value='$CSVFS_CLUSTER_STATE'/>
    <nvpair id='fence-hl' name='pcmk_host_list' value='node1 node2 node3'/>
    <nvpair id='fence-hc' name='pcmk_host_check' value='static-list'/>
  </instance_attributes>
  <operations>
    <op id='fence-mon' name='monitor' interval='60s'/>
  </operations>
</primitive>" &&
	_pcmk_run 1 -- crm_attribute -t crm_config -n stonith-enabled -v true >/dev/null
}

pcmk_located() {
	_pcmk_run "${1:-1}" -- crm_resource --locate -r vm 2>/dev/null |
		sed -n 's/.*running on: \(node[0-9]*\).*/\1/p'
}

pcmk_wait_located() { # NAME SECS [NODE]
	local end=$((SECONDS + $2)) at
	while ((SECONDS < end)); do
		at=$(pcmk_located "${3:-1}")
		if [[ $1 == !* ]]; then
			[[ -n $at && $at != "${1#!}" ]] && return 0
		elif [[ $at == "$1" ]]; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}

pcmk_move() { # TO SECS
	local t0 rc=0 from
	from=$(pcmk_located)
	t0=$(date +%s%N)
	_pcmk_run 1 -- crm_resource --move -r vm -N "$1" >/dev/null 2>&1 || return 1
	pcmk_wait_located "$1" "$2" || rc=1
	PCMK_MS=$((($(date +%s%N) - t0) / 1000000))
	_pcmk_run 1 -- crm_resource --clear -r vm >/dev/null 2>&1 || true
	# the source's last migrate_to is this move's: its exec-time is the
	# libvirt migration alone, the rest of PCMK_MS is Pacemaker's
	PCMK_MIGRATE_MS=$(_pcmk_run 1 -- cibadmin -Q --xpath \
		"//node_state[@uname='$from']//lrm_resource[@id='vm']/lrm_rsc_op[@operation='migrate_to']" 2>/dev/null |
		sed -n 's/.* exec-time="\([0-9]*\)".*/\1/p' | head -n 1)
	return $rc
}
