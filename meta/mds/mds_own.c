/*
 * mds_own: the coordinator's side of the file-ownership protocol, in one
 * place. The rules (who may hold a file, in which mode, what a handoff or
 * a dead node changes) are lockd/lockd.c's pure functions on a struct
 * lockd_state; this file applies them to inodes and messages:
 *
 *   OPEN, and CREATE through mds_open_ino: lockd_acquire, journaled in the
 *     inode; a dead node's holds are broken first (mds_own_break_dead)
 *   RELEASE with CSVFS_OPEN_LAST(_WRITE): lockd_release
 *   HANDOFF (mds_handoff, outside the dispatch table): lockd_handoff, with
 *     a RECALL pushed to the owner (mds_opts.recall) and its RECALL_DONE
 *     awaited (mds_h_recall_done)
 *   SET_IFLAGS: multi-writer, pinned and strict files
 *   SETATTR size / fallocate / trim: mds_may_modify (lockd_may_modify)
 *
 * The node's side (the RECALL it receives, the flush and RECALL_DONE it
 * answers with, the write gate of a revoked file) is fs/own.c; the
 * RECALL payload's codec is net/msg.c (msg_recall_encode/decode).
 *
 * File ownership (cluster mode; standalone has one node and keeps none):
 * OPEN asks lockd/ for the node's access and journals a changed state in
 * the inode; the per-node open counts are kept in memory only. A node's
 * RELEASE says when its last read-write handle closed (CSVFS_OPEN_LAST_WRITE:
 * the writer becomes a reader, and another node may open for writing at
 * once -- QEMU's migration switch-over) and when its last handle closed
 * (CSVFS_OPEN_LAST: its hold goes), so a coordinator started after a move
 * or failover needs nothing but the inodes. HANDOFF is described next to
 * mds_handoff() below.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "lockd/hb.h"
#include "lockd/lockd.h"
#include "meta/inode.h"
#include "meta/jrnl.h"
#include "meta/mds/mds_i.h"
#include "meta/ondisk.h"

/* ---- the state: lockd rules, journaled in the inode ------------------- */

void mds_own_decode(const struct csvfs_inode *in, struct lockd_state *s)
{
	memset(s, 0, sizeof(*s));
	s->node = in->own_node;
	s->mode = in->own_mode;
	s->count = in->own_count;
	s->holders = in->own_holders;
	s->epoch = in->own_epoch;
	s->since_ns = in->own_since_ns;
	s->iflags = in->flags;
}

int mds_may_modify(struct mds_req *r, uint64_t ino,
		   const struct csvfs_inode *in, int frees)
{
	struct lockd_state s;
	uint32_t owner = 0;
	int rc;

	if (r->m->o.standalone)
		return 0;
	mds_own_decode(in, &s);
	rc = lockd_may_modify(&s, r->hdr->node_id, frees, &owner);
	if (rc)
		log_ino_at(LOG_NOTICE, ino, "%s by node %u refused: held %s "
			   "by node %u", frees ? "freeing blocks" :
			   "size change", r->hdr->node_id,
			   lockd_mode_name(s.mode), owner);
	return rc;
}

int mds_may_report(struct mds_req *r, uint64_t ino,
		   const struct csvfs_inode *in)
{
	struct lockd_state s;

	if (r->m->o.standalone)
		return 0;
	mds_own_decode(in, &s);
	/* The writer, or in multi-writer mode a holder; not a node that
	 * merely still has the file open after it lost the write right. */
	if (lockd_is_writer(&s, r->hdr->node_id) ||
	    (s.mode == CSVFS_OWN_MULTI && lockd_holds(&s, r->hdr->node_id)))
		return 0;
	/*
	 * Its hold was broken (it was cut off and declared dead) or handed
	 * off since it wrote: another node may already have written over
	 * what it reports. Accepting the report would let its fsync succeed
	 * for data that is no longer the file's.
	 */
	log_ino_at(LOG_NOTICE, ino, "written data reported by node %u "
		   "refused: it no longer holds the file (%s by node %u)",
		   r->hdr->node_id, lockd_mode_name(s.mode), s.node);
	return -CSVFS_ELEASE;
}

void mds_own_encode(const struct lockd_state *s, struct csvfs_inode *in)
{
	in->own_node = s->node;
	in->own_mode = s->mode;
	in->own_count = s->count;
	in->own_holders = s->holders;
	in->own_epoch = s->epoch;
	in->own_since_ns = s->since_ns;
	in->flags = (in->flags & ~(uint32_t)CSVFS_IFL_HANDOFF) |
		    (s->iflags & CSVFS_IFL_HANDOFF);
}

/* Adds delta to node's open count of o; returns the new count, -1 if the
 * node had none counted (opens from before a coordinator change). */
static long open_node_add(struct mds_open *o, uint32_t node, int delta)
{
	uint32_t i;

	for (i = 0; i < o->nnodes; i++) {
		if (o->per[i].node != node)
			continue;
		if (delta < 0 && o->per[i].nopen == 0)
			return -1;
		o->per[i].nopen = (uint32_t)((long)o->per[i].nopen + delta);
		return o->per[i].nopen;
	}
	if (delta < 0)
		return -1;
	if (o->nnodes == o->cap) {
		uint32_t cap = o->cap ? o->cap * 2 : 4;
		struct mds_open_node *p = realloc(o->per, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		o->per = p;
		o->cap = cap;
	}
	o->per[o->nnodes].node = node;
	o->per[o->nnodes].nopen = (uint32_t)delta;
	o->nnodes++;
	return delta;
}

/* Node's counted opens of o (0 if none, or opened before a coordinator
 * change). */
static uint32_t open_node_count(const struct mds_open *o, uint32_t node)
{
	uint32_t i;

	for (i = 0; i < o->nnodes; i++)
		if (o->per[i].node == node)
			return o->per[i].nopen;
	return 0;
}

/*
 * Cluster mode: is node dead -- out of the membership, and its on-disk
 * heartbeat stopped for the timeout (it stopped writing: crashed, or
 * fenced itself when it lost quorum)?
 */
static int node_dead(struct mds *m, uint32_t node)
{
	return m->watch && node && m->o.is_member &&
	       !m->o.is_member(m->o.own_ctx, node) &&
	       hb_watch_dead(m->watch, node, m->o.dead_ms);
}

int mds_node_dead(struct mds *m, uint32_t node)
{
	return node_dead(m, node);
}

/* Forgets the opens of a dead node in the open table. */
static void open_drop_node(struct mds *m, uint64_t ino, uint32_t node)
{
	struct mds_open *o = mds_open_find(m, ino, 0);
	uint32_t i;

	if (!o)
		return;
	for (i = 0; i < o->nnodes; i++) {
		if (o->per[i].node != node)
			continue;
		o->nopen -= o->per[i].nopen < o->nopen ? o->per[i].nopen :
							  o->nopen;
		if (o->nwrite > o->nopen)
			o->nwrite = o->nopen;
		o->per[i] = o->per[--o->nnodes];
		return;
	}
}

void mds_open_drop_node(struct mds *m, uint64_t ino, uint32_t node)
{
	open_drop_node(m, ino, node);
}

int mds_own_break_dead(struct mds *m, uint64_t ino, struct lockd_state *s,
		       uint32_t except, unsigned flags)
{
	uint32_t n, cand[LOCKD_MAX_NODE + 1], ncand = 0, i;
	int broke = 0;

	if (s->mode == CSVFS_OWN_WRITER && s->node > LOCKD_MAX_NODE)
		cand[ncand++] = s->node;
	for (n = 1; n <= LOCKD_MAX_NODE; n++)
		if (lockd_holds(s, n))
			cand[ncand++] = n;
	for (i = 0; i < ncand; i++) {
		n = cand[i];
		if (n == except || !node_dead(m, n))
			continue;
		if (lockd_break(s, n, mds_now_ns()) <= 0)
			continue;
		open_drop_node(m, ino, n);
		if (flags & MDS_BREAK_LOCKS)
			mds_lock_node_dead(m, n);
		log_ino_at(LOG_WARNING, ino, "node %u left the cluster and its "
			   "heartbeat stopped: its ownership is broken", n);
		broke++;
	}
	return broke;
}

/*
 * Grants node the access it opens ino with (cluster mode; standalone has
 * one node and keeps no ownership). Conflicts are -EBUSY with a log line
 * naming the owner. Changes are written into *in and its block.
 */
static int own_acquire(struct mds_req *r, uint64_t ino, struct csvfs_inode *in,
		       struct mbuf *mb, uint32_t flags)
{
	uint32_t node = r->hdr->node_id, owner = 0;
	int wr = !!(flags & CSVFS_OPEN_WRITE);
	struct mds_open *o = mds_open_find(r->m, ino, 0);
	struct lockd_state s;
	int rc;

	mds_own_decode(in, &s);
	if (o && o->handoff_to && wr) {
		/* Handing off: no node takes the write right meanwhile. */
		rc = -EBUSY;
		owner = s.node;
	} else {
		rc = lockd_acquire(&s, node, wr ? LOCKD_WRITE : LOCKD_READ,
				   mds_now_ns(), &owner);
		/* A dead owner's hold goes; the state changed either way. */
		if (rc == -EBUSY &&
		    mds_own_break_dead(r->m, ino, &s, node, MDS_BREAK_LOCKS)) {
			rc = lockd_acquire(&s, node, wr ? LOCKD_WRITE :
					   LOCKD_READ, mds_now_ns(), &owner);
			if (rc == 0)
				rc = 1;
		}
	}
	if (rc == -EBUSY) {
		log_ino_at(LOG_WARNING, ino, "open for %s by node %u refused: "
			   "%s node %u%s", wr ? "write" : "read", node,
			   s.mode == CSVFS_OWN_WRITER ?
			   (s.iflags & CSVFS_IFL_STRICT ?
			    "strict file written by" : "written by") :
			   "read by", owner,
			   o && o->handoff_to ? " (handoff in progress)" : "");
		return rc;
	}
	if (rc == -ERANGE)
		log_ino_at(LOG_WARNING, ino, "open by node %u refused: shared "
			   "modes support nodes 1..%u only", node,
			   LOCKD_MAX_NODE);
	if (rc <= 0)
		return rc;
	mds_own_encode(&s, in);
	return ino_put(r->op, mb, in);
}

int mds_open_ino(struct mds_req *r, uint64_t ino, struct csvfs_inode *in,
		 struct mbuf *mb, uint32_t flags)
{
	struct mds_open *o;
	long n;
	int rc;

	if (!r->m->o.standalone && S_ISREG(in->mode)) {
		rc = own_acquire(r, ino, in, mb, flags);
		if (rc)
			return rc;
	}
	o = mds_open_find(r->m, ino, 1);
	if (!o)
		return -ENOMEM;
	n = open_node_add(o, r->hdr->node_id, 1);
	if (n < 0)
		return (int)n;
	o->nopen++;
	if (flags & CSVFS_OPEN_WRITE)
		o->nwrite++;
	return 0;
}

int mds_h_open(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in);
	uint32_t flags = msg_get_u32(&r->in);
	struct csvfs_inode in;
	struct mbuf *mb;
	int rc;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	rc = mds_get(r, ino, &in, &mb);
	if (!rc)
		rc = mds_open_ino(r, ino, &in, mb, flags);
	if (rc)
		return rc;
	mds_put_attr(r, ino, &in);
	return 0;
}

/* The node closed its last (read-write) handle of ino: drop that hold. */
static int own_release(struct mds_req *r, uint64_t ino, int what)
{
	struct csvfs_inode in;
	struct lockd_state s;
	struct mbuf *mb;
	int rc;

	rc = mds_get(r, ino, &in, &mb);
	if (rc)
		return rc == -ESTALE ? 0 : rc;
	mds_own_decode(&in, &s);
	rc = lockd_release(&s, r->hdr->node_id, what, mds_now_ns());
	if (rc <= 0)
		return rc;
	mds_own_encode(&s, &in);
	return ino_put(r->op, mb, &in);
}

int mds_h_release(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in);
	uint32_t flags = msg_get_u32(&r->in);
	struct csvfs_inode in;
	struct mds_open *o;
	int rc;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	if (!r->m->o.standalone &&
	    (flags & (CSVFS_OPEN_LAST | CSVFS_OPEN_LAST_WRITE))) {
		rc = own_release(r, ino, flags & CSVFS_OPEN_LAST ?
				 LOCKD_DROP_ALL : LOCKD_DROP_WRITE);
		if (rc)
			return rc;
	}
	o = mds_open_find(r->m, ino, 0);
	if (!o || o->nopen == 0 ||
	    open_node_add(o, r->hdr->node_id, -1) < 0) {
		/* Opened before a coordinator change: not counted here. */
		if (r->m->o.standalone)
			return -EBADF;
		o = NULL;
	} else {
		o->nopen--;
		if ((flags & CSVFS_OPEN_WRITE) && o->nwrite)
			o->nwrite--;
		if (o->nopen || o->handoff_to)
			return 0;
		mds_open_drop(r->m, ino);
	}
	rc = mds_get(r, ino, &in, NULL);
	if (rc)
		return rc == -ESTALE ? 0 : rc;
	/* An unlinked file goes when nobody uses it any more, counted
	 * here or (opened before a coordinator change) held in the inode. */
	if (in.nlink == 0) {
		if (!mds_ino_busy(r->m, ino, &in))
			r->reclaim_ino = ino;
	} else if (o && S_ISREG(in.mode)) {
		return mds_trim_ahead(r, ino);
	}
	return 0;
}

/* ---- handoff ---------------------------------------------------------------
 *
 * HANDOFF cannot run as one metadata operation: it waits for the owner's
 * RECALL_DONE, which is another request needing the metadata lock. So it
 * runs in three steps: (1) under the lock, check the caller's view and
 * mark the inode "handing off" in the open table (own_acquire then refuses
 * every open: no third node takes the file in between); (2) without the
 * lock, ask the owner to recall and wait, bounded; (3) under the lock,
 * journal the new owner, clear the mark, and reply after the commit.
 * Nothing changes on disk unless step 3 runs.
 */

int mds_h_recall_done(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in);
	int status = (int)msg_get_u32(&r->in);
	struct mds_recall *p;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	pthread_mutex_lock(&r->m->recall_lock);
	for (p = r->m->recalls; p; p = p->next)
		if (p->ino == ino && p->node == r->hdr->node_id && !p->done) {
			p->done = 1;
			p->status = status > 0 || status < -4095 ? -EIO :
								   status;
		}
	pthread_cond_broadcast(&r->m->recall_cond);
	pthread_mutex_unlock(&r->m->recall_lock);
	return 0;
}

/* Asks node to recall ino and waits for its RECALL_DONE. */
static int recall_wait(struct mds *m, uint32_t node, uint64_t ino,
		       uint32_t to)
{
	struct mds_recall me = { .ino = ino, .node = node };
	struct mds_recall **pp;
	unsigned ms = m->o.recall_ms ? m->o.recall_ms : 5000;
	struct timespec ts;
	int rc;

	pthread_mutex_lock(&m->recall_lock);
	me.next = m->recalls;
	m->recalls = &me;
	pthread_mutex_unlock(&m->recall_lock);
	rc = m->o.recall(m->o.own_ctx, node, ino, to);
	pthread_mutex_lock(&m->recall_lock);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (!rc && !me.done)
		if (pthread_cond_timedwait(&m->recall_cond, &m->recall_lock,
					   &ts) == ETIMEDOUT)
			rc = -ETIMEDOUT;
	if (!rc)
		rc = me.status;
	for (pp = &m->recalls; *pp; pp = &(*pp)->next)
		if (*pp == &me) {
			*pp = me.next;
			break;
		}
	pthread_mutex_unlock(&m->recall_lock);
	return rc;
}

/* Step 1 (phase 0) or step 3 (phase 1) of a handoff, in one operation. */
static int handoff_step(struct mds_req *r, uint64_t ino, uint32_t from,
			uint32_t to, int phase)
{
	struct csvfs_inode in;
	struct lockd_state s;
	struct mds_open *o;
	struct mbuf *mb;
	int rc, from_open;

	rc = mds_get(r, ino, &in, &mb);
	if (rc)
		return rc;
	if (!S_ISREG(in.mode))
		return -EINVAL;
	mds_own_decode(&in, &s);
	o = mds_open_find(r->m, ino, 1);
	if (!o)
		return -ENOMEM;
	from_open = from && open_node_count(o, from) > 0;
	if (phase == 0) {
		if (o->handoff_to)
			return -EBUSY;
		rc = lockd_handoff(&s, from, to, from_open, mds_now_ns());
		if (rc < 0)
			return rc;
		o->handoff_to = to;
		return 0;
	}
	o->handoff_to = 0;
	rc = lockd_handoff(&s, from, to, from_open, mds_now_ns());
	/* The writer closed its last read-write handle while recalling
	 * (write opens were refused meanwhile: nobody else took it). */
	if (rc == -ENOLCK && s.mode != CSVFS_OWN_WRITER)
		rc = lockd_handoff(&s, 0, to, 0, mds_now_ns());
	if (rc > 0) {
		mds_own_encode(&s, &in);
		rc = ino_put(r->op, mb, &in);
	}
	if (rc < 0)
		return rc;
	mds_put_attr(r, ino, &in);
	return 0;
}

static void handoff_log(uint64_t ino, uint32_t from, uint32_t to, int rc)
{
	const char *why;

	switch (rc) {
	case -ENOLCK:
		why = "that node is not the file's writer";
		break;
	case -EHOSTUNREACH:
		why = "the target is not a member";
		break;
	case -EBUSY:
		why = "the file is multi-writer or another handoff is running";
		break;
	case -ETIMEDOUT:
		why = "the owner did not finish its recall in time";
		break;
	default:
		why = csvfs_strerror(rc);
	}
	log_ino_at(LOG_WARNING, ino, "handoff from node %u to node %u "
		   "refused: %s", from, to, why);
}

/* Clears the handing-off mark after a failed step 2. */
static void handoff_abort(struct mds *m, uint64_t ino)
{
	struct mds_open *o;
	struct jop op;

	jop_begin(m->j, &op);
	o = mds_open_find(m, ino, 0);
	if (o) {
		o->handoff_to = 0;
		if (!o->nopen)
			mds_open_drop(m, ino);
	}
	jop_end(&op, 0);
}

int mds_handoff(struct mds *m, const struct csvfs_msg_hdr *hdr,
		const uint8_t *payload, uint8_t **reply, size_t *reply_len)
{
	struct mds_req r;
	struct jop op;
	uint64_t ino, tid;
	uint32_t from, to;
	int rc;

	memset(&r, 0, sizeof(r));
	r.m = m;
	r.hdr = hdr;
	r.op = &op;
	msg_rd_init(&r.in, payload, hdr->length);
	ino = msg_get_u64(&r.in);
	from = msg_get_u32(&r.in);
	to = msg_get_u32(&r.in);
	if (msg_rd_end(&r.in))
		return -EPROTO;
	if (m->o.standalone || !m->o.recall || !m->o.is_member)
		return -EOPNOTSUPP;
	if (to == 0 || !m->o.is_member(m->o.own_ctx, to)) {
		rc = -EHOSTUNREACH;
		goto out;
	}
	if (jrnl_error(m->j))
		return -EIO;
	jop_begin(m->j, &op);
	rc = handoff_step(&r, ino, from, to, 0);
	jop_end(&op, rc);
	if (rc)
		goto out;
	if (from && from != to && node_dead(m, from)) {
		/* Nothing to flush: a dead node writes no more. */
		log_ino_at(LOG_WARNING, ino, "node %u left the cluster and its "
			   "heartbeat stopped: handing off without a recall",
			   from);
		jop_begin(m->j, &op);
		open_drop_node(m, ino, from);
		jop_end(&op, 0);
	} else if (from && from != to) {
		rc = recall_wait(m, from, ino, to);
		if (rc) {
			handoff_abort(m, ino);
			goto out;
		}
	}
	msg_wr_init(&r.out);
	jop_begin(m->j, &op);
	rc = handoff_step(&r, ino, from, to, 1);
	if (!rc && r.out.err)
		rc = r.out.err;
	if (!rc)
		mds_inval_collect(&r);
	tid = jop_end(&op, rc);
	if (rc)
		handoff_abort(m, ino);
	if (!rc)
		rc = tid ? jrnl_wait(m->j, tid) : jrnl_commit(m->j);
	if (rc) {
		msg_wr_free(&r.out);
		goto out;
	}
	mds_inval_send(&r);
	log_ino_at(LOG_INFO, ino, "handed off from node %u to node %u", from,
		   to);
	*reply = r.out.p;
	*reply_len = r.out.len;
	return 0;
out:
	handoff_log(ino, from, to, rc);
	return rc;
}

int mds_h_set_iflags(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in);
	uint32_t set = msg_get_u32(&r->in);
	uint32_t clear = msg_get_u32(&r->in);
	const uint32_t ok = CSVFS_IFL_MULTIWRITER | CSVFS_IFL_PINNED |
			    CSVFS_IFL_STRICT;
	struct csvfs_inode in;
	struct mbuf *mb;
	int rc;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	if ((set | clear) & ~ok)
		return -EINVAL;
	rc = mds_get(r, ino, &in, &mb);
	if (rc)
		return rc;
	if (!S_ISREG(in.mode))
		return -EINVAL;
	if ((set & CSVFS_IFL_MULTIWRITER) &&
	    !(in.flags & CSVFS_IFL_MULTIWRITER)) {
		/* Several writers: the data must never move again. */
		rc = mds_sub_promote_inode(r, ino, &in);
		if (rc)
			return rc;
	}
	in.flags = (in.flags | set) & ~clear;
	/* An unpinned file nobody has open any more loses its owner. */
	if ((clear & CSVFS_IFL_PINNED) && !mds_open_find(r->m, ino, 0) &&
	    in.own_mode != CSVFS_OWN_NONE && !r->m->o.standalone) {
		in.own_node = in.own_mode = in.own_count = 0;
		in.own_holders = in.own_since_ns = 0;
		in.flags &= ~(uint32_t)CSVFS_IFL_HANDOFF;
		in.own_epoch++;
	}
	ino_touch(&in, 0);
	rc = ino_put(r->op, mb, &in);
	if (rc)
		return rc;
	mds_put_attr(r, ino, &in);
	return 0;
}
