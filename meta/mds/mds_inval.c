/*
 * mds_inval: coherence of the nodes' attribute and entry caches
 * (net/mcache.h, include/csvfs/proto.h INVAL).
 *
 * Interest. LOOKUP and GETATTR record, under the metadata lock, that the
 * requesting node may now cache the inode (and, for a LOOKUP, entries of
 * the directory). A FORGET from the node drops its interest.
 *
 * Changes. After a successful request, still under the metadata lock, every
 * inode block the operation changed is looked up in the interest table; the
 * nodes interested are taken out of it (they will have dropped what they
 * cached) and told once the lock is released: the requesting node by an
 * INVAL that needs no answer, sent before the reply on the same connection
 * (its reader applies it before it sees the reply), every other node by an
 * INVAL it acknowledges. The reply waits for the acknowledgements, at most
 * CSVFS_INVAL_WAIT_MS, and for a node that could not be told, until its
 * entries have expired (the lease counted from the last request the node
 * sent us). Waiting happens without the metadata lock, so a node whose own
 * requests wait on us can still acknowledge (acks are handled on the
 * connection thread, never queued behind requests).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csvfs/log.h"
#include "meta/jrnl.h"
#include "meta/mds/mds_i.h"
#include "meta/ondisk.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cluster_caches(const struct mds *m)
{
	return !m->o.standalone && m->o.inval;
}

static uint64_t lease_ns(const struct mds *m)
{
	return (uint64_t)(m->o.lease_ms ? m->o.lease_ms : CSVFS_CACHE_LEASE_MS)
	       * 1000000ull;
}

static size_t intr_slot(uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 24) &
	       (MDS_INTR_HASH - 1);
}

static int node_ok(uint32_t node)
{
	return node >= 1 && node <= CSVFS_MAX_NODES_LIMIT;
}

static void mask_set(uint64_t *mask, uint32_t node)
{
	mask[(node - 1) / 64] |= 1ull << ((node - 1) % 64);
}

static int mask_has(const uint64_t *mask, uint32_t node)
{
	return !!(mask[(node - 1) / 64] & (1ull << ((node - 1) % 64)));
}

static void mask_clear(uint64_t *mask, uint32_t node)
{
	mask[(node - 1) / 64] &= ~(1ull << ((node - 1) % 64));
}

static int mask_empty(const uint64_t *mask)
{
	int i;

	for (i = 0; i < MDS_NODE_WORDS; i++)
		if (mask[i])
			return 0;
	return 1;
}

int mds_inval_init(struct mds *m)
{
	pthread_condattr_t ca;

	m->intr = calloc(MDS_INTR_HASH, sizeof(*m->intr));
	if (!m->intr)
		return -ENOMEM;
	pthread_mutex_init(&m->inval_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->inval_cond, &ca);
	pthread_condattr_destroy(&ca);
	m->serve_ns = mono_ns();
	return 0;
}

void mds_inval_free(struct mds *m)
{
	size_t i;

	if (!m->intr)
		return;
	for (i = 0; i < MDS_INTR_HASH; i++)
		while (m->intr[i]) {
			struct mds_intr *p = m->intr[i];

			m->intr[i] = p->next;
			free(p);
		}
	free(m->intr);
	m->intr = NULL;
	pthread_mutex_destroy(&m->inval_lock);
	pthread_cond_destroy(&m->inval_cond);
}

int mds_interest(struct mds_req *r, uint64_t ino)
{
	struct mds *m = r->m;
	uint32_t node = r->hdr->node_id;
	struct mds_intr **pp, *p;

	if (!cluster_caches(m) || !node_ok(node))
		return 0;
	pp = &m->intr[intr_slot(ino)];
	for (p = *pp; p && p->ino != ino; p = p->next)
		;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;	/* it could not be told: no reply */
		p->ino = ino;
		p->next = *pp;
		*pp = p;
		m->nintr++;
	}
	mask_set(p->mask, node);
	return 0;
}

/* Takes ino's interest out of the table into mask (zeroed if none). */
static void interest_take(struct mds *m, uint64_t ino, uint64_t *mask)
{
	struct mds_intr **pp = &m->intr[intr_slot(ino)], *p;

	memset(mask, 0, MDS_NODE_WORDS * sizeof(*mask));
	while ((p = *pp) && p->ino != ino)
		pp = &p->next;
	if (!p)
		return;
	memcpy(mask, p->mask, MDS_NODE_WORDS * sizeof(*mask));
	*pp = p->next;
	free(p);
	m->nintr--;
}

void mds_interest_forget(struct mds *m, uint32_t node, uint64_t ino)
{
	struct mds_intr **pp = &m->intr[intr_slot(ino)], *p;

	if (!m->intr || !node_ok(node))
		return;
	while ((p = *pp) && p->ino != ino)
		pp = &p->next;
	if (!p)
		return;
	mask_clear(p->mask, node);
	if (mask_empty(p->mask)) {
		*pp = p->next;
		free(p);
		m->nintr--;
	}
}

static int is_inode_block(const uint8_t *raw)
{
	return raw && od_get32(raw) == CSVFS_MAGIC_INODE;
}

void mds_inval_collect(struct mds_req *r)
{
	struct mds *m = r->m;
	struct jop *op = r->op;
	uint64_t mask[MDS_NODE_WORDS];
	unsigned i;
	int k;

	if (!cluster_caches(m))
		return;
	for (i = 0; i < op->nundo; i++) {
		const struct jop_undo *u = &op->undo[i];

		if (!is_inode_block(u->b->data) && !is_inode_block(u->saved))
			continue;
		interest_take(m, u->b->mblk, mask);
		if (mask_empty(mask))
			continue;
		if (r->ninv < MDS_REQ_INVALS) {
			r->inv[r->ninv].ino = u->b->mblk;
			memcpy(r->inv[r->ninv].mask, mask, sizeof(mask));
			r->ninv++;
			continue;
		}
		/* Too many to list: those nodes drop everything. */
		for (k = 0; k < MDS_NODE_WORDS; k++)
			r->inv_all[k] |= mask[k];
	}
}

void mds_note_request(struct mds *m, uint32_t node)
{
	if (node_ok(node))
		__atomic_store_n(&m->last_req_ns[node], mono_ns(),
				 __ATOMIC_RELAXED);
}

static void sleep_until(uint64_t deadline)
{
	uint64_t now = mono_ns();

	if (deadline > now)
		usleep((useconds_t)((deadline - now) / 1000));
}

/*
 * Whether a node other than this one may still answer from entries its
 * predecessor handed out: a member that has sent no request to this
 * coordinator yet. A node drops its whole cache when it connects to a new
 * coordinator (fs/cluster.c on_conn), and this node's own daemon when its
 * role starts, so only those are waited for. Without the membership
 * (tests, standalone) every node may.
 */
static int predecessor_entries(struct mds *m)
{
	uint32_t n;

	if (!m->o.is_member)
		return 1;
	for (n = 1; n <= CSVFS_MAX_NODES_LIMIT; n++) {
		if (n == m->o.node_id || !m->o.is_member(m->o.own_ctx, n))
			continue;
		if (__atomic_load_n(&m->last_req_ns[n], __ATOMIC_RELAXED) <
		    m->serve_ns)
			return 1;
	}
	return 0;
}

/*
 * Until the predecessor's leases have run out (CSVFS_CACHE_LEASE_MS after
 * this coordinator started), or every other member has come to us.
 */
static void wait_predecessor(struct mds *m)
{
	uint64_t end = m->serve_ns + lease_ns(m), now;

	while ((now = mono_ns()) < end && predecessor_entries(m))
		sleep_until(now + 5000000ull < end ? now + 5000000ull : end);
}

/* One node's INVAL: the inos it is interested in (n 0: drop everything). */
static int send_one(struct mds_req *r, uint32_t node, uint64_t id)
{
	struct mds *m = r->m;
	uint64_t inos[MDS_REQ_INVALS];
	uint32_t n = 0, i;

	if (!mask_has(r->inv_all, node))
		for (i = 0; i < r->ninv; i++)
			if (mask_has(r->inv[i].mask, node))
				inos[n++] = r->inv[i].ino;
	return m->o.inval(m->o.own_ctx, node, id, inos, n);
}

int mds_inval_ack(struct mds *m, const struct csvfs_msg_hdr *hdr,
		  const uint8_t *payload)
{
	struct mds_inval_wait *w;
	struct msg_rd in;
	uint64_t id;

	msg_rd_init(&in, payload, hdr->length);
	id = msg_get_u64(&in);
	if (msg_rd_end(&in))
		return -EPROTO;
	if (!cluster_caches(m) || !node_ok(hdr->node_id))
		return -EINVAL;
	pthread_mutex_lock(&m->inval_lock);
	for (w = m->waits; w; w = w->next)
		if (w->id == id)
			mask_clear(w->mask, hdr->node_id);
	pthread_cond_broadcast(&m->inval_cond);
	pthread_mutex_unlock(&m->inval_lock);
	return 0;
}

/* Waits for the acks of w until deadline (CLOCK_MONOTONIC ns). */
static void wait_acks(struct mds *m, struct mds_inval_wait *w,
		      uint64_t deadline)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(deadline / 1000000000ull);
	ts.tv_nsec = (long)(deadline % 1000000000ull);
	pthread_mutex_lock(&m->inval_lock);
	while (!mask_empty(w->mask))
		if (pthread_cond_timedwait(&m->inval_cond, &m->inval_lock,
					   &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&m->inval_lock);
}

static void wait_unlink(struct mds *m, struct mds_inval_wait *w)
{
	struct mds_inval_wait **pp;

	pthread_mutex_lock(&m->inval_lock);
	for (pp = &m->waits; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&m->inval_lock);
}

void mds_inval_send(struct mds_req *r)
{
	struct mds *m = r->m;
	uint32_t origin = r->hdr->node_id, node;
	uint64_t nodes[MDS_NODE_WORDS] = { 0 }, lost[MDS_NODE_WORDS] = { 0 };
	struct mds_inval_wait w;
	uint64_t until = 0;
	unsigned i;
	int k, rc;

	if (!cluster_caches(m))
		return;
	/* A predecessor's nodes may cache until its last lease ran out. */
	wait_predecessor(m);
	if (!r->ninv && mask_empty(r->inv_all))
		return;
	for (i = 0; i < r->ninv; i++)
		for (k = 0; k < MDS_NODE_WORDS; k++)
			nodes[k] |= r->inv[i].mask[k];
	for (k = 0; k < MDS_NODE_WORDS; k++)
		nodes[k] |= r->inv_all[k];

	memset(&w, 0, sizeof(w));
	pthread_mutex_lock(&m->inval_lock);
	w.id = ++m->next_inval_id;
	memcpy(w.mask, nodes, sizeof(nodes));
	if (node_ok(origin))
		mask_clear(w.mask, origin);
	w.next = m->waits;
	m->waits = &w;
	pthread_mutex_unlock(&m->inval_lock);

	for (node = 1; node <= CSVFS_MAX_NODES_LIMIT; node++) {
		if (!mask_has(nodes, node))
			continue;
		rc = send_one(r, node, node == origin ? 0 : w.id);
		if (rc == 0 || node == origin)
			continue;
		/* Told at once (1), or not at all (< 0). */
		pthread_mutex_lock(&m->inval_lock);
		mask_clear(w.mask, node);
		pthread_mutex_unlock(&m->inval_lock);
		if (rc < 0)
			mask_set(lost, node);
	}
	wait_acks(m, &w, mono_ns() + CSVFS_INVAL_WAIT_MS * 1000000ull);
	wait_unlink(m, &w);
	for (k = 0; k < MDS_NODE_WORDS; k++)
		lost[k] |= w.mask[k];
	if (mask_empty(lost))
		return;
	for (node = 1; node <= CSVFS_MAX_NODES_LIMIT; node++) {
		uint64_t t;

		if (!mask_has(lost, node))
			continue;
		t = __atomic_load_n(&m->last_req_ns[node], __ATOMIC_RELAXED) +
		    lease_ns(m);
		if (t > until)
			until = t;
		if (t > mono_ns())
			log_node(LOG_WARNING, node, "did not acknowledge a "
				 "cache invalidation: waiting for its lease "
				 "to end");
	}
	sleep_until(until);
}
