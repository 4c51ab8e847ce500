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
 * File ownership: the protocol (OPEN, RELEASE, HANDOFF, RECALL_DONE,
 * SET_IFLAGS) is mds_own.c, beside the rules in lockd/lockd.c.
 *
 * Heartbeat: the coordinator's node writes its slot every second; a
 * standalone start refuses a volume whose other slots are still advancing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "lockd/hb.h"
#include "meta/alloc.h"
#include "meta/dev.h"
#include "meta/dir.h"
#include "meta/format.h"
#include "meta/inode.h"
#include "meta/jrnl.h"
#include "meta/mds/mds_i.h"
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
		log_ino_at(LOG_ERR, ino, "%s", csvfs_strerror(rc));
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

/* ---- time ------------------------------------------------------------- */

uint64_t mds_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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
	[CSVFS_MSG_OPEN] = { mds_h_open, 0 },
	[CSVFS_MSG_RELEASE] = { mds_h_release, 0 },
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
	/* HANDOFF: mds_handoff(), outside the table (it waits between steps) */
	[CSVFS_MSG_RECALL_DONE] = { mds_h_recall_done, 0 },
	[CSVFS_MSG_SET_IFLAGS] = { mds_h_set_iflags, SYNC },
	[CSVFS_MSG_CREATE] = { mds_h_create, 0 },
	[CSVFS_MSG_TMPFILE] = { mds_h_tmpfile, 0 },
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
	/*
	 * A change is answered before its group commits: first make sure
	 * the epoch is still ours (a read only when the last proof ran out,
	 * e.g. after this process was frozen and another node took over).
	 */
	if (csvfs_msg_mutating(hdr->type)) {
		rc = jrnl_fence_check(m->j);
		if (rc)
			return rc == -CSVFS_ESTALEEPOCH ? rc : -EIO;
	}
	mds_note_request(m, hdr->node_id);
	if (hdr->type == CSVFS_MSG_INVAL_ACK)
		return mds_inval_ack(m, hdr, payload);
	if (hdr->type == CSVFS_MSG_HANDOFF)
		return mds_handoff(m, hdr, payload, reply, reply_len);
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
			log_ino_at(LOG_ERR, r.reclaim_ino, "reclaim failed: %s",
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
		/*
		 * Epoch fencing: the node resends to the new coordinator.
		 * A refused write report (mds_may_report, logged there):
		 * the node drops it and fails the fsync (fs/data.h).
		 */
		if (rc == -CSVFS_ESTALEEPOCH || rc == -CSVFS_ELEASE)
			return rc;
		if (rc <= -CSVFS_EBASE && rc >= -CSVFS_EMAX) {
			/* Most requests start with the inode they are about. */
			log_req(LOG_ERR, hdr->node_id, hdr->seq,
				"%s of ino %llu: %s (run fsck.csvfs)",
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
	log_notice("backup superblock: %llu blocks, the volume has "
		   "%llu (interrupted grow): rewritten",
		   (unsigned long long)bk.total_blocks,
		   (unsigned long long)m->sb.total_blocks);
	return 1;
}

/*
 * After the epoch bump of a takeover from a coordinator that may still
 * run: waits until a write it began under its last epoch proof has ended
 * (csvfs/fencing.h, rule 3). Its last write may have been its clean-stop
 * superblock (mds_stop), which carries its own, older epoch over ours:
 * then ours is written again, and waited for again (at most a few times:
 * a stopped coordinator writes nothing more).
 */
static int fence_wait(struct mds *m, unsigned ms)
{
	struct csvfs_super now;
	int rc, round;

	for (round = 0; round < 4; round++) {
		log_notice("epoch %llu written: waiting %u ms for the replaced "
			   "coordinator's last writes",
			   (unsigned long long)m->sb.coord_epoch, ms);
		usleep(ms * 1000u);
		rc = fmt_read_super(m->dev, &now);
		if (rc)
			return rc;
		if (now.coord_epoch == m->sb.coord_epoch &&
		    now.coord_node == m->sb.coord_node)
			return 0;
		log_warn("the replaced coordinator overwrote the superblock "
			 "(epoch %llu of node %u): writing epoch %llu again",
			 (unsigned long long)now.coord_epoch, now.coord_node,
			 (unsigned long long)m->sb.coord_epoch + 1);
		/* Its fields (a grow it finished) with our role over them. */
		if (now.coord_epoch < m->sb.coord_epoch)
			now.coord_epoch = m->sb.coord_epoch;
		now.coord_epoch++;
		now.coord_node = m->sb.coord_node;
		now.mount_time = m->sb.mount_time;
		now.state = CSVFS_STATE_MOUNTED;
		m->sb = now;
		rc = fmt_write_super(m->dev, &m->sb, mds_backup_stale(m));
		if (rc)
			return rc;
	}
	log_err("the superblock keeps changing under a new coordinator: "
		"another writer of the volume is alive");
	return -CSVFS_ELIVE;
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
	/*
	 * The epoch first: a coordinator this one replaces may still be
	 * alive (deposed while frozen), and it stops writing once it sees
	 * the new epoch. Only then replay, after the wait that lets a write
	 * it began under its last epoch proof end (lockd/hb.h, rule 3).
	 */
	m->sb.coord_epoch++;
	m->sb.coord_node = o->node_id;
	m->sb.mount_time = (uint64_t)time(NULL);
	m->sb.state = CSVFS_STATE_MOUNTED;
	rc = fmt_write_super(dev, &m->sb, mds_backup_stale(m));
	if (rc)
		goto fail;
	if (o->fence_wait_ms) {
		rc = fence_wait(m, o->fence_wait_ms);
		if (rc)
			goto fail;
	}
	rc = jrnl_replay(dev, &m->sb, &ntx);
	if (rc) {
		log_err("journal replay failed: %s (run fsck.csvfs -y)",
			csvfs_strerror(rc));
		goto fail;
	}
	if (ntx)
		log_info("journal: replayed %llu transactions",
			 (unsigned long long)ntx);
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

void mds_fence(struct mds *m)
{
	jrnl_abandon(m->j);
}

/* The memory of a coordinator whose journal is closed (stop or abandon). */
static void mds_free(struct mds *m)
{
	unsigned i;

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
}

void mds_abandon(struct mds *m)
{
	/* First: from here on nothing of this coordinator reaches the
	 * device, whatever its threads still do. */
	jrnl_abandon(m->j);
	mds_lock_free(m);
	hb_watch_stop(m->watch);
	if (jrnl_close(m->j) != -CSVFS_ESTALEEPOCH)
		log_at(LOG_CRIT, "abandoned coordinator: the journal did not "
		       "stay fenced");
	if (m->hb)
		hb_stop(m->hb);
	mds_free(m);
}

/*
 * The clean-stop superblock, unless another coordinator took over since
 * the journal's last epoch proof: its superblock carries its newer epoch,
 * which ours must not overwrite (what is left of the window between this
 * read and the write, fence_wait on the new coordinator's side closes).
 */
static int clean_super(struct mds *m)
{
	struct csvfs_super now;
	int rc;

	rc = fmt_read_super(m->dev, &now);
	if (rc)
		return rc;
	if (now.coord_epoch != m->sb.coord_epoch) {
		log_at(LOG_CRIT, "stopping: the volume's coordinator epoch is "
		       "%llu, ours %llu: another node took over, the "
		       "superblock is left to it",
		       (unsigned long long)now.coord_epoch,
		       (unsigned long long)m->sb.coord_epoch);
		return -CSVFS_ESTALEEPOCH;
	}
	m->sb.state = CSVFS_STATE_CLEAN;
	return fmt_write_super(m->dev, &m->sb, 0);
}

int mds_stop(struct mds *m)
{
	int rc;

	mds_lock_free(m);
	hb_watch_stop(m->watch);
	rc = jrnl_close(m->j);
	if (!rc)
		rc = clean_super(m);
	if (!rc)
		rc = dev_flush(m->dev);
	if (m->hb) {
		int rc2 = hb_stop(m->hb);

		if (!rc)
			rc = rc2;
	}
	mds_free(m);
	return rc;
}

uint64_t mds_epoch(const struct mds *m)
{
	return m->epoch;
}
