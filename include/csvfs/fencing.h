/*
 * fencing.h: the timing of fencing, written once (issue 13). The
 * heartbeat (lockd/hb.h), the watchdog (meta/dev.c), the journal's epoch
 * proof (meta/jrnl.c) and the election (fs/elect.c, fs/cluster.c) all
 * follow these constants; the rules between them are checked at compile
 * time below.
 */
#ifndef CSVFS_FENCING_H
#define CSVFS_FENCING_H

#include "csvfs/ondisk.h"

/*
 * The timing of fencing, in one place (issue 13). Names:
 *   T_hb    CSVFS_HB_INTERVAL_MS (1 s, ondisk.h): a node stamps its slot
 *   T_dead  CSVFS_HB_DEAD_MS (5 s, ondisk.h): a node out of the membership
 *           whose slot a watcher has not seen advance this long is dead:
 *           another node may take its files from then on
 *   T_io    CSVFS_IO_DEADLINE_MS: every device write a node submits (file
 *           data, metadata, journal, heartbeat, zeroing) must have
 *           returned this long after it began (a flush submits no new
 *           data and is not timed)
 *   T_tick  CSVFS_WATCHDOG_TICK_MS: how often the watchdog (meta/dev.c)
 *           looks; a write older than T_io makes it kill the daemon
 *           (SIGKILL to itself), as a hardware watchdog would reset the host
 *
 * Data: let S be the end of a node's last heartbeat stamp that a watcher
 * saw. Every watcher counts T_dead from a read made after S. A node
 * stamps again at S + T_hb unless it fenced itself first (quorum lost:
 * it starts no write after that) or that stamp hangs (then it is a write
 * older than T_io at S + T_hb + T_io). So the last write the node can
 * have in flight began before S + T_hb and ends, or the node is killed,
 * before S + T_hb + T_io + T_tick. Rule 1:
 *     T_hb + T_io + T_tick + margin <= T_dead
 * here 1000 + 2500 + 100 + 1400 = 5000: the margin covers the kill taking
 * effect and a loaded scheduler. CSVFS_IO_DEADLINE_MS is checked against
 * it at compile time below.
 *
 * Metadata: a member of the CPG group whose slot has not advanced for
 * T_depose (CSVFS_DEPOSE_MS) while the others wait for it (it serves as
 * coordinator, or a round waits for its STATE) is deposed through the
 * total order (ELECT_DEPOSE, fs/elect.c). Rule 2: T_depose > T_hb + T_io,
 * so a coordinator whose stamps merely hang has killed itself first, and
 * a live one is not deposed for one late stamp. The deposed one may still
 * run: its epoch check (meta/jrnl.c) proves the epoch for T_proof
 * (CSVFS_FENCE_PROOF_MS) from when its read was issued, and every write
 * asks for a fresh proof. Rule 3: after a depose, and after a coordinator
 * went away with its node (cut off, it serves until its own Corosync
 * reports the quorum loss), the new coordinator neither replays nor
 * writes for T_proof + T_io + T_tick after its epoch bump
 * (CSVFS_FENCE_WAIT_MS): a write the old one began under an old proof has
 * ended or killed it. After a node loss the new coordinator first waits
 * until its quorum is known for the ring that lost the node (net/memb.h,
 * memb_cb.ring; the grace of fs/elect.c as a fallback): not for the old
 * coordinator's writes but so that a cut-off lone node hears of its
 * quorum loss before it could elect itself and bump the epoch (Corosync
 * may deliver the configuration change first).
 *
 * What no software timer closes: a process stopped between its last clock
 * check and the write entering the kernel, and a write the kernel or the
 * storage holds after the process died (a killed process's submitted I/O
 * still completes). A real deployment must therefore bound the I/O below
 * T_io in the storage stack: SCSI command timeout and multipath
 * (fast_io_fail_tmo, no_path_retry as a count, never "queue") such that a
 * write fails, not waits, within T_io; or run a hardware watchdog that
 * resets the host when the daemon stops petting it (as sanlock's wdmd
 * does), with its timeout below T_dead - T_hb. The test-only stall
 * (meta/dev.h, CSVFS_TEST_DEV_STALL) delays writes in user space before
 * they are submitted, which the watchdog does stop.
 */
/*
 * Grace after a coordinator went away with its node (fs/elect.c): it
 * ends when that node's slot has stood still this long while watched (a
 * node that loses quorum stops its role, then its stamps: two missed
 * stamps mean it has), at the latest after GRACE_MS (fs/cluster.c).
 */
#define CSVFS_GRACE_HB_MS	(2 * CSVFS_HB_INTERVAL_MS)
#define CSVFS_IO_DEADLINE_MS	2500
#define CSVFS_WATCHDOG_TICK_MS	100
#define CSVFS_DEPOSE_MS		4000
#define CSVFS_FENCE_PROOF_MS	150
#define CSVFS_FENCE_WAIT_MS	(CSVFS_FENCE_PROOF_MS + CSVFS_IO_DEADLINE_MS + \
				 CSVFS_WATCHDOG_TICK_MS)
_Static_assert(CSVFS_HB_INTERVAL_MS + CSVFS_IO_DEADLINE_MS +
	       CSVFS_WATCHDOG_TICK_MS + 1000 <= CSVFS_HB_DEAD_MS,
	       "rule 1: an I/O must end or the node die before it is dead");
_Static_assert(CSVFS_DEPOSE_MS > CSVFS_HB_INTERVAL_MS + CSVFS_IO_DEADLINE_MS,
	       "rule 2: a hung coordinator kills itself before it is deposed");

#endif
