/*
 * mcache: attribute and entry cache of a cluster node (see mcache.h).
 *
 * Three chained hash tables with fixed bucket arrays (the cache is bounded,
 * so they never grow): attributes by ino, names by (parent, name), and
 * directories by ino, each directory listing its names so that one INVAL
 * drops them all, and holding the READDIR listing read so far (an array in
 * cookie order, from cookie 0 on). A ring of the latest invalidated inos
 * tells whether a reply may predate a change.
 *
 * The lease (mcache.h) is one for the whole cache, as an NFSv4 client's:
 * it ends CSVFS_CACHE_LEASE_MS after the send time of the latest request
 * that was answered. The coordinator waits out a node that does not
 * acknowledge an INVAL until the lease counted from the last request it
 * received from it, which is later than any send time the node counts
 * from; a reply that renews the lease after an INVAL came on the same
 * connection after it, so the INVAL was applied first (a new connection
 * clears the cache). When the lease has run out, everything cached is
 * dropped before the next reply renews it. In the last half of the lease a
 * lookup is answered by the coordinator (at most once per MC_RENEW_GAP_NS)
 * so that a node that only reads its cache keeps it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/mcache.h"

#define MC_RING		256	/* invalidations remembered */
#define MC_DEFAULT_MAX	65536
#define MC_RENEW_GAP_NS	(100 * 1000000ull)

struct mc_attr {
	struct mc_attr *next;
	struct csvfs_attr a;
};

struct mc_name {
	struct mc_name *next, **pprev;	/* hash chain */
	struct mc_name *dnext, **dpprev;	/* its directory's list */
	uint64_t parent, ino;		/* ino 0: negative entry */
	uint64_t hash;
	size_t len;
	char name[];
};

/* One entry of a cached listing. */
struct mc_lent {
	uint64_t ino, next_cookie;
	uint8_t type;
	char *name;
};

struct mc_dir {
	struct mc_dir *next;
	uint64_t ino;
	struct mc_name *names;
	struct mc_lent *list;	/* READDIR entries from cookie 0 on */
	uint32_t nlist, caplist;
	int listed;		/* list holds the start of the listing */
	int complete;		/* list reaches the end of the directory */
};

struct mcache {
	pthread_mutex_t lock;
	size_t max, count, nbuckets;	/* nbuckets: a power of two */
	uint64_t lease_ns;
	struct mc_attr **attrs;
	struct mc_name **names;
	struct mc_dir **dirs;
	uint64_t gen;
	uint64_t lease_end;	/* CLOCK_MONOTONIC ns */
	uint64_t renew_asked;	/* last miss forced to renew the lease */
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

static void list_free(struct mcache *mc, struct mc_dir *d)
{
	uint32_t i;

	for (i = 0; i < d->nlist; i++)
		free(d->list[i].name);
	free(d->list);
	mc->count -= d->nlist;
	d->list = NULL;
	d->nlist = d->caplist = 0;
	d->listed = d->complete = 0;
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
			list_free(mc, d);
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
	list_free(mc, d);
	*pp = d->next;
	free(d);
	mc->count--;
}

/*
 * May the cache answer now? 0 after the lease ran out (everything is
 * dropped: an INVAL may have been missed) and, once per MC_RENEW_GAP_NS in
 * the last half of the lease, to let one request through and renew it.
 */
static int lease_live(struct mcache *mc, uint64_t now)
{
	if (now >= mc->lease_end) {
		if (mc->count)
			drop_all(mc);
		return 0;
	}
	if (mc->lease_end - now < mc->lease_ns / 2 &&
	    now - mc->renew_asked >= MC_RENEW_GAP_NS) {
		mc->renew_asked = now;
		return 0;
	}
	return 1;
}

/* A request sent with t was answered: the lease runs from its send time. */
static void lease_renew(struct mcache *mc, const struct mcache_tok *t,
			uint64_t now)
{
	if (now >= mc->lease_end && mc->count)
		drop_all(mc);
	if (t->expire_ns > mc->lease_end)
		mc->lease_end = t->expire_ns;
}

void mcache_renew(struct mcache *mc, const struct mcache_tok *t)
{
	pthread_mutex_lock(&mc->lock);
	lease_renew(mc, t, mono_ns());
	pthread_mutex_unlock(&mc->lock);
}

/* Cached attributes of ino, or NULL; lease_live() checked by the caller. */
static struct mc_attr *attr_live(struct mcache *mc, uint64_t ino,
				 uint64_t now)
{
	(void)now;
	return *attr_find(mc, ino);
}

int mcache_get_attr(struct mcache *mc, uint64_t ino, struct csvfs_attr *out)
{
	struct mc_attr *a;
	int rc = -EAGAIN;

	pthread_mutex_lock(&mc->lock);
	a = lease_live(mc, mono_ns()) ? attr_live(mc, ino, 0) : NULL;
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
	n = lease_live(mc, now) ? name_find(mc, parent, name, len, h) : NULL;
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

/* ino's directory record, made if needed (make_room() called before). */
static struct mc_dir *dir_get(struct mcache *mc, uint64_t ino)
{
	struct mc_dir **dp = dir_find(mc, ino), *d = *dp;

	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->ino = ino;
	dp = &mc->dirs[ino_slot(mc, ino)];
	d->next = *dp;
	*dp = d;
	mc->count++;
	return d;
}

static void attr_store(struct mcache *mc,
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
	mc->st.fills++;
}

void mcache_put_attr(struct mcache *mc, const struct mcache_tok *t,
		     const struct csvfs_attr *a)
{
	uint64_t now = mono_ns();

	pthread_mutex_lock(&mc->lock);
	if (tok_ok(mc, t, a->ino, now)) {
		lease_renew(mc, t, now);
		attr_store(mc, a);
	} else {
		mc->st.refused++;
	}
	pthread_mutex_unlock(&mc->lock);
}

/* Adds name -> ino (0: negative) to directory d; room made before. */
static void name_store(struct mcache *mc, struct mc_dir *d, const char *name,
		       size_t len, uint64_t h, uint64_t ino)
{
	struct mc_name *n, **slot;

	n = name_find(mc, d->ino, name, len, h);
	if (n) {
		n->ino = ino;
		return;
	}
	n = malloc(sizeof(*n) + len + 1);
	if (!n)
		return;
	n->parent = d->ino;
	n->ino = ino;
	n->hash = h;
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
}

void mcache_put_entry(struct mcache *mc, const struct mcache_tok *t,
		      uint64_t parent, const char *name,
		      const struct csvfs_attr *a)
{
	size_t len = strlen(name);
	uint64_t h = name_hash(parent, name, len), now = mono_ns();
	struct mc_name *n;
	struct mc_dir *d;

	pthread_mutex_lock(&mc->lock);
	if (!tok_ok(mc, t, parent, now) || (a && !tok_ok(mc, t, a->ino, now))) {
		mc->st.refused++;
		goto out;
	}
	lease_renew(mc, t, now);
	if (a)
		attr_store(mc, a);
	n = name_find(mc, parent, name, len, h);
	if (n) {
		n->ino = a ? a->ino : 0;
		goto out;
	}
	make_room(mc);
	d = dir_get(mc, parent);
	if (!d)
		goto out;
	name_store(mc, d, name, len, h, a ? a->ino : 0);
	mc->st.fills++;
out:
	pthread_mutex_unlock(&mc->lock);
}

/* ---- listings -------------------------------------------------------------- */

/* Index in d->list of the first entry after cookie, or -1 if unknown. */
static long list_pos(const struct mc_dir *d, uint64_t cookie)
{
	uint32_t lo = 0, hi = d->nlist;

	if (cookie == 0)
		return 0;
	/* next_cookie grows strictly along the list: binary search. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (d->list[mid].next_cookie < cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < d->nlist && d->list[lo].next_cookie == cookie)
		return (long)lo + 1;
	return -1;
}

int mcache_get_list(struct mcache *mc, uint64_t dir, uint64_t cookie,
		    int plus, struct mcache_dirent *out, uint32_t max,
		    uint32_t *n, int *eof)
{
	uint64_t now = mono_ns();
	struct mc_dir *d = NULL;
	uint32_t i, k = 0;
	long pos = -1;
	int rc = -EAGAIN;

	pthread_mutex_lock(&mc->lock);
	if (lease_live(mc, now))
		d = *dir_find(mc, dir);
	if (d && d->listed)
		pos = list_pos(d, cookie);
	if (pos < 0 || (!d->complete && (uint32_t)pos >= d->nlist))
		goto out;
	for (i = (uint32_t)pos; i < d->nlist && k < max; i++, k++) {
		const struct mc_lent *e = &d->list[i];
		struct mc_attr *a = NULL;

		out[k].ino = e->ino;
		out[k].next_cookie = e->next_cookie;
		out[k].type = e->type;
		snprintf(out[k].name, sizeof(out[k].name), "%s", e->name);
		memset(&out[k].attr, 0, sizeof(out[k].attr));
		if (!plus || !strcmp(e->name, ".") || !strcmp(e->name, ".."))
			continue;
		/* The attributes are kept coherent on their own. */
		a = e->ino ? attr_live(mc, e->ino, now) : NULL;
		if (!a)
			goto out;
		out[k].attr = a->a;
	}
	*n = k;
	*eof = d->complete && i == d->nlist;
	rc = 0;
out:
	if (rc)
		mc->st.misses++;
	else
		mc->st.hits++;
	pthread_mutex_unlock(&mc->lock);
	return rc;
}

void mcache_put_list(struct mcache *mc, const struct mcache_tok *t,
		     uint64_t dir, uint64_t cookie, int plus,
		     const struct mcache_dirent *ents, uint32_t n, int eof)
{
	uint64_t now = mono_ns();
	struct mc_dir *d;
	uint32_t i;

	pthread_mutex_lock(&mc->lock);
	if (!tok_ok(mc, t, dir, now)) {
		mc->st.refused++;
		goto out;
	}
	lease_renew(mc, t, now);
	/* Room for the entries, their names and attributes, so that no
	 * store below starts the cache over under our feet. */
	if ((size_t)n * 3 + 2 > mc->max)
		goto out;
	if (mc->count + (size_t)n * 3 + 2 > mc->max) {
		drop_all(mc);
		mc->st.clears++;
	}
	d = dir_get(mc, dir);
	if (!d)
		goto out;
	if (cookie == 0) {
		list_free(mc, d);
		d->listed = 1;
	} else if (!d->listed || d->complete || !d->nlist ||
		   d->list[d->nlist - 1].next_cookie != cookie) {
		goto out;	/* not the continuation of what we hold */
	}
	if (d->nlist + n > d->caplist) {
		uint32_t cap = d->caplist ? d->caplist : 16;
		struct mc_lent *l;

		while (cap < d->nlist + n)
			cap *= 2;
		l = realloc(d->list, cap * sizeof(*l));
		if (!l)
			goto drop;
		d->list = l;
		d->caplist = cap;
	}
	for (i = 0; i < n; i++) {
		struct mc_lent *e = &d->list[d->nlist];

		if (d->nlist && ents[i].next_cookie <=
		    d->list[d->nlist - 1].next_cookie)
			goto drop;	/* out of order: keep nothing */
		e->name = strdup(ents[i].name);
		if (!e->name)
			goto drop;
		e->ino = ents[i].ino;
		e->next_cookie = ents[i].next_cookie;
		e->type = ents[i].type;
		d->nlist++;
		mc->count++;
		/* Lookups of the names listed: answered while the
		 * entry's attributes are cached (as mcache_get_entry). */
		if (plus && ents[i].ino && ents[i].attr.ino == ents[i].ino &&
		    strcmp(e->name, ".") && strcmp(e->name, "..") &&
		    tok_ok(mc, t, ents[i].ino, now)) {
			size_t len = strlen(e->name);

			attr_store(mc, &ents[i].attr);
			name_store(mc, d, e->name, len,
				   name_hash(dir, e->name, len), e->ino);
		}
	}
	d->complete = !!eof;
	mc->st.fills++;
	goto out;
drop:
	list_free(mc, d);
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
