/*
 * mcache: attribute and entry cache of a cluster node (see mcache.h).
 *
 * Three chained hash tables with fixed bucket arrays (the cache is bounded,
 * so they never grow): attributes by ino, names by (parent, name), and
 * directories by ino, each directory listing its names so that one INVAL
 * drops them all. A ring of the latest invalidated inos tells whether a
 * reply may predate a change.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/mcache.h"

#define MC_RING		256	/* invalidations remembered */
#define MC_DEFAULT_MAX	65536

struct mc_attr {
	struct mc_attr *next;
	uint64_t expire_ns;
	struct csvfs_attr a;
};

struct mc_name {
	struct mc_name *next, **pprev;	/* hash chain */
	struct mc_name *dnext, **dpprev;	/* its directory's list */
	uint64_t parent, ino;		/* ino 0: negative entry */
	uint64_t hash, expire_ns;
	size_t len;
	char name[];
};

struct mc_dir {
	struct mc_dir *next;
	uint64_t ino;
	struct mc_name *names;
};

struct mcache {
	pthread_mutex_t lock;
	size_t max, count, nbuckets;	/* nbuckets: a power of two */
	uint64_t lease_ns;
	struct mc_attr **attrs;
	struct mc_name **names;
	struct mc_dir **dirs;
	uint64_t gen;
	uint64_t ring_ino[MC_RING], ring_gen[MC_RING];
	struct mcache_stats st;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t ino_slot(const struct mcache *mc, uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 20) &
	       (mc->nbuckets - 1);
}

static uint64_t name_hash(uint64_t parent, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ parent;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 29);
}

int mcache_new(size_t max_entries, unsigned lease_ms, struct mcache **out)
{
	struct mcache *mc;

	*out = NULL;
	if (!max_entries)
		max_entries = MC_DEFAULT_MAX;
	mc = calloc(1, sizeof(*mc));
	if (!mc)
		return -ENOMEM;
	mc->max = max_entries;
	mc->nbuckets = 64;
	while (mc->nbuckets < max_entries)
		mc->nbuckets <<= 1;
	mc->lease_ns = (uint64_t)(lease_ms ? lease_ms : CSVFS_CACHE_LEASE_MS) *
		       1000000ull;
	mc->attrs = calloc(mc->nbuckets, sizeof(*mc->attrs));
	mc->names = calloc(mc->nbuckets, sizeof(*mc->names));
	mc->dirs = calloc(mc->nbuckets, sizeof(*mc->dirs));
	if (!mc->attrs || !mc->names || !mc->dirs) {
		mcache_free(mc);
		return -ENOMEM;
	}
	pthread_mutex_init(&mc->lock, NULL);
	*out = mc;
	return 0;
}

/* Frees every entry; lock held (or the cache is being freed). */
static void drop_all(struct mcache *mc)
{
	size_t i;

	for (i = 0; i < mc->nbuckets; i++) {
		while (mc->attrs[i]) {
			struct mc_attr *a = mc->attrs[i];

			mc->attrs[i] = a->next;
			free(a);
		}
		while (mc->names[i]) {
			struct mc_name *n = mc->names[i];

			mc->names[i] = n->next;
			free(n);
		}
		while (mc->dirs[i]) {
			struct mc_dir *d = mc->dirs[i];

			mc->dirs[i] = d->next;
			free(d);
		}
	}
	mc->count = 0;
}

void mcache_free(struct mcache *mc)
{
	if (!mc)
		return;
	if (mc->attrs && mc->names && mc->dirs) {
		drop_all(mc);
		pthread_mutex_destroy(&mc->lock);
	}
	free(mc->attrs);
	free(mc->names);
	free(mc->dirs);
	free(mc);
}

void mcache_begin(struct mcache *mc, struct mcache_tok *t)
{
	uint64_t now = mono_ns();

	pthread_mutex_lock(&mc->lock);
	t->gen = mc->gen;
	pthread_mutex_unlock(&mc->lock);
	t->expire_ns = now + mc->lease_ns;
}

/* ---- lookups (lock held) --------------------------------------------------- */

static struct mc_attr **attr_find(struct mcache *mc, uint64_t ino)
{
	struct mc_attr **pp = &mc->attrs[ino_slot(mc, ino)];

	while (*pp && (*pp)->a.ino != ino)
		pp = &(*pp)->next;
	return pp;
}

static struct mc_dir **dir_find(struct mcache *mc, uint64_t ino)
{
	struct mc_dir **pp = &mc->dirs[ino_slot(mc, ino)];

	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->next;
	return pp;
}

static struct mc_name *name_find(struct mcache *mc, uint64_t parent,
				 const char *name, size_t len, uint64_t h)
{
	struct mc_name *n = mc->names[h & (mc->nbuckets - 1)];

	for (; n; n = n->next)
		if (n->hash == h && n->parent == parent && n->len == len &&
		    !memcmp(n->name, name, len))
			return n;
	return NULL;
}

static void name_unlink(struct mcache *mc, struct mc_name *n)
{
	*n->pprev = n->next;
	if (n->next)
		n->next->pprev = n->pprev;
	*n->dpprev = n->dnext;
	if (n->dnext)
		n->dnext->dpprev = n->dpprev;
	free(n);
	mc->count--;
}

static void attr_drop(struct mcache *mc, uint64_t ino)
{
	struct mc_attr **pp = attr_find(mc, ino), *a = *pp;

	if (!a)
		return;
	*pp = a->next;
	free(a);
	mc->count--;
}

static void dir_drop(struct mcache *mc, uint64_t ino)
{
	struct mc_dir **pp = dir_find(mc, ino), *d = *pp;

	if (!d)
		return;
	while (d->names)
		name_unlink(mc, d->names);
	*pp = d->next;
	free(d);
	mc->count--;
}

/* Valid attributes of ino, or NULL (an expired entry is dropped). */
static struct mc_attr *attr_live(struct mcache *mc, uint64_t ino,
				 uint64_t now)
{
	struct mc_attr **pp = attr_find(mc, ino), *a = *pp;

	if (a && a->expire_ns <= now) {
		*pp = a->next;
		free(a);
		mc->count--;
		a = NULL;
	}
	return a;
}

int mcache_get_attr(struct mcache *mc, uint64_t ino, struct csvfs_attr *out)
{
	struct mc_attr *a;
	int rc = -EAGAIN;

	pthread_mutex_lock(&mc->lock);
	a = attr_live(mc, ino, mono_ns());
	if (a) {
		*out = a->a;
		rc = 0;
	}
	if (rc)
		mc->st.misses++;
	else
		mc->st.hits++;
	pthread_mutex_unlock(&mc->lock);
	return rc;
}

int mcache_get_entry(struct mcache *mc, uint64_t parent, const char *name,
		     struct csvfs_attr *out)
{
	size_t len = strlen(name);
	uint64_t h = name_hash(parent, name, len), now = mono_ns();
	struct mc_name *n;
	struct mc_attr *a;
	int rc = -EAGAIN;

	pthread_mutex_lock(&mc->lock);
	n = name_find(mc, parent, name, len, h);
	if (n && n->expire_ns <= now) {
		name_unlink(mc, n);
		n = NULL;
	}
	if (n && !n->ino) {
		rc = -ENOENT;
	} else if (n) {
		a = attr_live(mc, n->ino, now);
		if (a) {
			*out = a->a;
			rc = 0;
		}
	}
	if (rc == -EAGAIN)
		mc->st.misses++;
	else
		mc->st.hits++;
	pthread_mutex_unlock(&mc->lock);
	return rc;
}

/* ---- filling (lock held) --------------------------------------------------- */

/* May a reply about ino, requested with token t, be cached? */
static int tok_ok(struct mcache *mc, const struct mcache_tok *t,
		  uint64_t ino, uint64_t now)
{
	uint64_t g;

	if (t->expire_ns <= now)
		return 0;
	if (mc->gen - t->gen > MC_RING)
		return 0;
	for (g = t->gen + 1; g <= mc->gen; g++)
		if (mc->ring_ino[g % MC_RING] == ino &&
		    mc->ring_gen[g % MC_RING] == g)
			return 0;
	return 1;
}

static int make_room(struct mcache *mc)
{
	if (mc->count < mc->max)
		return 0;
	drop_all(mc);
	mc->st.clears++;
	return 0;
}

static void attr_store(struct mcache *mc, const struct mcache_tok *t,
		       const struct csvfs_attr *in)
{
	struct mc_attr **pp = attr_find(mc, in->ino), *a = *pp;

	if (!a) {
		make_room(mc);
		a = malloc(sizeof(*a));
		if (!a)
			return;
		pp = &mc->attrs[ino_slot(mc, in->ino)];
		a->next = *pp;
		*pp = a;
		mc->count++;
	}
	a->a = *in;
	a->expire_ns = t->expire_ns;
	mc->st.fills++;
}

void mcache_put_attr(struct mcache *mc, const struct mcache_tok *t,
		     const struct csvfs_attr *a)
{
	pthread_mutex_lock(&mc->lock);
	if (tok_ok(mc, t, a->ino, mono_ns()))
		attr_store(mc, t, a);
	else
		mc->st.refused++;
	pthread_mutex_unlock(&mc->lock);
}

void mcache_put_entry(struct mcache *mc, const struct mcache_tok *t,
		      uint64_t parent, const char *name,
		      const struct csvfs_attr *a)
{
	size_t len = strlen(name);
	uint64_t h = name_hash(parent, name, len), now = mono_ns();
	struct mc_name *n, **slot;
	struct mc_dir **dp, *d;

	pthread_mutex_lock(&mc->lock);
	if (!tok_ok(mc, t, parent, now) || (a && !tok_ok(mc, t, a->ino, now))) {
		mc->st.refused++;
		goto out;
	}
	if (a)
		attr_store(mc, t, a);
	n = name_find(mc, parent, name, len, h);
	if (n) {
		n->ino = a ? a->ino : 0;
		n->expire_ns = t->expire_ns;
		goto out;
	}
	make_room(mc);
	dp = dir_find(mc, parent);
	d = *dp;
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d)
			goto out;
		d->ino = parent;
		dp = &mc->dirs[ino_slot(mc, parent)];
		d->next = *dp;
		*dp = d;
		mc->count++;
	}
	n = malloc(sizeof(*n) + len + 1);
	if (!n)
		goto out;
	n->parent = parent;
	n->ino = a ? a->ino : 0;
	n->hash = h;
	n->expire_ns = t->expire_ns;
	n->len = len;
	memcpy(n->name, name, len + 1);
	slot = &mc->names[h & (mc->nbuckets - 1)];
	n->next = *slot;
	if (n->next)
		n->next->pprev = &n->next;
	n->pprev = slot;
	*slot = n;
	n->dnext = d->names;
	if (n->dnext)
		n->dnext->dpprev = &n->dnext;
	n->dpprev = &d->names;
	d->names = n;
	mc->count++;
	mc->st.fills++;
out:
	pthread_mutex_unlock(&mc->lock);
}

/* ---- invalidation ------------------------------------------------------------ */

void mcache_inval(struct mcache *mc, uint64_t ino)
{
	pthread_mutex_lock(&mc->lock);
	mc->gen++;
	mc->ring_ino[mc->gen % MC_RING] = ino;
	mc->ring_gen[mc->gen % MC_RING] = mc->gen;
	attr_drop(mc, ino);
	dir_drop(mc, ino);
	mc->st.invals++;
	pthread_mutex_unlock(&mc->lock);
}

void mcache_clear(struct mcache *mc)
{
	pthread_mutex_lock(&mc->lock);
	/* Every token taken before now is refused (tok_ok's ring test). */
	mc->gen += MC_RING + 1;
	drop_all(mc);
	mc->st.clears++;
	pthread_mutex_unlock(&mc->lock);
}

void mcache_get_stats(struct mcache *mc, struct mcache_stats *st)
{
	pthread_mutex_lock(&mc->lock);
	*st = mc->st;
	st->entries = mc->count;
	pthread_mutex_unlock(&mc->lock);
}
