/*
 * cluster: a node's part in a multi-node mount: the glue between Corosync
 * (net/memb.h), the election (fs/elect.h), the role (the metadata service
 * and its TLS server, run when elected) and the follow-the-coordinator
 * transport.
 *
 * Election: fs/elect.c decides, from what CPG delivers in its total order,
 * who serves; this file carries its callbacks out (multicast, start/stop
 * the role, point the client at the coordinator, the one timer). Without
 * quorum nobody serves, and the node fences itself (below).
 *
 * Caches. The daemon answers LOOKUP and GETATTR from its cache
 * (net/mcache.h), which the coordinator keeps coherent with INVAL pushes
 * (meta/mds/mds_inval.c); the kernel caches no entries or attributes (its
 * dentry invalidation takes the directory's lock, which a request of this
 * node may hold while it waits for the coordinator), and file I/O is direct.
 * INVALs are acknowledged by the acker thread over a second connection,
 * so an acknowledgement never waits behind this node's own requests.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "csvfs/le.h"
#include "csvfs/log.h"
#include "fs/cluster.h"
#include "fs/cluster_i.h"
#include "fs/elect.h"
#include "fs/own.h"
#include "lockd/hb.h"
#include "meta/mds/mds.h"
#include "meta/ondisk.h"
#include "net/mcache.h"
#include "net/mdc.h"
#include "net/msg.h"
#include "net/memb.h"
#include "net/rpc.h"
#include "net/tls.h"

/*
 * After the coordinator went away with its node (cut off, crashed), wait
 * this long before taking over: the cut-off node loses quorum within the
 * token timeout (1 s here) plus its consensus timeout and stops serving.
 */
#define GRACE_MS	3000
/*
 * How long a request waits for a coordinator: while the node has quorum,
 * up to 2 minutes (an election plus a long journal replay); without
 * quorum 10 s, then it fails with EIO (the node is cut off; the data path
 * is fenced anyway).
 */
#define CLU_COORD_WAIT_MS	120000
#define CLU_NOQUORUM_WAIT_MS	10000



/* ---- messages ----------------------------------------------------------- */

/* ---- the role ------------------------------------------------------------ */

static int serve(void *ctx, const struct csvfs_msg_hdr *h,
		 const uint8_t *payload, uint8_t **reply, size_t *reply_len)
{
	struct clu *c = ctx;
	int rc;

	pthread_rwlock_rdlock(&c->role_lock);
	if (c->mds)
		rc = mds_dispatch(c->mds, h, payload, reply, reply_len);
	else
		rc = -ESTALE;	/* not the coordinator (any more) */
	pthread_rwlock_unlock(&c->role_lock);
	return rc;
}

/* ---- file ownership: recalls (the protocol: fs/own.h) ----------------- */

/*
 * Runs the daemon's recall of ino on a thread of its own (own.h): the
 * recall reports through RPCs, which the push reader thread must not wait
 * for.
 */
static int recall_spawn(struct clu *c, uint64_t ino)
{
	if (!c->recall)
		return -ENOSYS;
	return own_recall_spawn(c->recall, c->recall_ctx, ino);
}

/* Coordinator side (mds_opts.is_member). */
static int own_is_member(void *ctx, uint32_t node)
{
	struct clu *c = ctx;

	return node <= MAX_NODES && c->is_memb[node];
}

/* Coordinator side (mds_opts.recall): push RECALL, or recall here. */
static int own_recall(void *ctx, uint32_t node, uint64_t ino, uint32_t to)
{
	struct clu *c = ctx;
	struct csvfs_msg_hdr h;
	struct rpc_server *srv;
	uint8_t p[MSG_RECALL_LEN];

	if (node == c->self)
		return recall_spawn(c, ino);
	srv = __atomic_load_n(&c->server, __ATOMIC_ACQUIRE);
	if (!srv)
		return -ENOTCONN;
	memset(&h, 0, sizeof(h));
	h.type = CSVFS_MSG_RECALL;
	h.length = sizeof(p);
	h.node_id = c->self;
	msg_recall_encode(ino, to, p);
	return rpc_server_push(srv, node, &h, p);
}

/* ---- application locks ------------------------------------------------------ */

void clu_set_locks(struct clu *c, void (*fn)(void *ctx, uint64_t wait_id),
		   void *ctx)
{
	pthread_mutex_lock(&c->inval_lock);
	c->locks = fn;
	c->locks_ctx = ctx;
	pthread_mutex_unlock(&c->inval_lock);
}

static void locks_call(struct clu *c, uint64_t wait_id)
{
	pthread_mutex_lock(&c->inval_lock);
	if (c->locks)
		c->locks(c->locks_ctx, wait_id);
	pthread_mutex_unlock(&c->inval_lock);
}

/* Coordinator side (mds_opts.lock_wake): push LOCK_WAKE, or wake here. */
static int own_lock_wake(void *ctx, uint32_t node, uint64_t wait_id)
{
	struct clu *c = ctx;
	struct csvfs_msg_hdr h;
	struct rpc_server *srv;
	uint8_t p[8];
	int rc;

	if (node == c->self) {
		locks_call(c, wait_id);
		return 0;
	}
	memset(&h, 0, sizeof(h));
	h.type = CSVFS_MSG_LOCK_WAKE;
	h.length = sizeof(p);
	h.node_id = c->self;
	le_put64(p, wait_id);
	pthread_mutex_lock(&c->wake_lock);
	srv = __atomic_load_n(&c->server, __ATOMIC_ACQUIRE);
	rc = srv ? rpc_server_push(srv, node, &h, p) : -ENOTCONN;
	pthread_mutex_unlock(&c->wake_lock);
	return rc;
}

/* ---- caches: invalidations ------------------------------------------------ */

/*
 * Drops what this node cached of inos (n 0: of everything). others: the
 * change came from another node, so cached extent maps go too (this
 * node's own allocations are already in its maps). Never blocks on a
 * request of this node: it runs on the client's reader thread.
 */
static void apply_inval(struct clu *c, const uint64_t *inos, uint32_t n,
			int others)
{
	void (*fn)(void *ctx, uint64_t ino);
	void *ctx;
	uint32_t i;

	if (c->o.cache && !n)
		mcache_clear(c->o.cache);
	for (i = 0; c->o.cache && i < n; i++)
		mcache_inval(c->o.cache, inos[i]);
	if (!others)
		return;
	pthread_mutex_lock(&c->inval_lock);
	fn = c->inval_data;
	ctx = c->inval_data_ctx;
	for (i = 0; fn && i < n; i++)
		fn(ctx, inos[i]);
	pthread_mutex_unlock(&c->inval_lock);
}

void clu_set_inval(struct clu *c, void (*fn)(void *ctx, uint64_t ino),
		   void *ctx)
{
	pthread_mutex_lock(&c->inval_lock);
	c->inval_data = fn;
	c->inval_data_ctx = ctx;
	pthread_mutex_unlock(&c->inval_lock);
}

/* Coordinator side (mds_opts.inval): push INVAL, or drop here. */
static int own_inval(void *ctx, uint32_t node, uint64_t id,
		     const uint64_t *inos, uint32_t n)
{
	struct clu *c = ctx;
	struct csvfs_msg_hdr h;
	struct rpc_server *srv;
	struct msg_wr w;
	uint32_t i;
	int rc;

	if (node == c->self) {
		apply_inval(c, inos, n, id != 0);
		return 1;
	}
	srv = __atomic_load_n(&c->server, __ATOMIC_ACQUIRE);
	if (!srv)
		return -ENOTCONN;
	msg_wr_init(&w);
	msg_put_u64(&w, id);
	msg_put_u32(&w, n);
	for (i = 0; i < n; i++)
		msg_put_u64(&w, inos[i]);
	if (w.err) {
		msg_wr_free(&w);
		return w.err;
	}
	memset(&h, 0, sizeof(h));
	h.type = CSVFS_MSG_INVAL;
	h.length = (uint32_t)w.len;
	h.node_id = c->self;
	rc = rpc_server_push(srv, node, &h, w.p);
	msg_wr_free(&w);
	return rc;
}

static void ack_enqueue(struct clu *c, uint64_t id)
{
	pthread_mutex_lock(&c->ack_lock);
	if (c->ack_n == c->ack_cap) {
		size_t cap = c->ack_cap ? 2 * c->ack_cap : 64;
		uint64_t *q = realloc(c->ack_q, cap * sizeof(*q));

		if (!q) {
			/* The coordinator waits out our lease instead. */
			pthread_mutex_unlock(&c->ack_lock);
			return;
		}
		c->ack_q = q;
		c->ack_cap = cap;
	}
	c->ack_q[c->ack_n++] = id;
	pthread_cond_signal(&c->ack_cond);
	pthread_mutex_unlock(&c->ack_lock);
}

static void *acker_main(void *arg)
{
	struct clu *c = arg;
	uint64_t *q = NULL;
	size_t n, i;
	struct mdc *mdc;

	pthread_mutex_lock(&c->ack_lock);
	for (;;) {
		while (!c->ack_n && !c->ack_stop)
			pthread_cond_wait(&c->ack_cond, &c->ack_lock);
		if (c->ack_stop)
			break;
		q = c->ack_q;
		n = c->ack_n;
		c->ack_q = NULL;
		c->ack_n = c->ack_cap = 0;
		pthread_mutex_unlock(&c->ack_lock);
		pthread_mutex_lock(&c->lock);
		mdc = c->ack_mdc;
		pthread_mutex_unlock(&c->lock);
		for (i = 0; i < n && mdc; i++)
			if (mdc_inval_ack(mdc, q[i]))
				log_debug("cache invalidation %llu: the "
					  "acknowledgement failed",
					  (unsigned long long)q[i]);
		free(q);
		pthread_mutex_lock(&c->ack_lock);
	}
	pthread_mutex_unlock(&c->ack_lock);
	return NULL;
}

static void on_inval(struct clu *c, const struct csvfs_msg_hdr *h,
		     const uint8_t *payload)
{
	uint64_t inos[64], id;
	struct msg_rd in;
	uint32_t n, i;

	msg_rd_init(&in, payload, h->length);
	id = msg_get_u64(&in);
	n = msg_get_u32(&in);
	if (in.err || (uint64_t)n * 8 != h->length - 12u) {
		log_warn("malformed cache invalidation from the "
			 "coordinator: dropping the whole cache");
		n = 0;
	}
	/* In pieces: a long list must not need memory we may not get. */
	if (!n)
		apply_inval(c, NULL, 0, id != 0);
	while (n) {
		uint32_t k = n < 64 ? n : 64;

		for (i = 0; i < k; i++)
			inos[i] = msg_get_u64(&in);
		apply_inval(c, inos, k, id != 0);
		n -= k;
	}
	if (id)
		ack_enqueue(c, id);
}

/* Node side: pushes sent while we were not connected are lost. */
static void on_conn(void *ctx, int connected)
{
	struct clu *c = ctx;

	if (c->o.cache)
		mcache_clear(c->o.cache);
	/* Lock wake-ups may have been lost, or a new coordinator serves. */
	if (connected)
		locks_call(c, 0);
}

/* Node side: the coordinator's pushes (client reader thread). */
static void on_push(void *ctx, const struct csvfs_msg_hdr *h,
		    const uint8_t *payload)
{
	struct clu *c = ctx;
	uint64_t ino;
	uint32_t to;
	int rc;

	if (h->type == CSVFS_MSG_INVAL && h->length >= 12) {
		on_inval(c, h, payload);
		return;
	}
	if (h->type == CSVFS_MSG_LOCK_WAKE && h->length == 8) {
		locks_call(c, le_get64(payload));
		return;
	}
	if (h->type != CSVFS_MSG_RECALL ||
	    msg_recall_decode(payload, h->length, &ino, &to))
		return;
	rc = recall_spawn(c, ino);
	if (rc)
		log_ino_at(LOG_ERR, ino, "cannot start the recall: %s",
			   strerror(-rc));
}

void clu_set_recall(struct clu *c, void (*fn)(void *ctx, uint64_t ino),
		    void *ctx)
{
	pthread_mutex_lock(&c->lock);
	c->recall_ctx = ctx;
	c->recall = fn;
	pthread_mutex_unlock(&c->lock);
}

/*
 * Stops listening and takes the coordinator away from the request path
 * (requests running in it finish first: role_lock); returns it for the
 * caller to stop or abandon. Caller holds c->lock.
 */
static struct mds *role_detach(struct clu *c)
{
	struct rpc_server *srv = c->server;
	struct mds *m;

	pthread_mutex_lock(&c->wake_lock);
	__atomic_store_n(&c->server, NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&c->wake_lock);
	if (srv)
		rpc_server_stop(srv);
	pthread_rwlock_wrlock(&c->role_lock);
	m = c->mds;
	c->mds = NULL;
	pthread_rwlock_unlock(&c->role_lock);
	return m;
}

/* elect_ops.stop. Caller holds c->lock. */
static void role_stop(struct clu *c, const char *why)
{
	int rc;

	if (!c->mds)
		return;
	rc = mds_stop(role_detach(c));
	log_node(rc ? LOG_ERR : LOG_NOTICE, c->self,
		 "coordinator stopped (%s)%s", why,
		 rc ? ": final commit failed" : "");
	if (c->coord == c->self)
		c->coord = 0;
}

/*
 * elect_ops.abandon: this node was deposed, another may already serve.
 * Fences the journal before anything else (requests may still run in
 * the role), then stops like role_stop but writes nothing. Caller holds
 * c->lock.
 */
static void role_abandon(struct clu *c, const char *why)
{
	if (!c->mds)
		return;
	mds_fence(c->mds);
	mds_abandon(role_detach(c));
	log_node(LOG_WARNING, c->self, "coordinator dropped, nothing written "
		 "(%s)", why);
	if (c->coord == c->self)
		c->coord = 0;
}

/* elect_ops.start. Caller holds c->lock. */
static int role_start(struct clu *c, uint64_t *epoch)
{
	struct mds_opts mo = { 0 };
	struct rpc_server_opts so = { 0 };
	struct mds *m = NULL;
	int rc;

	/* An unmounting node must not take the role: nothing would stop
	 * it again, and the volume would be left dirty. */
	if (c->stopping)
		return -ESHUTDOWN;
	mo.node_id = c->self;
	mo.standalone = 0;
	mo.is_member = own_is_member;
	mo.recall = own_recall;
	mo.inval = own_inval;
	mo.own_ctx = c;
	mo.lock_wake = own_lock_wake;
	mo.lock_ctx = c;
	mo.lowspace_pct = c->o.lowspace_pct;
	/* The last coordinator was deposed, not ended: let its last
	 * writes under an old epoch proof end first (csvfs/fencing.h). */
	if (c->elect_ready && c->e.start_fence)
		mo.fence_wait_ms = CSVFS_FENCE_WAIT_MS;
	rc = mds_start(c->o.dev, &mo, &m);
	if (rc) {
		log_node(LOG_ERR, c->self, "cannot start the coordinator: %s",
			 csvfs_strerror(rc));
		return rc;
	}
	pthread_rwlock_wrlock(&c->role_lock);
	c->mds = m;
	pthread_rwlock_unlock(&c->role_lock);
	so.port = c->o.port;
	so.key = c->key;
	so.identity = c->identity;
	so.handle = serve;
	so.ctx = c;
	/* A handoff waits in its handler for the owner's RECALL_DONE,
	 * which may come over the same connection: a pool, not one thread
	 * per connection. */
	so.workers = 8;
	/* What requests in the pool may wait for: never queue behind them. */
	so.inline_types = 1ull << CSVFS_MSG_INVAL_ACK |
			  1ull << CSVFS_MSG_RECALL_DONE;
	rc = rpc_server_start(&so, &c->server);
	if (rc) {
		log_node(LOG_ERR, c->self, "cannot listen on port %u: %s",
			 c->o.port, strerror(-rc));
		role_stop(c, "no listener");
		return rc;
	}
	*epoch = mds_epoch(m);
	/* What this node cached came from the predecessor, which no
	 * longer invalidates it: the new coordinator need not wait out
	 * our lease (meta/mds_inval.c). */
	if (c->o.cache)
		mcache_clear(c->o.cache);
	log_node(LOG_NOTICE, c->self,
		 "coordinator started, port %u, epoch %llu", c->o.port,
		 (unsigned long long)*epoch);
	return 0;
}

/* ---- self-fencing ---------------------------------------------------------- */

void clu_set_fence(struct clu *c, void (*fn)(void *ctx, int on), void *ctx)
{
	pthread_mutex_lock(&c->inval_lock);
	c->fence = fn;
	c->fence_ctx = ctx;
	pthread_mutex_unlock(&c->inval_lock);
}

static void fence_call(struct clu *c, int on)
{
	pthread_mutex_lock(&c->inval_lock);
	if (c->fence)
		c->fence(c->fence_ctx, on);
	pthread_mutex_unlock(&c->inval_lock);
}

static void *unfence_main(void *arg)
{
	fence_call(arg, 0);
	return NULL;
}

/*
 * Quorum lost: stop writing to the device at once and stop the heartbeat,
 * so that the others, after CSVFS_HB_DEAD_MS without it, may break our
 * locks. Quorum back: stamp again; open files must show they are still
 * ours before they write (on a thread: that waits for writes in flight).
 * Caller holds c->lock.
 */
static void fence_update(struct clu *c, int quorate)
{
	if (quorate)
		c->was_quorate = 1;
	if (!quorate && c->was_quorate && !c->fenced) {
		c->fenced = 1;
		hb_suspend(c->hb, 1);
		fence_call(c, 1);
		log_node(LOG_WARNING, c->self, "quorum lost: fenced (no device "
			 "writes, heartbeat stopped)");
	} else if (quorate && c->fenced) {
		c->fenced = 0;
		hb_suspend(c->hb, 0);
		if (c->unfence_started)
			pthread_join(c->unfence, NULL);
		c->unfence_started = !pthread_create(&c->unfence, NULL,
						     unfence_main, c);
		if (!c->unfence_started)
			fence_call(c, 0);
		log_node(LOG_NOTICE, c->self, "quorum regained: unfenced");
	}
}

/* The connection for INVAL acknowledgements (caller holds c->lock). */
static void follow_acks(struct clu *c, const char *addr, uint16_t port)
{
	struct mdc_transport t;
	int rc;

	rc = rpc_client_new(addr, port, c->key, c->identity, c->self,
			    &c->ack_client);
	if (rc) {
		c->ack_client = NULL;
		goto fail;
	}
	rpc_client_set_timeout(c->ack_client, CSVFS_INVAL_WAIT_MS);
	rpc_client_transport(c->ack_client, &t);
	rc = mdc_new(&t, c->self, 0, &c->ack_mdc);
	if (!rc)
		return;
	rpc_client_free(c->ack_client);
	c->ack_client = NULL;
fail:
	log_node(LOG_ERR, c->self, "no connection for cache acknowledgements "
		 "(%s): the coordinator will wait out this node's leases",
		 strerror(-rc));
}

/* Points the client at node's address (caller holds c->lock). */
static void follow(struct clu *c, uint32_t node, uint16_t port)
{
	char addr[64];
	int rc;

	rc = memb_node_addr(node, addr, sizeof(addr));
	if (rc) {
		log_node(LOG_ERR, c->self, "no address for coordinator node %u "
			 "in the corosync nodelist", node);
		return;
	}
	if (c->client && !strcmp(addr, c->coord_addr) &&
	    port == c->coord_port)
		return;
	snprintf(c->coord_addr, sizeof(c->coord_addr), "%s", addr);
	c->coord_port = port;
	if (c->client) {
		rpc_client_retarget(c->client, addr, port);
		if (c->ack_client)
			rpc_client_retarget(c->ack_client, addr, port);
		return;
	}
	rc = rpc_client_new(addr, port, c->key, c->identity, c->self,
			    &c->client);
	if (rc) {
		log_node(LOG_ERR, c->self, "rpc client: %s", strerror(-rc));
		c->client = NULL;
		return;
	}
	rpc_client_set_timeout(c->client, 120000);
	rpc_client_set_push_handler(c->client, on_push, c);
	rpc_client_set_conn_handler(c->client, on_conn, c);
	rpc_client_transport(c->client, &c->client_t);
	follow_acks(c, addr, port);
}

/* ---- election: elect_ops and the Corosync callbacks ---------------------- */

static int el_send(void *ctx, const void *msg, size_t len)
{
	struct clu *c = ctx;

	return memb_send(c->memb, msg, len);
}

static int el_start(void *ctx, uint64_t *epoch)
{
	return role_start(ctx, epoch);
}

static void el_stop(void *ctx, const char *why)
{
	role_stop(ctx, why);
}

static void el_abandon(void *ctx, const char *why)
{
	role_abandon(ctx, why);
}

static void el_follow(void *ctx, uint32_t node, uint16_t port, uint64_t epoch)
{
	struct clu *c = ctx;

	/* A new coordinator knows no locks: give it ours. */
	if (node && c->coord != node)
		locks_call(c, 0);
	c->coord = node;
	c->coord_epoch = epoch;
	/* Our own too, once we have a client: requests this node sent to
	 * the old coordinator and still waits for go to our server. */
	if (node && (node != c->self || c->client))
		follow(c, node, port);
	pthread_cond_broadcast(&c->cond);
}

static void el_timer(void *ctx, int ms)
{
	struct clu *c = ctx;

	memb_timer(c->memb, ms);
}

/*
 * The election starts with the first callback: memb_start publishes
 * c->memb and this node's id before any callback runs, but returns after.
 * Caller holds c->lock.
 */
static struct elect *el(struct clu *c)
{
	static const struct elect_ops ops = {
		el_send, el_start, el_stop, el_follow, el_timer, el_abandon
	};
	struct elect_opts eo = { 0 };

	if (c->elect_ready)
		return &c->e;
	c->self = memb_local_node(c->memb);
	eo.node = c->self;
	eo.pid = memb_local_pid(c->memb);
	eo.port = c->o.port;
	eo.disk_epoch = c->sb.coord_epoch;
	eo.grace_ms = GRACE_MS;
	elect_init(&c->e, &eo, &ops, c);
	c->elect_ready = 1;
	return &c->e;
}

static void on_confchg(void *ctx, const struct memb_member *mem, size_t n,
		       const struct memb_member *left, size_t nleft)
{
	struct clu *c = ctx;
	size_t i;

	pthread_mutex_lock(&c->lock);
	c->nmembers = 0;
	for (i = 0; i <= MAX_NODES; i++)
		c->is_memb[i] = 0;
	for (i = 0; i < n; i++) {
		if (mem[i].node == 0 || mem[i].node > MAX_NODES ||
		    c->is_memb[mem[i].node])
			continue;
		c->is_memb[mem[i].node] = 1;
		c->members[c->nmembers++] = mem[i].node;
	}
	elect_confchg(el(c), mem, n, left, nleft);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_quorum(void *ctx, int quorate)
{
	struct clu *c = ctx;

	pthread_mutex_lock(&c->lock);
	c->quorate = quorate;
	/*
	 * Quorum lost: the role stops (its last writes) before the
	 * heartbeat does, so others that see our heartbeat stand still
	 * know we write no metadata any more (elect_fenced).
	 */
	if (!quorate) {
		elect_quorum(el(c), quorate);
		fence_update(c, quorate);
	} else {
		fence_update(c, quorate);
		elect_quorum(el(c), quorate);
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_ring(void *ctx, int current, int quorate)
{
	struct clu *c = ctx;

	pthread_mutex_lock(&c->lock);
	elect_ring(el(c), current, quorate);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_message(void *ctx, uint32_t node, uint32_t pid,
		       const void *msg, size_t len)
{
	struct clu *c = ctx;

	pthread_mutex_lock(&c->lock);
	elect_deliver(el(c), node, pid, msg, len);
	pthread_mutex_unlock(&c->lock);
}

static void on_timer(void *ctx)
{
	struct clu *c = ctx;

	pthread_mutex_lock(&c->lock);
	elect_timer(el(c));
	pthread_mutex_unlock(&c->lock);
}

/* ---- transport ----------------------------------------------------------- */

/*
 * Waits until a coordinator is known: 0, or -EIO after CLU_COORD_WAIT_MS,
 * or after CLU_NOQUORUM_WAIT_MS without quorum (a cut-off node fails its
 * requests instead of hanging), or when unmounting. Caller holds c->lock.
 */
static int wait_coord(struct clu *c)
{
	int64_t start = clu_mono_ms(), noq = 0, now = start;
	struct timespec ts;

	while (!c->coord && !c->stopping) {
		now = clu_mono_ms();
		if (c->quorate)
			noq = 0;
		else if (!noq)
			noq = now;
		if (now - start >= CLU_COORD_WAIT_MS ||
		    (noq && now - noq >= CLU_NOQUORUM_WAIT_MS))
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&c->cond, &c->lock, &ts);
	}
	if (c->coord && !c->stopping)
		return 0;
	if (!c->stopping)
		log_node(LOG_ERR, c->self, "no coordinator after %lld ms%s: "
			 "failing the request", (long long)(now - start),
			 c->quorate ? "" : " without quorum");
	return -EIO;
}

static int call(void *ctx, struct csvfs_msg_hdr *hdr, const void *payload,
		uint8_t **reply, size_t *reply_len)
{
	struct clu *c = ctx;
	struct timespec ts;
	uint64_t epoch;
	int rc, tries;

	for (tries = 0; tries < 1000; tries++) {
		pthread_mutex_lock(&c->lock);
		rc = wait_coord(c);
		if (rc) {
			pthread_mutex_unlock(&c->lock);
			return rc;
		}
		/* Epoch fencing: the coordinator refuses another epoch. */
		epoch = hdr->epoch = c->coord_epoch;
		if (c->coord == c->self) {
			pthread_mutex_unlock(&c->lock);
			rc = serve(c, hdr, payload, reply, reply_len);
		} else {
			struct mdc_transport t = c->client_t;

			pthread_mutex_unlock(&c->lock);
			if (!t.call) {
				log_node(LOG_ERR, c->self, "coordinator %u "
					 "known but not connected: failing "
					 "the request", c->coord);
				return -EIO;
			}
			rc = t.call(t.ctx, hdr, payload, reply, reply_len);
		}
		/*
		 * The role moved under the request (ESTALE: the node no
		 * longer serves; ESTALEEPOCH: its epoch is not the one we
		 * sent): wait for the election's news, then resend. A
		 * request refused this way was not run, and one that ran is
		 * answered from its record (meta/mds/mds_retry.c).
		 */
		if (rc != -ESTALE && rc != -CSVFS_ESTALEEPOCH)
			return rc;
		pthread_mutex_lock(&c->lock);
		if (c->coord_epoch == epoch) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&c->cond, &c->lock, &ts);
		}
		pthread_mutex_unlock(&c->lock);
	}
	log_node(LOG_ERR, c->self, "%s: refused %d times as sent to a "
		 "coordinator that no longer serves: failing it",
		 msg_type_name(hdr->type), tries);
	return -EIO;
}

void clu_transport(struct clu *c, struct mdc_transport *t)
{
	t->call = call;
	t->ctx = c;
}

uint32_t clu_node(const struct clu *c)
{
	return c->self;
}

/* ---- lifecycle ------------------------------------------------------------- */


/* clu_start: until this node serves or is connected to who serves. */
static int wait_served(struct clu *c, int wait_ms, char *why, size_t whylen)
{
	int64_t deadline = clu_mono_ms() + wait_ms, left;
	struct rpc_client *cl;
	struct timespec ts;
	uint32_t coord = 0;
	int rc = -ETIMEDOUT;

	for (;;) {
		pthread_mutex_lock(&c->lock);
		while (!c->coord && (left = deadline - clu_mono_ms()) > 0) {
			clock_gettime(CLOCK_REALTIME, &ts);
			left = left < 200 ? left : 200;
			ts.tv_nsec += (long)(left % 1000) * 1000000;
			ts.tv_sec += ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			pthread_cond_timedwait(&c->cond, &c->lock, &ts);
		}
		if (!c->coord) {
			if (rc == -ETIMEDOUT || !coord)
				snprintf(why, whylen, "no coordinator after %d "
					 "s (%s; election %s)", wait_ms / 1000,
					 c->quorate ? "quorate" : "the cluster "
					 "has no quorum", c->elect_ready ?
					 elect_state_name(c->e.state) : "not "
					 "started");
			pthread_mutex_unlock(&c->lock);
			return -ETIMEDOUT;
		}
		coord = c->coord;
		cl = c->client;
		if (coord == c->self || !cl) {
			pthread_mutex_unlock(&c->lock);
			return 0;
		}
		pthread_mutex_unlock(&c->lock);
		left = deadline - clu_mono_ms();
		rc = rpc_client_wait_connected(cl, left < 500 ? (int)left :
					       500);
		if (!rc)
			return 0;
		if (rc == -EACCES || rc == -ESHUTDOWN || left <= 500) {
			snprintf(why, whylen, "cannot reach the coordinator "
				 "(node %u): %s", coord, rc == -EACCES ?
				 "TLS handshake refused: wrong cluster key" :
				 strerror(-rc));
			return rc;
		}
	}
}

int clu_start(const struct clu_opts *o, struct clu **out, char *why,
	      size_t whylen)
{
	static const struct memb_cb cb = {
		.confchg = on_confchg, .quorum = on_quorum, .ring = on_ring,
		.message = on_message, .timer = on_timer,
	};
	char group[64];
	struct clu *c;
	const uint8_t *u = o->sb->hdr.uuid;
	int rc, i, n;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->o = *o;
	c->sb = *o->sb;
	c->o.sb = &c->sb;
	if (!c->o.port)
		c->o.port = CLU_DEFAULT_PORT;
	memcpy(c->key, o->key, sizeof(c->key));
	tls_identity(u, c->identity);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_rwlock_init(&c->role_lock, NULL);
	pthread_mutex_init(&c->ack_lock, NULL);
	pthread_cond_init(&c->ack_cond, NULL);
	pthread_mutex_init(&c->inval_lock, NULL);
	pthread_mutex_init(&c->wake_lock, NULL);
	rc = -pthread_create(&c->acker, NULL, acker_main, c);
	if (rc) {
		snprintf(why, whylen, "cannot start a thread: %s",
			 strerror(-rc));
		goto fail;
	}
	c->acker_running = 1;
	n = snprintf(group, sizeof(group), "csvfs-");
	for (i = 0; i < CSVFS_UUID_SIZE; i++)
		n += snprintf(group + n, sizeof(group) - (size_t)n, "%02x",
			      u[i]);
	rc = memb_start(group, &cb, c, &c->memb);
	if (rc) {
		snprintf(why, whylen, "cannot join the cluster: %s",
			 rc == -ENOTCONN ? "corosync is not running on this "
			 "node" : strerror(-rc));
		goto fail;
	}
	c->self = memb_local_node(c->memb);
	pthread_mutex_lock(&c->lock);
	rc = hb_start(o->dev, &c->sb, c->self, CSVFS_HB_CLUSTER, &c->hb);
	pthread_mutex_unlock(&c->lock);
	if (rc) {
		snprintf(why, whylen, "cannot write this node's heartbeat "
			 "(slot %u): %s", c->self, csvfs_strerror(rc));
		goto fail;
	}
	rc = -pthread_create(&c->watcher, NULL, clu_watcher_main, c);
	if (rc) {
		snprintf(why, whylen, "cannot start a thread: %s",
			 strerror(-rc));
		goto fail;
	}
	c->watcher_running = 1;
	/*
	 * Wait for a coordinator that answers us. The one we follow may
	 * resign while we connect (another node joined and a round moved
	 * the role): then wait for the next, until the deadline.
	 */
	rc = wait_served(c, o->wait_ms, why, whylen);
	if (rc)
		goto fail;
	*out = c;
	return 0;
fail:
	clu_stop(c);
	return rc;
}

void clu_stop(struct clu *c)
{
	struct rpc_client *cl;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	if (c->elect_ready)
		elect_leave(&c->e);
	else
		role_stop(c, "unmount");
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	/* Leaving the group tells the others; they elect again. */
	memb_stop(c->memb);
	pthread_mutex_lock(&c->lock);
	if (c->mds)	/* belt and braces: role_start checks stopping */
		role_stop(c, "unmount");
	cl = c->client;
	c->client = NULL;
	pthread_mutex_unlock(&c->lock);
	if (c->watcher_running) {
		pthread_mutex_lock(&c->lock);
		c->watch_stop = 1;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->watcher, NULL);
	}
	if (c->acker_running) {
		pthread_mutex_lock(&c->ack_lock);
		c->ack_stop = 1;
		pthread_cond_broadcast(&c->ack_cond);
		pthread_mutex_unlock(&c->ack_lock);
		pthread_join(c->acker, NULL);
	}
	if (c->unfence_started)
		pthread_join(c->unfence, NULL);
	if (hb_stop(c->hb))
		log_node(LOG_WARNING, c->self, "could not mark the heartbeat "
			 "slot left");
	rpc_client_free(cl);
	rpc_client_free(c->ack_client);
	mdc_free(c->ack_mdc);
	free(c->ack_q);
	pthread_mutex_destroy(&c->ack_lock);
	pthread_cond_destroy(&c->ack_cond);
	pthread_mutex_destroy(&c->inval_lock);
	pthread_mutex_destroy(&c->wake_lock);
	pthread_rwlock_destroy(&c->role_lock);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
