/*
 * nodeview: the table behind `csvfsctl nodes` -- every node slot in use on
 * a volume, with its on-disk heartbeat, whether it is in this node's
 * membership, fenced, dead, the coordinator, and the files it owns.
 *
 * The heartbeat slots are read from the device itself (the mount's
 * source: every node sees the shared device), the membership, quorum and
 * coordinator come from the local daemon's status, the owned files from
 * the coordinator through each file's ownership xattr. The judgments
 * follow DESIGN.md "File ownership": a node is dead when it left the
 * membership and its heartbeat has not advanced for CSVFS_HB_DEAD_MS;
 * a slot in use whose heartbeat stopped for NODEVIEW_STALE_MS and that
 * is not (yet) dead is fenced (it lost quorum and stopped writing, or it
 * died and the timeout runs); this node is fenced while it has no quorum.
 * The heartbeat age is the reader's clock minus the time stamp the node
 * wrote, so it assumes the nodes' clocks agree (NTP), as the humans
 * reading the stamp do.
 */
#ifndef CSVFS_FS_NODEVIEW_H
#define CSVFS_FS_NODEVIEW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Three missed stamps: the node stopped writing its heartbeat. */
#define NODEVIEW_STALE_MS	3000

struct nodeview_row {
	uint32_t node;
	char host[64];
	uint32_t hb_state;	/* CSVFS_HB_*, or ~0u: no slot (member only) */
	uint64_t hb_counter;
	int64_t hb_age_ms;	/* now - the node's stamp; -1: no slot */
	int member, fenced, dead, coordinator, self;
	uint32_t owned;		/* files it holds open for writing */
};

struct nodeview {
	int cluster;		/* a cluster mount (else standalone) */
	int quorate;
	uint32_t self, coord;
	size_t n;
	struct nodeview_row *rows;	/* by node id */
};

/*
 * Reads the heartbeat slots in use (node id set) of the volume on device
 * into v->rows, with their age at now_ns (CLOCK_REALTIME). 0 or -errno /
 * -CSVFS_E*. v->rows is malloc'd (nodeview_free).
 */
int nodeview_read_slots(const char *device, uint64_t now_ns,
			struct nodeview *v);
/*
 * Marks the members (adding rows for members without a slot), the
 * coordinator and this node (v->self, v->coord, v->quorate set), then
 * judges fenced and dead. 0 or -ENOMEM.
 */
int nodeview_judge(struct nodeview *v, const uint32_t *members,
		   size_t nmembers);
/* Adds one owned file to node's row (ignored when node has none). */
void nodeview_add_owned(struct nodeview *v, uint32_t node);
/* The table on f; json: one JSON object, no newline after it. */
void nodeview_print(const struct nodeview *v, int json, FILE *f);
void nodeview_free(struct nodeview *v);

#endif /* CSVFS_FS_NODEVIEW_H */
