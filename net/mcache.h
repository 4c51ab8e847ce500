/*
 * mcache: a cluster node's cache of attributes and directory entries, kept
 * coherent by the coordinator's INVAL pushes (include/csvfs/proto.h).
 *
 * The metadata client (net/mdc.c) answers LOOKUP and GETATTR from it and
 * fills it from the coordinator's replies. Rules that make it coherent:
 *   - the cache answers only during the lease: CSVFS_CACHE_LEASE_MS from
 *     the send time (mcache_begin) of the latest request that was
 *     answered (mcache_renew, and every fill), so a node that misses an
 *     INVAL (cut off, coordinator gone) stops using what it may have
 *     missed within the time the coordinator waits for it; when the lease
 *     has run out everything is dropped;
 *   - a reply is not cached when an INVAL about one of its inodes arrived
 *     after the request was sent (it may predate the change);
 *   - mcache_inval(ino) drops ino's attributes and every entry of the
 *     directory ino; an entry is only a hit while its inode's attributes
 *     are cached too;
 *   - a directory listing (READDIR) is kept from cookie 0 on, chunk after
 *     chunk in cookie order; mcache_inval of the directory drops it (the
 *     coordinator counts a READDIR as interest in the directory, and every
 *     change of an entry stamps the directory's inode). A readdirplus hit
 *     needs every entry's attributes cached (they are invalidated alone).
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
/* The request sent after mcache_begin(t) was answered: renews the lease. */
void mcache_renew(struct mcache *mc, const struct mcache_tok *t);

/* One listing entry (as struct mdc_dirent). */
struct mcache_dirent {
	uint64_t ino;
	uint64_t next_cookie;
	uint8_t type;
	char name[256];
	struct csvfs_attr attr;	/* plus only; zero for "." and ".." */
};

/*
 * Cached listing of dir after cookie: 0, up to max entries in out[], *n
 * and *eof as a READDIR reply; -EAGAIN: not cached (or, for plus, some
 * entry's attributes are not).
 */
int mcache_get_list(struct mcache *mc, uint64_t dir, uint64_t cookie,
		    int plus, struct mcache_dirent *out, uint32_t max,
		    uint32_t *n, int *eof);
/*
 * A READDIR reply of dir after cookie, requested with t: kept if cookie is
 * 0 or continues the listing held; plus: the entries' attributes too.
 */
void mcache_put_list(struct mcache *mc, const struct mcache_tok *t,
		     uint64_t dir, uint64_t cookie, int plus,
		     const struct mcache_dirent *ents, uint32_t n, int eof);
/* Drops ino's attributes and, if it is a directory, its entries. */
void mcache_inval(struct mcache *mc, uint64_t ino);
/* Drops everything (reconnect, coordinator change). */
void mcache_clear(struct mcache *mc);
void mcache_get_stats(struct mcache *mc, struct mcache_stats *st);

#endif /* CSVFS_NET_MCACHE_H */
