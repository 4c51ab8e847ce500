/*
 * hb: on-disk node heartbeats (DESIGN.md "File ownership": owner death and
 * self-fencing).
 *
 * Every mounted node stamps its slot (include/csvfs/ondisk.h, struct
 * csvfs_hb) every CSVFS_HB_INTERVAL_MS: a standalone mount from its
 * coordinator, a cluster node from fs/cluster.c. A node that loses quorum
 * suspends its stamping at the moment it stops writing to the device
 * (self-fencing), so a heartbeat that stopped advancing means the node
 * writes nothing any more.
 *
 * The coordinator watches the slots (hb_watch): a node that left the
 * membership and whose counter has not advanced for CSVFS_HB_DEAD_MS,
 * counted from when the watch saw it advance last (or began), is dead and
 * its file ownership may be broken.
 */
#ifndef CSVFS_LOCKD_HB_H
#define CSVFS_LOCKD_HB_H

#include <stdint.h>
#include "csvfs/ondisk.h"

#include "csvfs/fencing.h"


struct dev;
struct hb;
struct hb_watch;

/* Reads and checks slot (node - 1). 0 or -errno / -CSVFS_E*. */
int hb_read(struct dev *d, const struct csvfs_super *sb, uint32_t slot,
	    struct csvfs_hb *out);

/*
 * Encodes hb (its header filled here) into heartbeat block mblk of the
 * volume uuid and writes it, not flushed. 0 or -errno. For the stamping
 * thread and fsck's slot reset.
 */
int hb_write(struct dev *d, uint64_t mblk, const uint8_t *uuid,
	     struct csvfs_hb *hb);

/*
 * Stamps node's slot with state (CSVFS_HB_STANDALONE / CLUSTER) now and
 * then every CSVFS_HB_INTERVAL_MS from a thread. 0 or -errno (the first
 * write failed: nothing runs).
 */
int hb_start(struct dev *d, const struct csvfs_super *sb, uint32_t node,
	     uint32_t state, struct hb **out);
/* on: stop stamping (fenced); off: stamp again. Any thread. */
void hb_suspend(struct hb *h, int on);
/* Stops the thread, stamps CSVFS_HB_LEFT, frees h. 0 or the write error. */
int hb_stop(struct hb *h);

/*
 * Whether a mount is using the volume: a slot recently stamped whose
 * counter still advances (waits 2.5 s once if any slot is recent).
 * Returns the slot + 1 with the slot in *who, 0 if none, or the first
 * read error when no slot is live (unreadable slots are skipped).
 * Used by the standalone start (hb_check_others) and by fsck.
 */
int hb_find_live(struct dev *d, const struct csvfs_super *sb,
		 struct csvfs_hb *who);
/*
 * Standalone start: -CSVFS_ELIVE (logged, naming the node) when another
 * mount is live (hb_find_live), its read error, or 0.
 */
int hb_check_others(struct dev *d, const struct csvfs_super *sb);

int hb_watch_start(struct dev *d, const struct csvfs_super *sb,
		   struct hb_watch **out);
/*
 * 1 when node's heartbeat has not advanced for dead_ms (0 = default
 * CSVFS_HB_DEAD_MS) while watched, or its slot says it left; else 0.
 */
int hb_watch_dead(struct hb_watch *w, uint32_t node, unsigned dead_ms);
void hb_watch_stop(struct hb_watch *w);

#endif /* CSVFS_LOCKD_HB_H */
