/*
 * mds: the coordinator's lifecycle, request dispatch and shared helpers.
 *
 * Every request runs as one metadata operation (jop): the handler decodes
 * its payload (the decoder is the validator: a short or over-long payload is
 * -EPROTO before anything changes), changes blocks, and encodes the reply.
 * A failed handler's changes are undone by jop_end. Requests that hand out
 * blocks (alloc, fallocate, inline->extents) or that the caller must see
 * durable (fsync) reply only after their transaction commits; the others
 * are made durable by the group commit a few milliseconds later, as ext4
 * does with its journal.
 *
 * File ownership (cluster mode; standalone has one node and keeps none):
 * OPEN asks lockd/ for the node's access and journals a changed state in
 * the inode; the per-node open counts are kept in memory only. A node's
 * RELEASE says when its last read-write handle closed (CSVFS_OPEN_LAST_WRITE:
 * the writer becomes a reader, and another node may open for writing at
 * once -- QEMU's migration switch-over) and when its last handle closed
 * (CSVFS_OPEN_LAST: its hold goes), so a coordinator started after a move
 * or failover needs nothing but the inodes. HANDOFF is described next to
 * handoff() below.
 *
 * Heartbeat: the coordinator's node writes its slot every second; a
 * standalone start refuses a volume whose other slots are still advancing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "lockd/hb.h"
#include "lockd/lockd.h"
#include "meta/alloc.h"
#include "meta/dev.h"
#include "meta/dir.h"
#include "meta/format.h"
#include "meta/inode.h"
#include "meta/jrnl.h"
#include "meta/mds_i.h"
#include "meta/ondisk.h"
#include "meta/subblk.h"
#include "net/mdc.h"



/* ---- helpers shared by the handlers --------------------------------- */

int mds_name_ok(const char *name, size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len > CSVFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '/', len))
		return -EINVAL;
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return -EINVAL;
	return 0;
}

int mds_get(struct mds_req *r, uint64_t ino, struct csvfs_inode *in,
	    struct mbuf **mb)
{
	int rc = ino_get(r->op, r->m->a, ino, in, mb);

	if (rc && rc != -ESTALE && rc != -ENOMEM)
		syslog(LOG_ERR, "inode %llu: %s",
		       (unsigned long long)ino, csvfs_strerror(rc));
	return rc;
}

void mds_attr(struct mds *m, uint64_t ino, const struct csvfs_inode *in,
	      struct csvfs_attr *a)
{
	struct csvfs_extent sub;

	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->generation = in->generation;
	a->mode = in->mode;
	a->nlink = in->nlink;
	a->uid = in->uid;
	a->gid = in->gid;
	a->size = in->size;
	/* A directory's size: the bytes of its entries, "." and ".." too. */
	if (S_ISDIR(in->mode))
		a->size = in->size + DIR_DOTS_BYTES;
	a->alloc_bytes = in->nblocks * m->bsize;
	if ((in->flags & CSVFS_IFL_INLINE) && in->size)
		a->alloc_bytes = CSVFS_MBLK_SIZE;
	if (subblk_inode_run(in, &sub))
		a->alloc_bytes = (uint64_t)sub.len * CSVFS_SUB_UNIT;
	a->rdev = in->rdev;
	a->atime_sec = (int64_t)in->atime_sec;
	a->mtime_sec = (int64_t)in->mtime_sec;
	a->ctime_sec = (int64_t)in->ctime_sec;
	a->atime_nsec = in->atime_nsec;
	a->mtime_nsec = in->mtime_nsec;
	a->ctime_nsec = in->ctime_nsec;
	a->flags = in->flags;
	a->own_node = in->own_node;
	a->own_mode = in->own_mode;
	a->own_epoch = in->own_epoch;
	a->own_since_ns = in->own_since_ns;
	a->own_count = in->own_count;
	a->blksize = (uint32_t)m->bsize;
	a->reserve_bytes = in->reserve_blocks * m->bsize;
}

void mds_put_attr(struct mds_req *r, uint64_t ino, const struct csvfs_inode *in)
{
	struct csvfs_attr a;

	mds_attr(r->m, ino, in, &a);
	msg_put_attr(&r->out, &a);
}

struct mds_open *mds_open_find(struct mds *m, uint64_t ino, int create)
{
	unsigned h = (unsigned)(ino % MDS_OPEN_HASH);
	struct mds_open *o;

	for (o = m->open[h]; o; o = o->next)
		if (o->ino == ino)
			return o;
	if (!create)
		return NULL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->ino = ino;
	o->next = m->open[h];
	m->open[h] = o;
	return o;
}

void mds_open_drop(struct mds *m, uint64_t ino)
{
	struct mds_open **pp = &m->open[ino % MDS_OPEN_HASH];

	while (*pp) {
		if ((*pp)->ino == ino) {
			struct mds_open *o = *pp;

			*pp = o->next;
			free(o->per);
			free(o);
			return;
		}
		pp = &(*pp)->next;
	}
}

static int vstate_get(struct mds_req *r, struct csvfs_vstate *vs,
		      struct mbuf **mb)
{
	int rc = jop_read(r->op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, mb);

	if (!rc)
		od_vstate_decode((*mb)->data, vs);
	return rc;
}

static int vstate_put(struct mds_req *r, struct mbuf *mb,
		      const struct csvfs_vstate *vs)
{
	int rc = jop_write(r->op, mb);

	if (!rc)
		od_vstate_encode(vs, mb->data);
	return rc;
}

/* Pushes ino at the head of the orphan list (caller writes *in). */
int mds_orphan_add(struct mds_req *r, uint64_t ino, struct csvfs_inode *in)
{
	struct csvfs_vstate vs;
	struct mbuf *mb;
	int rc;

	if (in->flags & CSVFS_IFL_ORPHAN)
		return 0;
	rc = vstate_get(r, &vs, &mb);
	if (rc)
		return rc;
	in->next_orphan = vs.orphan_head;
	in->flags |= CSVFS_IFL_ORPHAN;
	vs.orphan_head = ino;
	return vstate_put(r, mb, &vs);
}

/* Unlinks ino from the orphan list (caller writes *in). */
int mds_orphan_del(struct mds_req *r, uint64_t ino, struct csvfs_inode *in)
{
	struct csvfs_vstate vs;
	struct mbuf *mb;
	uint64_t cur, guard = 0;
	int rc;

	if (!(in->flags & CSVFS_IFL_ORPHAN))
		return 0;
	rc = vstate_get(r, &vs, &mb);
	if (rc)
		return rc;
	if (vs.orphan_head == ino) {
		vs.orphan_head = in->next_orphan;
		rc = vstate_put(r, mb, &vs);
		goto done;
	}
	cur = vs.orphan_head;
	while (cur && guard++ < (1u << 24)) {
		struct csvfs_inode ci;
		struct mbuf *cmb;

		rc = mds_get(r, cur, &ci, &cmb);
		if (rc)
			return rc;
		if (ci.next_orphan == ino) {
			ci.next_orphan = in->next_orphan;
			rc = ino_put(r->op, cmb, &ci);
			goto done;
		}
		cur = ci.next_orphan;
	}
	return -CSVFS_ECORRUPT;
done:
	if (!rc) {
		in->flags &= ~(uint32_t)CSVFS_IFL_ORPHAN;
		in->next_orphan = 0;
	}
	return rc;
}

/* ---- simple handlers ---------------------------------------------------- */

static int h_hello(struct mds_req *r)
{
	char host[256];

	msg_get_u32(&r->in);
	msg_get_u64(&r->in);
	msg_get_str(&r->in, host, sizeof(host));
	if (msg_rd_end(&r->in))
		return -EPROTO;
	msg_put_u64(&r->out, r->m->sb.root_ino);
	msg_put_u32(&r->out, r->m->sb.block_shift);
	msg_put_u64(&r->out, r->m->epoch);
	msg_put_raw(&r->out, r->m->sb.hdr.uuid, CSVFS_UUID_SIZE);
	return 0;
}

/* ---- file ownership (lockd rules, state journaled in the inode) ------- */

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
		syslog(LOG_NOTICE, "ino %llu: %s by node %u refused: held %s "
		       "by node %u", (unsigned long long)ino, frees ?
		       "freeing blocks" : "size change", r->hdr->node_id,
		       lockd_mode_name(s.mode), owner);
	return rc;
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

uint64_t mds_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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

/*
 * Breaks every hold of a dead node on *s (DESIGN.md "Owner death"); the
 * caller journals *s. Returns the number of holds broken.
 */
static int break_dead(struct mds_req *r, uint64_t ino, struct lockd_state *s)
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
		if (n == r->hdr->node_id || !node_dead(r->m, n))
			continue;
		if (lockd_break(s, n, mds_now_ns()) <= 0)
			continue;
		open_drop_node(r->m, ino, n);
		mds_lock_node_dead(r->m, n);
		syslog(LOG_WARNING, "ino %llu: node %u left the cluster and its "
		       "heartbeat stopped: its ownership is broken",
		       (unsigned long long)ino, n);
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
		if (rc == -EBUSY && break_dead(r, ino, &s)) {
			rc = lockd_acquire(&s, node, wr ? LOCKD_WRITE :
					   LOCKD_READ, mds_now_ns(), &owner);
			if (rc == 0)
				rc = 1;
		}
	}
	if (rc == -EBUSY) {
		syslog(LOG_WARNING, "ino %llu: open for %s by node %u refused: "
		       "%s node %u%s", (unsigned long long)ino,
		       wr ? "write" : "read", node,
		       s.mode == CSVFS_OWN_WRITER ?
		       (s.iflags & CSVFS_IFL_STRICT ? "strict file written by" :
			"written by") : "read by", owner,
		       o && o->handoff_to ? " (handoff in progress)" : "");
		return rc;
	}
	if (rc == -ERANGE)
		syslog(LOG_WARNING, "ino %llu: open by node %u refused: shared "
		       "modes support nodes 1..%u only",
		       (unsigned long long)ino, node, LOCKD_MAX_NODE);
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

static int h_open(struct mds_req *r)
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

static int h_release(struct mds_req *r)
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

static int h_recall_done(struct mds_req *r)
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
	syslog(LOG_WARNING, "ino %llu: handoff from node %u to node %u "
	       "refused: %s", (unsigned long long)ino, from, to, why);
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

static int handoff(struct mds *m, const struct csvfs_msg_hdr *hdr,
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
		syslog(LOG_WARNING, "ino %llu: node %u left the cluster and its "
		       "heartbeat stopped: handing off without a recall",
		       (unsigned long long)ino, from);
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
	syslog(LOG_INFO, "ino %llu: handed off from node %u to node %u",
	       (unsigned long long)ino, from, to);
	*reply = r.out.p;
	*reply_len = r.out.len;
	return 0;
out:
	handoff_log(ino, from, to, rc);
	return rc;
}

static int h_set_iflags(struct mds_req *r)
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

static int h_fsync(struct mds_req *r)
{
	msg_get_u64(&r->in);
	if (msg_rd_end(&r->in))
		return -EPROTO;
	r->sync = 1;
	return 0;
}

static int h_forget(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in);

	if (msg_rd_end(&r->in))
		return -EPROTO;
	mds_interest_forget(r->m, r->hdr->node_id, ino);
	return 0;
}

/* ---- dispatch ------------------------------------------------------------ */

/* Which requests change metadata is CSVFS_MSG_MUTATING_MASK (proto.h). */
#define SYNC	0x2	/* reply after commit */

struct mds_entry {
	mds_handler fn;
	unsigned flags;
};

static const struct mds_entry table[CSVFS_MSG_TYPE_MAX] = {
	[CSVFS_MSG_HELLO] = { h_hello, 0 },
	[CSVFS_MSG_LOOKUP] = { mds_h_lookup, 0 },
	[CSVFS_MSG_GETATTR] = { mds_h_getattr, 0 },
	[CSVFS_MSG_SETATTR] = { mds_h_setattr, 0 },
	[CSVFS_MSG_MKNOD] = { mds_h_mknod, 0 },
	[CSVFS_MSG_MKDIR] = { mds_h_mkdir, 0 },
	[CSVFS_MSG_SYMLINK] = { mds_h_symlink, 0 },
	[CSVFS_MSG_UNLINK] = { mds_h_unlink, 0 },
	[CSVFS_MSG_RMDIR] = { mds_h_rmdir, 0 },
	[CSVFS_MSG_RENAME] = { mds_h_rename, 0 },
	[CSVFS_MSG_LINK] = { mds_h_link, 0 },
	[CSVFS_MSG_READLINK] = { mds_h_readlink, 0 },
	[CSVFS_MSG_READDIR] = { mds_h_readdir, 0 },
	[CSVFS_MSG_STATFS] = { mds_h_statfs, 0 },
	/* OPEN writes only the inode's ownership (no allocator resync) */
	[CSVFS_MSG_OPEN] = { h_open, 0 },
	[CSVFS_MSG_RELEASE] = { h_release, 0 },
	[CSVFS_MSG_GET_EXTENTS] = { mds_h_get_extents, 0 },
	[CSVFS_MSG_ALLOC] = { mds_h_alloc, SYNC },
	[CSVFS_MSG_WRITE_DONE] = { mds_h_write_done, 0 },
	[CSVFS_MSG_FALLOCATE] = { mds_h_fallocate, SYNC },
	[CSVFS_MSG_INLINE_READ] = { mds_h_inline_read, 0 },
	[CSVFS_MSG_INLINE_WRITE] = { mds_h_inline_write, 0 },
	[CSVFS_MSG_GETXATTR] = { mds_h_getxattr, 0 },
	[CSVFS_MSG_SETXATTR] = { mds_h_setxattr, 0 },
	[CSVFS_MSG_LISTXATTR] = { mds_h_listxattr, 0 },
	[CSVFS_MSG_REMOVEXATTR] = { mds_h_removexattr, 0 },
	[CSVFS_MSG_FSYNC] = { h_fsync, SYNC },
	[CSVFS_MSG_LSEEK] = { mds_h_lseek, 0 },
	[CSVFS_MSG_FORGET] = { h_forget, 0 },
	/* HANDOFF: handoff(), outside the table (it waits between steps) */
	[CSVFS_MSG_RECALL_DONE] = { h_recall_done, 0 },
	[CSVFS_MSG_SET_IFLAGS] = { h_set_iflags, SYNC },
	[CSVFS_MSG_CREATE] = { mds_h_create, 0 },
	[CSVFS_MSG_SET_RESERVE] = { mds_h_set_reserve, SYNC },
	[CSVFS_MSG_PREALLOC] = { mds_h_prealloc, SYNC },
	/* GROW: mds_grow(), outside the table (it commits between steps) */
};

int mds_handles(unsigned type)
{
	return type == CSVFS_MSG_INVAL_ACK || type == CSVFS_MSG_HANDOFF ||
	       type == CSVFS_MSG_GROW ||
	       (type < CSVFS_MSG_TYPE_MAX && table[type].fn);
}

int mds_dispatch(struct mds *m, const struct csvfs_msg_hdr *hdr,
		 const uint8_t *payload, uint8_t **reply, size_t *reply_len)
{
	const struct mds_entry *e = NULL;
	struct mds_req r;
	struct jop op;
	uint64_t tid;
	int rc, retried = 0;

	*reply = NULL;
	*reply_len = 0;
	/*
	 * Epoch fencing: a request names the epoch of the coordinator its
	 * node follows (0: a tool that does not know). Another epoch means
	 * the node has not yet heard of us (it resends once it has), or
	 * that a newer coordinator exists and we are stale: the journal's
	 * own check then stops our writes. HELLO is how a node learns the
	 * epoch: always answered.
	 */
	if (hdr->epoch && hdr->epoch != m->epoch &&
	    hdr->type != CSVFS_MSG_HELLO)
		return -CSVFS_ESTALEEPOCH;
	mds_note_request(m, hdr->node_id);
	if (hdr->type == CSVFS_MSG_INVAL_ACK)
		return mds_inval_ack(m, hdr, payload);
	if (hdr->type == CSVFS_MSG_HANDOFF)
		return handoff(m, hdr, payload, reply, reply_len);
	if (hdr->type == CSVFS_MSG_GROW)
		return mds_grow(m, hdr, payload, reply, reply_len);
	if (hdr->type >= CSVFS_MSG_LOCK_SET && hdr->type <= CSVFS_MSG_LOCK_LIST)
		return mds_lock_dispatch(m, hdr, payload, reply, reply_len);
	if (hdr->type < CSVFS_MSG_TYPE_MAX)
		e = &table[hdr->type];
	if (!e || !e->fn)
		return -EOPNOTSUPP;
again:
	memset(&r, 0, sizeof(r));
	r.m = m;
	r.hdr = hdr;
	r.op = &op;
	r.sync = !!(e->flags & SYNC);
	msg_rd_init(&r.in, payload, hdr->length);
	msg_wr_init(&r.out);
	rc = jrnl_error(m->j);
	if (rc)
		return rc == -CSVFS_ESTALEEPOCH ? rc : -EIO;
	jop_begin(m->j, &op);
	rc = mds_retry_find(&r);
	if (rc > 0) {
		rc = 0;		/* a retry: the recorded reply, nothing runs */
	} else if (!rc) {
		rc = e->fn(&r);
		if (!rc && r.out.err)
			rc = r.out.err;
		if (!rc && r.alloc_touched)
			mds_space_check(m);
		if (!rc)
			rc = mds_retry_record(&r);
		if (!rc)
			mds_inval_collect(&r);
	}
	tid = jop_end(&op, rc);
	if (rc && csvfs_msg_mutating(hdr->type)) {
		jop_begin(m->j, &op);
		alloc_resync(m->a, &op);
		mds_space_resync(m, &op);
		jop_end(&op, 0);
	}
	/*
	 * Out of space: the spare empty chunks (kept so that a create and
	 * unlink loop does not release and take a chunk each time) go back
	 * to the free space, and the request runs once more.
	 */
	if (rc == -ENOSPC && !retried && csvfs_msg_mutating(hdr->type) &&
	    mds_chunks_release(m, 1) > 0) {
		msg_wr_free(&r.out);
		retried = 1;
		goto again;
	}
	if (!rc && r.sync)
		rc = tid ? jrnl_wait(m->j, tid) : jrnl_commit(m->j);
	if (!rc && r.wait_tid)
		rc = jrnl_wait(m->j, r.wait_tid);
	if (!rc && r.reclaim_ino) {
		int rc2 = mds_reclaim(m, r.reclaim_ino);

		if (rc2)
			syslog(LOG_ERR, "inode %llu: reclaim failed: %s",
			       (unsigned long long)r.reclaim_ino,
			       csvfs_strerror(rc2));
	}
	if (!rc && r.alloc_touched)
		mds_chunks_release(m, 0);
	if (!rc && m->watch)
		mds_orphans_sweep(m);
	if (!rc && csvfs_msg_mutating(hdr->type))
		mds_inval_send(&r);
	else if (!rc && r.ninv)
		mds_inval_send(&r);
	if (rc) {
		msg_wr_free(&r.out);
		/* Epoch fencing: the node resends to the new coordinator. */
		if (rc == -CSVFS_ESTALEEPOCH)
			return rc;
		if (rc <= -CSVFS_EBASE && rc >= -CSVFS_EMAX) {
			/* Most requests start with the inode they are about. */
			syslog(LOG_ERR, "%s of inode %llu: %s (run fsck.csvfs)",
			       msg_type_name(hdr->type), (unsigned long long)
			       (hdr->length >= 8 ? od_get64(payload) : 0),
			       csvfs_strerror(rc));
			rc = csvfs_errno(rc);
		}
		return rc;
	}
	*reply = r.out.p;
	*reply_len = r.out.len;
	return 0;
}

static int local_call(void *ctx, struct csvfs_msg_hdr *hdr,
		      const void *payload, uint8_t **reply, size_t *reply_len)
{
	return mds_dispatch(ctx, hdr, payload, reply, reply_len);
}

void mds_local_transport(struct mds *m, struct mdc_transport *t)
{
	t->call = local_call;
	t->ctx = m;
}

/* ---- lifecycle ------------------------------------------------------------- */

/*
 * Whether the backup superblock must be rewritten with the primary: a
 * grow interrupted between the two writes leaves it smaller.
 */
static int mds_backup_stale(struct mds *m)
{
	struct csvfs_super bk;

	if (fmt_read_backup(m->dev, &bk) ||
	    bk.total_blocks == m->sb.total_blocks)
		return 0;
	syslog(LOG_NOTICE, "backup superblock: %llu blocks, the volume has "
	       "%llu (interrupted grow): rewritten",
	       (unsigned long long)bk.total_blocks,
	       (unsigned long long)m->sb.total_blocks);
	return 1;
}

int mds_start(struct dev *dev, const struct mds_opts *o, struct mds **out)
{
	struct mds *m;
	struct jop op;
	uint64_t ntx = 0;
	int rc;

	if (o->node_id == 0 || o->node_id > CSVFS_MAX_NODES_LIMIT)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->recall_lock, NULL);
	pthread_cond_init(&m->recall_cond, NULL);
	m->dev = dev;
	m->o = *o;
	rc = mds_inval_init(m);
	if (rc) {
		free(m);
		return rc;
	}
	/* The device may have grown since it was opened (online grow). */
	rc = dev_refresh_size(dev);
	if (!rc)
		rc = fmt_read_super(dev, &m->sb);
	if (rc)
		goto fail;
	if (o->node_id > m->sb.max_nodes) {
		rc = -EINVAL;
		goto fail;
	}
	m->bsize = 1ull << m->sb.block_shift;
	if (o->standalone) {
		rc = hb_check_others(dev, &m->sb);
		if (rc)
			goto fail;
	}
	rc = jrnl_replay(dev, &m->sb, &ntx);
	if (rc) {
		syslog(LOG_ERR, "journal replay failed: %s (run fsck.csvfs -y)",
		       csvfs_strerror(rc));
		goto fail;
	}
	if (ntx)
		syslog(LOG_INFO, "journal: replayed %llu transactions",
		       (unsigned long long)ntx);
	m->sb.coord_epoch++;
	m->sb.coord_node = o->node_id;
	m->sb.mount_time = (uint64_t)time(NULL);
	m->sb.state = CSVFS_STATE_MOUNTED;
	rc = fmt_write_super(dev, &m->sb, mds_backup_stale(m));
	if (rc)
		goto fail;
	m->epoch = m->sb.coord_epoch;
	rc = jrnl_open(dev, &m->sb, 0, &m->j);
	if (rc)
		goto fail;
	/* Another node that takes over bumps the epoch: stop writing then. */
	jrnl_fence_epoch(m->j, m->epoch);
	jop_begin(m->j, &op);
	rc = alloc_load(&op, &m->sb, &m->a);
	jop_end(&op, 0);
	if (!rc)
		rc = mds_space_load(m);
	if (rc)
		goto fail;
	rc = mds_orphans_recover(m);
	if (!rc)
		rc = mds_sub_startup(m);
	if (rc)
		goto fail;
	/* A cluster node's own heartbeat is its daemon's (fs/cluster.c);
	 * the coordinator watches everyone's, to tell who died. */
	if (o->standalone)
		rc = hb_start(dev, &m->sb, o->node_id, CSVFS_HB_STANDALONE,
			      &m->hb);
	else
		rc = hb_watch_start(dev, &m->sb, &m->watch);
	if (!rc)
		rc = mds_lock_init(m);
	if (rc)
		goto fail;
	*out = m;
	return 0;
fail:
	if (m->j)
		jrnl_close(m->j);
	alloc_release(m->a);
	mds_inval_free(m);
	free(m);
	return rc;
}

int mds_stop(struct mds *m)
{
	unsigned i;
	int rc;

	mds_lock_free(m);
	hb_watch_stop(m->watch);
	rc = jrnl_close(m->j);
	if (!rc) {
		m->sb.state = CSVFS_STATE_CLEAN;
		rc = fmt_write_super(m->dev, &m->sb, 0);
	}
	if (!rc)
		rc = dev_flush(m->dev);
	if (m->hb) {
		int rc2 = hb_stop(m->hb);

		if (!rc)
			rc = rc2;
	}
	alloc_release(m->a);
	for (i = 0; i < MDS_OPEN_HASH; i++)
		while (m->open[i]) {
			struct mds_open *o = m->open[i];

			m->open[i] = o->next;
			free(o->per);
			free(o);
		}
	pthread_mutex_destroy(&m->recall_lock);
	pthread_cond_destroy(&m->recall_cond);
	mds_inval_free(m);
	free(m);
	return rc;
}

uint64_t mds_epoch(const struct mds *m)
{
	return m->epoch;
}
