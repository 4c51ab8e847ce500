/*
 * cluster: a node's part in a multi-node mount. Joins the volume's Corosync
 * group, elects the coordinator, runs it (metadata service + TLS server)
 * when elected, and gives the FUSE daemon one metadata transport that goes
 * to wherever the coordinator currently is.
 */
#ifndef CSVFS_FS_CLUSTER_H
#define CSVFS_FS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include "csvfs/ondisk.h"

struct dev;
struct clu;
struct mdc_transport;

#define CLU_DEFAULT_PORT 7420

struct clu_opts {
	struct dev *dev;		/* the shared device (coordinator role) */
	const struct csvfs_super *sb;	/* the volume (UUID names the group) */
	const uint8_t *key;		/* cluster key, 32 bytes */
	uint16_t port;			/* coordinator TLS port, 0 = default */
	int wait_ms;			/* how long start waits for service */
	/*
	 * The node's attribute and entry cache (net/mcache.h), kept coherent
	 * by the coordinator's INVAL pushes; NULL: the node caches nothing
	 * (it still acknowledges INVALs).
	 */
	struct mcache *cache;
	int lowspace_pct;		/* mds_opts.lowspace_pct */
};

/*
 * Joins the group and waits until a coordinator serves this node (or this
 * node became it). Returns 0, -ENOTCONN (no corosync), -EACCES (the
 * coordinator refused our key), -ETIMEDOUT (no coordinator, e.g. no
 * quorum), or another -errno; *why gets a message for the user.
 */
int clu_start(const struct clu_opts *o, struct clu **out, char *why,
	      size_t whylen);
/* Resigns the coordinator role if held, leaves the group, frees c. */
void clu_stop(struct clu *c);
uint32_t clu_node(const struct clu *c);
/* The transport that follows the coordinator. */
void clu_transport(struct clu *c, struct mdc_transport *t);
/*
 * The daemon's recall of a file (fsops_recall, then mdc_recall_done): run
 * on a thread of its own when the coordinator asks this node to give a
 * file up. Set once after clu_start, before the mount serves requests.
 */
void clu_set_recall(struct clu *c, void (*fn)(void *ctx, uint64_t ino),
		    void *ctx);
/*
 * Called with each inode another node changed (a coordinator INVAL), to
 * drop what the data path cached of it; must not block on I/O or RPCs
 * (fsops_inval). Set after clu_start; NULL to stop before freeing ctx.
 */
void clu_set_inval(struct clu *c, void (*fn)(void *ctx, uint64_t ino),
		   void *ctx);
/*
 * Self-fencing of the data path (fsops_fence): on when the node loses
 * quorum (before others may break its locks), off when it is back. Set
 * after clu_start; NULL before freeing ctx.
 */
void clu_set_fence(struct clu *c, void (*fn)(void *ctx, int on), void *ctx);
/*
 * Application locks (fsops_lock_wake / fsops_lock_reclaim): fn(ctx, id)
 * for a LOCK_WAKE push of queued request id, fn(ctx, 0) when another
 * coordinator serves or the connection was remade (reclaim). Must not
 * block. Set after clu_start; NULL before freeing ctx.
 */
void clu_set_locks(struct clu *c, void (*fn)(void *ctx, uint64_t wait_id),
		   void *ctx);
/* Control hooks for fsops (trusted.csvfs.status / trusted.csvfs.move). */
int clu_ctl_get(void *ctx, const char *name, char *buf, size_t size);
int clu_ctl_set(void *ctx, const char *name, const char *val, size_t len);

#endif /* CSVFS_FS_CLUSTER_H */
