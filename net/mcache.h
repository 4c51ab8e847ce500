/*
 * mcache: a cluster node's cache of attributes and directory entries, kept
 * coherent by the coordinator's INVAL pushes (include/csvfs/proto.h).
 *
 * The metadata client (net/mdc.c) answers LOOKUP and GETATTR from it and
 * fills it from the coordinator's replies. Rules that make it coherent:
 *   - an entry lives at most the lease (CSVFS_CACHE_LEASE_MS) from the
 *     moment the request that filled it was sent (mcache_begin), so a node
 *     that misses an INVAL (cut off, coordinator gone) stops using what it
 *     may have missed within the time the coordinator waits for it;
 *   - a reply is not cached when an INVAL about one of its inodes arrived
 *     after the request was sent (it may predate the change);
 *   - mcache_inval(ino) drops ino's attributes and every entry of the
 *     directory ino; an entry is only a hit while its inode's attributes
 *     are cached too.
 *
 * Thread-safe. Bounded: when full, the cache starts over empty.
 */
#ifndef CSVFS_NET_MCACHE_H
#define CSVFS_NET_MCACHE_H

#include <stddef.h>
#include <stdint.h>
#include "csvfs/proto.h"

struct mcache;

/* Taken before sending the request whose reply may be cached. */
struct mcache_tok {
	uint64_t gen;		/* invalidations seen so far */
	uint64_t expire_ns;	/* CLOCK_MONOTONIC deadline of the lease */
};

struct mcache_stats {
	uint64_t hits, misses, invals, fills, refused, clears, entries;
};

/* max_entries: attributes + names kept (0 = 65536); lease_ms 0 = default. */
int mcache_new(size_t max_entries, unsigned lease_ms, struct mcache **out);
void mcache_free(struct mcache *mc);

void mcache_begin(struct mcache *mc, struct mcache_tok *t);
/* 0 and *a on a hit; -EAGAIN on a miss. */
int mcache_get_attr(struct mcache *mc, uint64_t ino, struct csvfs_attr *a);
/*
 * 0 and *a: name is ino a->ino; -ENOENT: name is known not to exist;
 * -EAGAIN: not cached.
 */
int mcache_get_entry(struct mcache *mc, uint64_t parent, const char *name,
		     struct csvfs_attr *a);
void mcache_put_attr(struct mcache *mc, const struct mcache_tok *t,
		     const struct csvfs_attr *a);
/* a NULL: a negative entry (the name does not exist). */
void mcache_put_entry(struct mcache *mc, const struct mcache_tok *t,
		      uint64_t parent, const char *name,
		      const struct csvfs_attr *a);
/* Drops ino's attributes and, if it is a directory, its entries. */
void mcache_inval(struct mcache *mc, uint64_t ino);
/* Drops everything (reconnect, coordinator change). */
void mcache_clear(struct mcache *mc);
void mcache_get_stats(struct mcache *mc, struct mcache_stats *st);

#endif /* CSVFS_NET_MCACHE_H */
