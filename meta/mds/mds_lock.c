/*
 * mds_lock: the coordinator's application locks — fcntl/lockf, OFD and
 * flock locks of every node (the rules are lockd/plock.c).
 *
 * State. The locks live in this coordinator's memory only, under their own
 * mutex (never the metadata lock: a lock request touches no metadata, and
 * a contended lock must not queue behind the journal). They are not
 * journaled: each node keeps a mirror of what it holds (fs/lkc.c) and
 * gives it to a new coordinator, as NFSv4 clients do after a server
 * restart.
 *
 * Grace period (cluster mode). A coordinator that starts (after a
 * failover, or a move: csvfsctl coordinator move) answers LOCK_SET and
 * LOCK_GET with -ERESTART, except RECLAIMs, until every member node has
 * sent LOCK_RECLAIM_DONE or grace_ms passed — so no node is granted a
 * lock that another still holds from the previous coordinator. A node
 * that reclaims a lock someone else got meanwhile is told -ENOLCK.
 *
 * Blocking requests. A LOCK_SET with CSVFS_LK_WAIT that conflicts is
 * queued (-EINPROGRESS). When an unlock (or a dead node's drop) makes it
 * grantable, it leaves the queue and its node gets a LOCK_WAKE push, and
 * sends the request again: granted then, or queued again if another
 * request came first (Linux's own waiters also retry after a wake-up). So
 * a grant is always the reply to the node's own request: a waiter
 * interrupted on its node (FUSE_INTERRUPT) just sends LOCK_CANCEL, and no
 * lock is ever granted to a request nobody waits for. A lost push (the
 * connection broke) is made good by the node, which sends its waiting
 * requests again after every reconnect.
 *
 * Deadlocks: a POSIX-class request that would wait on an owner that is
 * itself waiting, along a chain back to the requester, fails with
 * -EDEADLK (as Linux's posix_locks_deadlock; flock waits are not checked,
 * as in Linux).
 *
 * Dead nodes. A node out of the membership whose heartbeat stopped
 * (DESIGN.md "Owner death") loses its locks and queued requests: when a
 * request meets one of its locks, when mds.c breaks its file ownership
 * (mds_lock_node_dead), and at the latest within a second (the reaper
 * thread), so waiters elsewhere are woken. A node whose daemon restarted
 * (new incarnation in the header) loses the locks of its old daemon.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csvfs/log.h"
#include "lockd/hb.h"
#include "lockd/plock.h"
#include "meta/mds/mds_i.h"
#include "net/msg.h"

#define GRACE_MS_DEFAULT	10000
#define REAP_MS			1000
#define DEADLOCK_DEPTH		64
#define MAX_NODE		CSVFS_MAX_NODES_LIMIT

struct mds_locks {
	struct mds *m;
	pthread_mutex_t mu;
	struct plock_tab tab;
	uint64_t incarnation[MAX_NODE + 1];
	/* Grace period (cluster mode). */
	int grace;
	uint64_t grace_end_ns;		/* CLOCK_MONOTONIC */
	unsigned char reclaimed[MAX_NODE + 1];
	/* The reaper (cluster mode). */
	pthread_t reaper;
	int reaper_running, stop;
	pthread_cond_t cond;		/* CLOCK_MONOTONIC */
};

/* Wakes to send once the mutex is dropped. */
struct wakes {
	struct plock_wait *head;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void wakes_add(struct wakes *w, struct plock_wait *list)
{
	struct plock_wait *t;

	if (!list)
		return;
	for (t = list; t->next; t = t->next)
		;
	t->next = w->head;
	w->head = list;
}

/* Sends the LOCK_WAKEs (without the mutex) and frees the list. */
static void wakes_send(struct mds *m, struct wakes *w)
{
	struct plock_wait *p, *n;
	int rc;

	for (p = w->head; p; p = n) {
		n = p->next;
		rc = m->o.lock_wake ? m->o.lock_wake(m->o.lock_ctx, p->l.node,
						     p->wait_id) : -ENOSYS;
		if (rc)
			log_node(LOG_NOTICE, p->l.node, "lock wake-up %llu not "
				 "sent (%s): the node resends it after it "
				 "reconnects", (unsigned long long)p->wait_id,
				 strerror(-rc));
		free(p);
	}
	w->head = NULL;
}

/* Cluster mode: out of the membership and its heartbeat stopped. */
static int node_dead(struct mds *m, uint32_t node)
{
	return m->watch && node && m->o.is_member &&
	       !m->o.is_member(m->o.own_ctx, node) &&
	       hb_watch_dead(m->watch, node, m->o.dead_ms);
}

/*
 * Drops every lock and waiter of node, collecting the waiters that may
 * now be granted. Under L->mu. Returns the number of locks dropped.
 */
static int drop_node(struct mds_locks *L, uint32_t node, struct wakes *w)
{
	struct plock_tab *t = &L->tab;
	struct plock_file *f, *next;
	size_t i;
	int n = 0, k;

	for (i = 0; i < t->nslots; i++)
		for (f = t->slots[i]; f; f = next) {
			next = f->next;
			k = plock_drop(f, node, 1, 0, 0);
			n += k;
			if (k)
				wakes_add(w, plock_wake(f));
			plock_tab_put(t, f);
		}
	return n;
}

/* A request from node's daemon of this incarnation: an older one's go. */
static void note_incarnation(struct mds_locks *L, uint32_t node,
			     uint64_t inc, struct wakes *w)
{
	int n;

	if (node > MAX_NODE || !inc || L->incarnation[node] == inc)
		return;
	if (L->incarnation[node]) {
		n = drop_node(L, node, w);
		if (n)
			log_node(LOG_NOTICE, node, "its daemon restarted: "
				 "%d locks of the old one dropped", n);
	}
	L->incarnation[node] = inc;
}

/* Ends the grace period when due. Under L->mu. */
static int in_grace(struct mds_locks *L)
{
	struct mds *m = L->m;
	uint32_t n, max = m->sb.max_nodes;

	if (!L->grace)
		return 0;
	if (mono_ns() < L->grace_end_ns) {
		if (max > MAX_NODE)
			max = MAX_NODE;
		for (n = 1; n <= max; n++)
			if (!L->reclaimed[n] &&
			    m->o.is_member(m->o.own_ctx, n))
				return 1;
		log_info("locks: every member reclaimed its locks: "
			 "grace period over");
	} else {
		log_notice("locks: grace period over; members that "
			   "did not reclaim lost their locks");
	}
	L->grace = 0;
	return 0;
}

/*
 * Conflict test that first drops the locks of dead holders. Returns 1
 * with *h the live holder, or 0.
 */
static int test_live(struct mds_locks *L, uint64_t ino, struct plock_file *f,
		     const struct plock *req, struct plock *h,
		     struct wakes *w)
{
	while (f && plock_test(f, req, h)) {
		if (!node_dead(L->m, h->node))
			return 1;
		log_ino_at(LOG_WARNING, ino, "node %u holds a lock but left "
			   "the cluster and its heartbeat stopped: its locks are "
			   "dropped", h->node);
		drop_node(L, h->node, w);
	}
	return 0;
}

/* Does POSIX owner req, waiting for h, close a cycle of waiters? */
static int deadlock(struct mds_locks *L, const struct plock *req,
		    const struct plock *h)
{
	struct plock cur = *h, next;
	struct plock_tab *t = &L->tab;
	int depth;

	for (depth = 0; depth < DEADLOCK_DEPTH; depth++) {
		const struct plock_wait *found = NULL;
		const struct plock_file *ff = NULL, *f;
		size_t i;

		if (cur.node == req->node && cur.owner == req->owner)
			return 1;
		for (i = 0; i < t->nslots && !found; i++)
			for (f = t->slots[i]; f && !found; f = f->next) {
				const struct plock_wait *q;

				for (q = f->waits; q; q = q->next)
					if (q->l.cls == PLOCK_POSIX &&
					    q->l.node == cur.node &&
					    q->l.owner == cur.owner) {
						found = q;
						ff = f;
						break;
					}
			}
		if (!found || !plock_test(ff, &found->l, &next))
			return 0;
		cur = next;
	}
	return 0;
}

static int h_set(struct mds_locks *L, const struct csvfs_msg_hdr *hdr,
		 struct msg_rd *in, struct wakes *w)
{
	uint32_t node = hdr->node_id, flags;
	struct csvfs_wlock wl;
	struct plock_file *f;
	struct plock l, h;
	uint64_t ino, wait_id;
	int rc;

	ino = msg_get_u64(in);
	msg_get_lock(in, &wl);
	flags = msg_get_u32(in);
	wait_id = msg_get_u64(in);
	if (msg_rd_end(in))
		return -EPROTO;
	plock_from_wire(&wl, node, &l);
	if (plock_check(&l) || (flags & ~(CSVFS_LK_WAIT | CSVFS_LK_RECLAIM)))
		return -EINVAL;
	if (in_grace(L) && !(flags & CSVFS_LK_RECLAIM))
		return -ERESTART;
	f = plock_tab_get(&L->tab, ino, l.type != PLOCK_UN);
	if (!f)
		return l.type == PLOCK_UN ? 0 : -ENOMEM;
	if ((flags & CSVFS_LK_WAIT) && wait_id)
		plock_wait_del(f, node, wait_id);	/* a resent request */
	if (l.type != PLOCK_UN && test_live(L, ino, f, &l, &h, w)) {
		if (flags & CSVFS_LK_RECLAIM) {
			log_ino_at(LOG_WARNING, ino, "node %u cannot reclaim "
				   "its lock [%llu, %llu]: node %u holds it now",
				   node, (unsigned long long)l.start,
				   (unsigned long long)l.end, h.node);
			rc = -ENOLCK;
		} else if (!(flags & CSVFS_LK_WAIT) || !wait_id) {
			rc = -EAGAIN;
		} else if (l.cls == PLOCK_POSIX && deadlock(L, &l, &h)) {
			rc = -EDEADLK;
		} else {
			rc = plock_wait_add(f, &l, wait_id);
			if (!rc)
				rc = -EINPROGRESS;
		}
		goto out;
	}
	rc = plock_apply(f, &l);
	/* An unlock or a downgrade may let waiters in. */
	if (!rc)
		wakes_add(w, plock_wake(f));
out:
	plock_tab_put(&L->tab, f);
	return rc;
}

static int h_get(struct mds_locks *L, const struct csvfs_msg_hdr *hdr,
		 struct msg_rd *in, struct msg_wr *out, struct wakes *w)
{
	struct csvfs_wlock wl;
	struct plock l, h;
	uint64_t ino;
	int found;

	ino = msg_get_u64(in);
	msg_get_lock(in, &wl);
	if (msg_rd_end(in))
		return -EPROTO;
	plock_from_wire(&wl, hdr->node_id, &l);
	if (plock_check(&l))
		return -EINVAL;
	if (in_grace(L))
		return -ERESTART;
	found = test_live(L, ino, plock_tab_get(&L->tab, ino, 0), &l, &h, w);
	if (!found)
		memset(&h, 0, sizeof(h));
	plock_to_wire(&h, &wl);
	msg_put_u32(out, (uint32_t)found);
	msg_put_lock(out, &wl);
	return 0;
}

static int h_cancel(struct mds_locks *L, const struct csvfs_msg_hdr *hdr,
		    struct msg_rd *in)
{
	uint64_t ino = msg_get_u64(in), wait_id = msg_get_u64(in);
	struct plock_file *f;

	if (msg_rd_end(in))
		return -EPROTO;
	f = plock_tab_get(&L->tab, ino, 0);
	if (f) {
		plock_wait_del(f, hdr->node_id, wait_id);
		plock_tab_put(&L->tab, f);
	}
	return 0;
}

static int h_reclaim_done(struct mds_locks *L,
			  const struct csvfs_msg_hdr *hdr, struct msg_rd *in)
{
	if (msg_rd_end(in))
		return -EPROTO;
	if (hdr->node_id <= MAX_NODE)
		L->reclaimed[hdr->node_id] = 1;
	in_grace(L);
	return 0;
}

static int h_list(struct mds_locks *L, struct msg_rd *in, struct msg_wr *out)
{
	uint64_t ino = msg_get_u64(in);
	const struct plock_file *f;
	const struct plock_ent *e;
	struct csvfs_wlock wl;

	if (msg_rd_end(in))
		return -EPROTO;
	f = plock_tab_get(&L->tab, ino, 0);
	msg_put_u32(out, f ? (uint32_t)plock_count(f, 0) : 0);
	for (e = f ? f->locks : NULL; e; e = e->next) {
		plock_to_wire(&e->l, &wl);
		msg_put_lock(out, &wl);
	}
	return 0;
}

int mds_lock_dispatch(struct mds *m, const struct csvfs_msg_hdr *hdr,
		      const uint8_t *payload, uint8_t **reply,
		      size_t *reply_len)
{
	struct mds_locks *L = m->locks;
	struct wakes w = { NULL };
	struct msg_rd in;
	struct msg_wr out;
	int rc;

	if (!L)
		return -EOPNOTSUPP;
	msg_rd_init(&in, payload, hdr->length);
	msg_wr_init(&out);
	pthread_mutex_lock(&L->mu);
	note_incarnation(L, hdr->node_id, hdr->incarnation, &w);
	switch (hdr->type) {
	case CSVFS_MSG_LOCK_SET:
		rc = h_set(L, hdr, &in, &w);
		break;
	case CSVFS_MSG_LOCK_GET:
		rc = h_get(L, hdr, &in, &out, &w);
		break;
	case CSVFS_MSG_LOCK_CANCEL:
		rc = h_cancel(L, hdr, &in);
		break;
	case CSVFS_MSG_LOCK_RECLAIM_DONE:
		rc = h_reclaim_done(L, hdr, &in);
		break;
	case CSVFS_MSG_LOCK_LIST:
		rc = h_list(L, &in, &out);
		break;
	default:	/* LOCK_WAKE is a push, never a request */
		rc = -EOPNOTSUPP;
	}
	pthread_mutex_unlock(&L->mu);
	wakes_send(m, &w);
	if (!rc && out.err)
		rc = out.err;
	if (rc) {
		msg_wr_free(&out);
		return rc;
	}
	*reply = out.p;
	*reply_len = out.len;
	return 0;
}

void mds_lock_node_dead(struct mds *m, uint32_t node)
{
	struct mds_locks *L = m->locks;
	struct wakes w = { NULL };
	int n;

	if (!L)
		return;
	pthread_mutex_lock(&L->mu);
	n = drop_node(L, node, &w);
	pthread_mutex_unlock(&L->mu);
	if (n)
		log_node(LOG_WARNING, node, "dead: its %d application "
			 "locks are dropped", n);
	wakes_send(m, &w);
}

/* Nodes that hold locks or wait (bit n - 1... as a byte map). */
static void nodes_present(struct mds_locks *L, unsigned char *map)
{
	struct plock_tab *t = &L->tab;
	const struct plock_file *f;
	const struct plock_ent *e;
	const struct plock_wait *q;
	size_t i;

	for (i = 0; i < t->nslots; i++)
		for (f = t->slots[i]; f; f = f->next) {
			for (e = f->locks; e; e = e->next)
				if (e->l.node <= MAX_NODE)
					map[e->l.node] = 1;
			for (q = f->waits; q; q = q->next)
				if (q->l.node <= MAX_NODE)
					map[q->l.node] = 1;
		}
}

/* Drops dead nodes' locks within a second, to wake their waiters. */
static void *reaper_main(void *arg)
{
	struct mds_locks *L = arg;
	unsigned char map[MAX_NODE + 1];
	struct timespec ts;
	uint32_t n;

	pthread_mutex_lock(&L->mu);
	while (!L->stop) {
		struct wakes w = { NULL };
		int k = 0;

		in_grace(L);
		memset(map, 0, sizeof(map));
		nodes_present(L, map);
		for (n = 1; n <= MAX_NODE; n++)
			if (map[n] && node_dead(L->m, n)) {
				k = drop_node(L, n, &w);
				log_node(LOG_WARNING, n, "left the cluster "
					 "and its heartbeat stopped: its %d "
					 "application locks are dropped", k);
			}
		if (w.head) {
			pthread_mutex_unlock(&L->mu);
			wakes_send(L->m, &w);
			pthread_mutex_lock(&L->mu);
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += REAP_MS / 1000;
		while (!L->stop && pthread_cond_timedwait(&L->cond, &L->mu,
							  &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&L->mu);
	return NULL;
}

int mds_lock_init(struct mds *m)
{
	struct mds_locks *L = calloc(1, sizeof(*L));
	pthread_condattr_t ca;
	unsigned grace = m->o.lock_grace_ms ? m->o.lock_grace_ms :
					      GRACE_MS_DEFAULT;
	int rc;

	if (!L)
		return -ENOMEM;
	L->m = m;
	pthread_mutex_init(&L->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&L->cond, &ca);
	pthread_condattr_destroy(&ca);
	plock_tab_init(&L->tab);
	if (!m->o.standalone && m->o.is_member) {
		L->grace = 1;
		L->grace_end_ns = mono_ns() + grace * 1000000ull;
		log_info("locks: grace period of %u ms: nodes "
			 "reclaim their locks first", grace);
	}
	if (m->watch) {
		rc = pthread_create(&L->reaper, NULL, reaper_main, L);
		if (rc) {
			pthread_cond_destroy(&L->cond);
			pthread_mutex_destroy(&L->mu);
			free(L);
			return -rc;
		}
		L->reaper_running = 1;
	}
	m->locks = L;
	return 0;
}

void mds_lock_free(struct mds *m)
{
	struct mds_locks *L = m->locks;

	if (!L)
		return;
	if (L->reaper_running) {
		pthread_mutex_lock(&L->mu);
		L->stop = 1;
		pthread_cond_broadcast(&L->cond);
		pthread_mutex_unlock(&L->mu);
		pthread_join(L->reaper, NULL);
	}
	m->locks = NULL;
	plock_tab_release(&L->tab);
	pthread_cond_destroy(&L->cond);
	pthread_mutex_destroy(&L->mu);
	free(L);
}
