/*
 * memb: cluster membership and ordered messages through Corosync: one CPG
 * process group per volume ("csvfs-" + volume UUID), quorum from
 * votequorum. A dispatch thread polls both Corosync fds and calls back;
 * callbacks run on that thread, one at a time, in Corosync's total order,
 * so every member sees the same sequence of membership changes and
 * messages (the basis of a deterministic coordinator choice).
 */
#ifndef CSVFS_MEMB_H
#define CSVFS_MEMB_H

#include <stddef.h>
#include <stdint.h>

struct memb;

struct memb_cb {
	/* The group's members (node ids, sorted, unique) or quorum changed. */
	void (*changed)(void *ctx, const uint32_t *nodes, size_t n,
			int quorate);
	/* A message multicast by a member (including this node). */
	void (*message)(void *ctx, uint32_t from, const void *msg, size_t len);
};

/*
 * Connects to the local corosync, joins group and starts tracking quorum.
 * *out is set before the first callback can run. Returns 0 or -errno
 * (-ENOTCONN when corosync is not running).
 */
int memb_start(const char *group, const struct memb_cb *cb, void *ctx,
	       struct memb **out);
/* Leaves the group and stops the dispatch thread. */
void memb_stop(struct memb *m);
uint32_t memb_local_node(const struct memb *m);
/*
 * The ring0 address of node (from corosync's nodelist) into addr.
 * Returns 0, -ENOENT if the node is not in the nodelist, or -errno.
 */
int memb_node_addr(uint32_t node, char *addr, size_t len);
/* Multicasts msg to the group in total order (retries CS_ERR_TRY_AGAIN). */
int memb_send(struct memb *m, const void *msg, size_t len);

#endif /* CSVFS_MEMB_H */
