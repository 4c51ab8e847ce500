/*
 * jrnl: metadata block cache, operations with undo, group commit, replay.
 * See jrnl.h for the model. Locks, always taken in this order:
 *   commit_lock  one commit at a time (the commit thread or jrnl_commit)
 *   lock         the metadata lock: cache, dirty list, running tid
 *   state_lock   durable tid, error, kicks; cond signals progress
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "csvfs/fencing.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"

#define CACHE_MAX_BLOCKS	32768u	/* 128 MiB of clean blocks */
#define HASH_BITS		16
#define COMMIT_DIRTY_KICK	1024u	/* wake the commit thread early */
#define DEFAULT_COMMIT_MS	5

struct cbuf {
	struct mbuf mb;			/* public part, first */
	struct cbuf *hnext;		/* hash chain */
	struct cbuf *lprev, *lnext;	/* LRU list, most recent first */
	struct cbuf *dnext;		/* dirty list */
	int dirty;			/* in the running transaction */
	uint64_t wb_tid;		/* committed, in-place write pending */
	uint64_t op_serial;		/* last operation that touched it */
	uint64_t saved_serial;		/* operation that saved its undo */
};

struct jrnl {
	struct dev *dev;
	struct csvfs_super sb;
	int flags;

	pthread_mutex_t commit_lock;
	pthread_mutex_t lock;
	pthread_mutex_t state_lock;
	pthread_cond_t cond;

	struct cbuf **ht;
	struct cbuf *lru_head, *lru_tail;
	unsigned nblocks;
	struct cbuf *dirty;
	unsigned ndirty;
	uint64_t op_serial;
	int preflush;			/* under lock: jop_order_data */

	uint64_t tid_running;		/* under lock */
	uint64_t tid_durable;		/* under state_lock */
	int error;			/* under state_lock, sticky */
	int kick, stop;			/* under state_lock */

	uint64_t jstart, jstart_tid;	/* journal superblock (commit_lock) */
	uint64_t jhead, jused;

	pthread_t thread;
	int have_thread;
	unsigned commit_ms;
	struct jrnl_stats st;
	/* Epoch fencing, under fence_lock (never held across I/O). */
	pthread_mutex_t fence_lock;
	uint64_t fence_epoch;		/* jrnl_fence_epoch, 0: off */
	uint64_t proof_ns;		/* start of the last passed check */
	int fenced;			/* a newer epoch was seen: sticky */
};

static unsigned hash_mblk(uint64_t mblk)
{
	return (unsigned)((mblk * 0x9e3779b97f4a7c15ull) >> (64 - HASH_BITS));
}

static struct cbuf *cache_find(struct jrnl *j, uint64_t mblk)
{
	struct cbuf *c;

	for (c = j->ht[hash_mblk(mblk)]; c; c = c->hnext)
		if (c->mb.mblk == mblk)
			return c;
	return NULL;
}

static void lru_unlink(struct jrnl *j, struct cbuf *c)
{
	if (c->lprev)
		c->lprev->lnext = c->lnext;
	else
		j->lru_head = c->lnext;
	if (c->lnext)
		c->lnext->lprev = c->lprev;
	else
		j->lru_tail = c->lprev;
	c->lprev = c->lnext = NULL;
}

static void lru_push(struct jrnl *j, struct cbuf *c)
{
	c->lprev = NULL;
	c->lnext = j->lru_head;
	if (j->lru_head)
		j->lru_head->lprev = c;
	j->lru_head = c;
	if (!j->lru_tail)
		j->lru_tail = c;
}

static void cache_remove(struct jrnl *j, struct cbuf *c)
{
	struct cbuf **pp = &j->ht[hash_mblk(c->mb.mblk)];

	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	lru_unlink(j, c);
	j->nblocks--;
	free(c->mb.data);
	free(c);
}

/* Drops clean, idle blocks from the LRU tail while the cache is over size. */
static void cache_shrink(struct jrnl *j)
{
	struct cbuf *c = j->lru_tail;

	while (j->nblocks > CACHE_MAX_BLOCKS && c) {
		struct cbuf *prev = c->lprev;

		if (!c->dirty && !c->wb_tid && c->op_serial != j->op_serial)
			cache_remove(j, c);
		c = prev;
	}
}

static struct cbuf *cache_insert(struct jrnl *j, uint64_t mblk)
{
	struct cbuf *c;
	unsigned h = hash_mblk(mblk);

	cache_shrink(j);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->mb.data = dev_alloc_buf(CSVFS_MBLK_SIZE);
	if (!c->mb.data) {
		free(c);
		return NULL;
	}
	c->mb.mblk = mblk;
	c->hnext = j->ht[h];
	j->ht[h] = c;
	lru_push(j, c);
	j->nblocks++;
	return c;
}

static int mblk_valid(const struct jrnl *j, uint64_t mblk)
{
	return mblk > 0 && mblk < j->dev->size / CSVFS_MBLK_SIZE;
}

void jop_begin(struct jrnl *j, struct jop *op)
{
	memset(op, 0, sizeof(*op));
	op->j = j;
	pthread_mutex_lock(&j->lock);
	j->op_serial++;
}

static void touch(struct jrnl *j, struct cbuf *c)
{
	c->op_serial = j->op_serial;
	lru_unlink(j, c);
	lru_push(j, c);
}

int jop_read(struct jop *op, uint64_t mblk, uint32_t magic, struct mbuf **b)
{
	struct jrnl *j = op->j;
	struct cbuf *c;
	int rc;

	if (!mblk_valid(j, mblk))
		return -CSVFS_ECORRUPT;
	c = cache_find(j, mblk);
	if (c) {
		j->st.cache_hits++;
		if (magic && od_get32(c->mb.data) != magic)
			return -CSVFS_EBADMAGIC;
		touch(j, c);
		*b = &c->mb;
		return 0;
	}
	j->st.cache_misses++;
	c = cache_insert(j, mblk);
	if (!c)
		return -ENOMEM;
	rc = dev_pread(j->dev, c->mb.data, CSVFS_MBLK_SIZE,
		       mblk * CSVFS_MBLK_SIZE);
	if (!rc)
		rc = od_check(c->mb.data, magic ? magic : od_get32(c->mb.data),
			      mblk, j->sb.hdr.uuid);
	if (rc) {
		cache_remove(j, c);
		return rc;
	}
	c->op_serial = j->op_serial;
	*b = &c->mb;
	return 0;
}

static int undo_save(struct jop *op, struct cbuf *c, int fresh)
{
	struct jrnl *j = op->j;
	struct jop_undo *u;

	if (j->flags & JRNL_RDONLY)
		return -EROFS;
	if (c->saved_serial == j->op_serial)
		return 0;
	if (op->nundo == op->cap) {
		unsigned cap = op->cap ? op->cap * 2 : 16;
		struct jop_undo *nu;

		if (cap > JOP_MAX_BLOCKS)
			return -E2BIG;
		nu = realloc(op->undo, cap * sizeof(*nu));
		if (!nu)
			return -ENOMEM;
		op->undo = nu;
		op->cap = cap;
	}
	u = &op->undo[op->nundo];
	u->b = &c->mb;
	u->was_dirty = c->dirty;
	u->fresh = fresh;
	u->saved = malloc(CSVFS_MBLK_SIZE);
	if (!u->saved)
		return -ENOMEM;
	if (fresh)
		memset(u->saved, 0, CSVFS_MBLK_SIZE);
	else
		memcpy(u->saved, c->mb.data, CSVFS_MBLK_SIZE);
	op->nundo++;
	c->saved_serial = j->op_serial;
	if (!c->dirty) {
		c->dirty = 1;
		c->dnext = j->dirty;
		j->dirty = c;
		j->ndirty++;
	}
	return 0;
}

int jop_write(struct jop *op, struct mbuf *b)
{
	int rc = undo_save(op, (struct cbuf *)b, 0);

	if (rc)
		op->failed = rc;
	return rc;
}

int jop_new(struct jop *op, uint64_t mblk, struct mbuf **b)
{
	struct jrnl *j = op->j;
	struct cbuf *c;
	int rc;

	if (!mblk_valid(j, mblk))
		return -CSVFS_ECORRUPT;
	c = cache_find(j, mblk);
	if (c) {
		touch(j, c);
		rc = undo_save(op, c, 0);
	} else {
		c = cache_insert(j, mblk);
		if (!c)
			return -ENOMEM;
		c->op_serial = j->op_serial;
		rc = undo_save(op, c, 1);
		/* Never leave an unread block in the cache. */
		if (rc && c->saved_serial != j->op_serial)
			cache_remove(j, c);
	}
	if (rc) {
		op->failed = rc;
		return rc;
	}
	memset(c->mb.data, 0, CSVFS_MBLK_SIZE);
	*b = &c->mb;
	return 0;
}

/* Takes c out of the dirty list (undo of a block the op made dirty). */
static void dirty_remove(struct jrnl *j, struct cbuf *c)
{
	struct cbuf **pp = &j->dirty;

	while (*pp && *pp != c)
		pp = &(*pp)->dnext;
	if (*pp) {
		*pp = c->dnext;
		j->ndirty--;
	}
	c->dirty = 0;
	c->dnext = NULL;
}

uint64_t jop_end(struct jop *op, int err)
{
	struct jrnl *j = op->j;
	uint64_t tid = 0;
	unsigned i, ndirty;

	if (!err && op->failed)
		err = op->failed;
	for (i = op->nundo; i-- > 0;) {
		struct jop_undo *u = &op->undo[i];

		if (err) {
			struct cbuf *c = (struct cbuf *)u->b;

			if (u->fresh) {
				/* Its disk contents were never read: forget it. */
				dirty_remove(j, c);
				cache_remove(j, c);
			} else {
				memcpy(c->mb.data, u->saved, CSVFS_MBLK_SIZE);
				if (!u->was_dirty)
					dirty_remove(j, c);
			}
		}
		free(u->saved);
	}
	if (!err && op->nundo)
		tid = j->tid_running;
	ndirty = j->ndirty;
	free(op->undo);
	op->undo = NULL;
	op->nundo = op->cap = 0;
	pthread_mutex_unlock(&j->lock);
	if (ndirty >= COMMIT_DIRTY_KICK) {
		pthread_mutex_lock(&j->state_lock);
		j->kick = 1;
		pthread_cond_broadcast(&j->cond);
		pthread_mutex_unlock(&j->state_lock);
	}
	return tid;
}

void jop_order_data(struct jop *op)
{
	op->j->preflush = 1;	/* the op holds j->lock */
}

const uint8_t *jrnl_uuid(const struct jrnl *j)
{
	return j->sb.hdr.uuid;
}

static void set_error(struct jrnl *j, int rc)
{
	pthread_mutex_lock(&j->state_lock);
	if (!j->error)
		j->error = rc;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->state_lock);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Epoch fencing (jrnl_fence_epoch): the superblock's coordinator epoch must
 * still be ours. One 4 KiB read, which proves it for CSVFS_FENCE_PROOF_MS
 * from the moment the read was issued (csvfs/fencing.h: a new coordinator that
 * may have replaced a living one writes only that long after its epoch
 * bump). Every write of a group first asks for a fresh proof (fence_ok),
 * so a coordinator that was frozen between its check and its writes (a
 * SIGSTOP, a VM pause, a stall of the device) reads the superblock again
 * when it wakes and writes nothing. What stays open is the instant
 * between that clock check and the write entering the kernel, and a write
 * the kernel holds past the deadline: the I/O deadline and the watchdog
 * (meta/dev.h) are for those.
 * force: read even when the last proof is fresh. Any thread; takes only
 * fence_lock, and never across the read.
 */
static int fence_proof(struct jrnl *j, int force)
{
	struct csvfs_super sb;
	uint64_t epoch, t0 = mono_ns();
	int rc, fresh, fenced;

	pthread_mutex_lock(&j->fence_lock);
	epoch = j->fence_epoch;
	fenced = j->fenced;
	fresh = !force && j->proof_ns &&
		t0 - j->proof_ns < CSVFS_FENCE_PROOF_MS * 1000000ull;
	pthread_mutex_unlock(&j->fence_lock);
	if (!epoch || fresh)
		return 0;
	if (fenced)
		return -CSVFS_ESTALEEPOCH;
	rc = fmt_read_super(j->dev, &sb);
	pthread_mutex_lock(&j->fence_lock);
	j->st.epoch_checks++;
	if (!rc && sb.coord_epoch == j->fence_epoch) {
		if (t0 > j->proof_ns)
			j->proof_ns = t0;
	} else if (!rc) {
		j->fenced = 1;
		rc = -CSVFS_ESTALEEPOCH;
	}
	pthread_mutex_unlock(&j->fence_lock);
	if (rc == -CSVFS_ESTALEEPOCH)
		log_at(LOG_CRIT, "journal: the volume's coordinator epoch is "
		       "%llu, ours is %llu: another node took over, writing "
		       "nothing more", (unsigned long long)sb.coord_epoch,
		       (unsigned long long)epoch);
	else if (rc)
		log_err("journal: cannot read the superblock to check the "
			"coordinator epoch: %s", csvfs_strerror(rc));
	return rc;
}

/* Before each group and checkpoint: always read. */
static int epoch_check(struct jrnl *j)
{
	return fence_proof(j, 0x1);
}

/* Before each write: read again only when the proof has run out. */
static int fence_ok(struct jrnl *j)
{
	return fence_proof(j, 0);
}

int jrnl_fence_check(struct jrnl *j)
{
	int rc = fence_ok(j);

	if (rc == -CSVFS_ESTALEEPOCH)
		set_error(j, rc);
	return rc;
}

/* ---- journal writing ---------------------------------------------- */

static int jsb_write(struct jrnl *j)
{
	struct csvfs_jsb jsb;
	uint8_t *raw;
	int rc;

	raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	if (!raw)
		return -ENOMEM;
	memset(&jsb, 0, sizeof(jsb));
	od_hdr_init(&jsb.hdr, CSVFS_MAGIC_JSB, j->sb.journal_mblk,
		    j->sb.hdr.uuid);
	jsb.start = j->jstart;
	jsb.start_tid = j->jstart_tid;
	od_jsb_encode(&jsb, raw);
	od_seal(raw);
	rc = fence_ok(j);
	if (!rc)
		rc = dev_pwrite(j->dev, raw, CSVFS_MBLK_SIZE,
				j->sb.journal_mblk * CSVFS_MBLK_SIZE);
	if (!rc)
		rc = dev_flush(j->dev);
	free(raw);
	return rc;
}

/* Makes all in-place writes durable and empties the journal. */
static int checkpoint(struct jrnl *j, uint64_t next_tid)
{
	int rc = epoch_check(j);

	if (!rc)
		rc = dev_flush(j->dev);
	if (rc)
		return rc;
	/* A transaction that ended at the journal's last block. */
	if (j->jhead >= j->sb.journal_len)
		j->jhead = 1;
	j->jstart = j->jhead;
	j->jstart_tid = next_tid;
	j->jused = 0;
	j->st.checkpoints++;
	return jsb_write(j);
}

static unsigned tx_mblks(unsigned n)
{
	return n + (n + CSVFS_JDESC_MAX - 1) / CSVFS_JDESC_MAX + 1;
}

/* Builds and writes one transaction of n sealed images. */
static int journal_write(struct jrnl *j, uint64_t tid, uint8_t *images,
			 const uint64_t *targets, unsigned n)
{
	uint64_t len = j->sb.journal_len;
	unsigned total = tx_mblks(n), i, done = 0, pos = 0;
	uint8_t *buf = NULL;
	uint64_t where;
	uLong crc = crc32(0L, Z_NULL, 0);
	struct csvfs_jcommit jc;
	struct timespec now;
	int rc;

	if (total > len - 1)
		return -CSVFS_EJOURNAL;
	if (j->jhead + total > len) {
		if (j->jused + (len - j->jhead) + total > len - 1) {
			rc = checkpoint(j, tid);
			if (rc)
				return rc;
		}
		j->jused += len - j->jhead;
		j->jhead = 1;
	}
	if (j->jused + total > len - 1) {
		rc = checkpoint(j, tid);
		if (rc)
			return rc;
		if (j->jhead + total > len)
			j->jhead = 1;
	}
	buf = dev_alloc_buf((size_t)total * CSVFS_MBLK_SIZE);
	if (!buf)
		return -ENOMEM;
	where = j->sb.journal_mblk + j->jhead;
	while (done < n) {
		unsigned cnt = n - done;
		struct csvfs_jdesc d;
		uint8_t *draw = buf + (size_t)pos * CSVFS_MBLK_SIZE;

		if (cnt > CSVFS_JDESC_MAX)
			cnt = CSVFS_JDESC_MAX;
		memset(&d, 0, sizeof(d));
		od_hdr_init(&d.hdr, CSVFS_MAGIC_JDESC, where + pos,
			    j->sb.hdr.uuid);
		d.hdr.tid = tid;
		d.nblocks = cnt;
		for (i = 0; i < cnt; i++)
			d.targets[i] = targets[done + i];
		od_jdesc_encode(&d, draw);
		od_seal(draw);
		pos++;
		memcpy(buf + (size_t)pos * CSVFS_MBLK_SIZE,
		       images + (size_t)done * CSVFS_MBLK_SIZE,
		       (size_t)cnt * CSVFS_MBLK_SIZE);
		pos += cnt;
		done += cnt;
	}
	crc = crc32(crc, buf, (uInt)((size_t)pos * CSVFS_MBLK_SIZE));
	memset(&jc, 0, sizeof(jc));
	od_hdr_init(&jc.hdr, CSVFS_MAGIC_JCOMMIT, where + pos, j->sb.hdr.uuid);
	jc.hdr.tid = tid;
	jc.nblocks = n;
	jc.data_crc = (uint32_t)crc;
	clock_gettime(CLOCK_REALTIME, &now);
	jc.commit_ns = (uint64_t)now.tv_sec * 1000000000ull +
		       (uint64_t)now.tv_nsec;
	od_jcommit_encode(&jc, buf + (size_t)pos * CSVFS_MBLK_SIZE);
	od_seal(buf + (size_t)pos * CSVFS_MBLK_SIZE);
	pos++;
	rc = fence_ok(j);
	if (!rc)
		rc = dev_pwrite(j->dev, buf, (size_t)pos * CSVFS_MBLK_SIZE,
				where * CSVFS_MBLK_SIZE);
	if (!rc)
		rc = dev_flush(j->dev);
	if (!rc) {
		j->jhead += pos;
		j->jused += pos;
		j->st.flushes++;
	}
	free(buf);
	return rc;
}

static int cmp_mblk(const void *a, const void *b)
{
	uint64_t x = (*(struct cbuf *const *)a)->mb.mblk;
	uint64_t y = (*(struct cbuf *const *)b)->mb.mblk;

	return x < y ? -1 : x > y;
}

/* One group commit. Caller holds commit_lock. */
static int commit_locked(struct jrnl *j)
{
	struct cbuf **list = NULL, *c;
	uint64_t *targets = NULL, tid;
	uint8_t *images = NULL;
	unsigned n, i;
	int rc = 0, pre;

	pthread_mutex_lock(&j->lock);
	n = j->ndirty;
	pthread_mutex_unlock(&j->lock);
	if (n == 0)
		return 0;
	/* Before anything of this group is written, not even the journal. */
	rc = epoch_check(j);
	if (rc) {
		set_error(j, rc);
		return rc;
	}
	pthread_mutex_lock(&j->lock);
	n = j->ndirty;
	if (n == 0) {
		pthread_mutex_unlock(&j->lock);
		return 0;
	}
	list = malloc(n * sizeof(*list));
	targets = malloc(n * sizeof(*targets));
	images = dev_alloc_buf((size_t)n * CSVFS_MBLK_SIZE);
	if (!list || !targets || !images) {
		pthread_mutex_unlock(&j->lock);
		rc = -ENOMEM;
		goto out;
	}
	tid = j->tid_running++;
	pre = j->preflush;
	j->preflush = 0;
	for (i = 0, c = j->dirty; c; c = c->dnext, i++)
		list[i] = c;
	/* In block order, so the in-place writes coalesce into runs. */
	qsort(list, n, sizeof(*list), cmp_mblk);
	for (i = 0; i < n; i++) {
		uint8_t *img = images + (size_t)i * CSVFS_MBLK_SIZE;

		c = list[i];
		od_put64(c->mb.data + 0x20, tid);
		od_seal(c->mb.data);
		memcpy(img, c->mb.data, CSVFS_MBLK_SIZE);
		targets[i] = c->mb.mblk;
		c->dirty = 0;
		c->wb_tid = tid;
	}
	for (i = 0; i < n; i++)
		list[i]->dnext = NULL;
	j->dirty = NULL;
	j->ndirty = 0;
	pthread_mutex_unlock(&j->lock);

	/* Data an operation of this group wrote first is durable first. */
	if (pre)
		rc = dev_flush(j->dev);
	if (!rc)
		rc = journal_write(j, tid, images, targets, n);
	for (i = 0; !rc && i < n;) {
		unsigned k = i + 1;

		while (k < n && targets[k] == targets[k - 1] + 1)
			k++;
		rc = fence_ok(j);
		if (!rc)
			rc = dev_pwrite(j->dev, images +
					(size_t)i * CSVFS_MBLK_SIZE,
					(size_t)(k - i) * CSVFS_MBLK_SIZE,
					targets[i] * CSVFS_MBLK_SIZE);
		i = k;
	}
	pthread_mutex_lock(&j->lock);
	for (i = 0; i < n; i++)
		if (list[i]->wb_tid == tid)
			list[i]->wb_tid = 0;
	pthread_mutex_unlock(&j->lock);
	if (rc)
		goto out;
	j->st.commits++;
	j->st.blocks += n;
	pthread_mutex_lock(&j->state_lock);
	j->tid_durable = tid;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->state_lock);
out:
	if (rc)
		set_error(j, rc);
	free(list);
	free(targets);
	free(images);
	return rc;
}

int jrnl_commit(struct jrnl *j)
{
	int rc;

	if (j->flags & JRNL_RDONLY)
		return 0;
	pthread_mutex_lock(&j->commit_lock);
	rc = commit_locked(j);
	pthread_mutex_unlock(&j->commit_lock);
	if (!rc)
		rc = jrnl_error(j);
	return rc;
}

int jrnl_checkpoint(struct jrnl *j)
{
	int rc;

	if (j->flags & JRNL_RDONLY)
		return 0;
	pthread_mutex_lock(&j->commit_lock);
	rc = commit_locked(j);
	if (!rc)
		rc = checkpoint(j, j->tid_running);
	pthread_mutex_unlock(&j->commit_lock);
	if (rc)
		set_error(j, rc);
	else
		rc = jrnl_error(j);
	return rc;
}

int jrnl_error(struct jrnl *j)
{
	int rc;

	pthread_mutex_lock(&j->state_lock);
	rc = j->error;
	pthread_mutex_unlock(&j->state_lock);
	return rc;
}

int jrnl_wait(struct jrnl *j, uint64_t tid)
{
	int rc;

	if (tid == 0)
		return jrnl_error(j);
	if (!j->have_thread) {
		pthread_mutex_lock(&j->state_lock);
		rc = j->tid_durable >= tid ? j->error : 1;
		pthread_mutex_unlock(&j->state_lock);
		return rc == 1 ? jrnl_commit(j) : rc;
	}
	pthread_mutex_lock(&j->state_lock);
	while (j->tid_durable < tid && !j->error) {
		j->kick = 1;
		pthread_cond_broadcast(&j->cond);
		pthread_cond_wait(&j->cond, &j->state_lock);
	}
	rc = j->tid_durable >= tid ? 0 : j->error;
	pthread_mutex_unlock(&j->state_lock);
	return rc;
}

static void *commit_thread(void *arg)
{
	struct jrnl *j = arg;

	for (;;) {
		struct timespec ts;
		int stop;

		pthread_mutex_lock(&j->state_lock);
		if (!j->kick && !j->stop) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)j->commit_ms * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&j->cond, &j->state_lock, &ts);
		}
		j->kick = 0;
		stop = j->stop;
		pthread_mutex_unlock(&j->state_lock);
		pthread_mutex_lock(&j->commit_lock);
		commit_locked(j);
		pthread_mutex_unlock(&j->commit_lock);
		if (stop)
			break;
	}
	return NULL;
}

/* ---- replay ---------------------------------------------------------- */

static int read_mblks(struct dev *d, uint8_t *buf, uint64_t mblk, unsigned n)
{
	return dev_pread(d, buf, (size_t)n * CSVFS_MBLK_SIZE,
			 mblk * CSVFS_MBLK_SIZE);
}

static int jsb_read(struct dev *d, const struct csvfs_super *sb,
		    struct csvfs_jsb *jsb)
{
	uint8_t *raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	int rc;

	if (!raw)
		return -ENOMEM;
	rc = read_mblks(d, raw, sb->journal_mblk, 1);
	if (!rc)
		rc = od_check(raw, CSVFS_MAGIC_JSB, sb->journal_mblk,
			      sb->hdr.uuid);
	if (!rc)
		od_jsb_decode(raw, jsb);
	if (!rc && (jsb->start < 1 || jsb->start >= sb->journal_len))
		rc = -CSVFS_EJOURNAL;
	free(raw);
	return rc;
}

/*
 * Reads the transaction tid starting at journal offset pos into a malloc'd
 * buffer of descriptors and images. Returns its length in mblks (> 0),
 * 0 if there is no complete, valid transaction tid at pos, or -errno.
 */
static int tx_load(struct dev *d, const struct csvfs_super *sb, uint64_t pos,
		   uint64_t tid, uint8_t **out, uint64_t **tgt, unsigned *nimg,
		   uint64_t *torn)
{
	uint64_t len = sb->journal_len, p = pos;
	uint8_t *buf = NULL, *blk;
	uint64_t *targets = NULL;
	unsigned n = 0, cap = 0, ntot = 0;
	struct csvfs_jcommit jc;
	uLong crc;
	int rc = 0;

	blk = dev_alloc_buf(CSVFS_MBLK_SIZE);
	if (!blk)
		return -ENOMEM;
	for (;;) {
		struct csvfs_jdesc desc;
		uint64_t m = sb->journal_mblk + p;
		unsigned i, cnt;
		uint64_t *nt;
		uint8_t *nb;

		if (p >= len)
			goto none;
		rc = read_mblks(d, blk, m, 1);
		if (rc)
			goto out;
		if (ntot > 0 && od_check(blk, CSVFS_MAGIC_JCOMMIT, m,
					 sb->hdr.uuid) == 0)
			break;
		if (od_check(blk, CSVFS_MAGIC_JDESC, m, sb->hdr.uuid))
			goto none;
		od_jdesc_decode(blk, &desc);
		if (desc.hdr.tid != tid || desc.nblocks == 0 ||
		    desc.nblocks > CSVFS_JDESC_MAX ||
		    p + 1 + desc.nblocks >= len)
			goto none;
		cnt = desc.nblocks;
		if (n + cnt + 1 > cap) {
			cap = (n + cnt + 1) * 2;
			/* Aligned: the images are written with O_DIRECT. */
			nb = dev_alloc_buf((size_t)cap * CSVFS_MBLK_SIZE);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			if (buf)
				memcpy(nb, buf, (size_t)n * CSVFS_MBLK_SIZE);
			free(buf);
			buf = nb;
			nt = realloc(targets, (size_t)cap * 8);
			if (!nt) {
				rc = -ENOMEM;
				goto out;
			}
			targets = nt;
		}
		memcpy(buf + (size_t)n * CSVFS_MBLK_SIZE, blk, CSVFS_MBLK_SIZE);
		n++;
		for (i = 0; i < cnt && !rc; i++) {
			rc = read_mblks(d, buf + (size_t)n * CSVFS_MBLK_SIZE,
					m + 1 + i, 1);
			targets[ntot + i] = desc.targets[i];
			n++;
		}
		if (rc)
			goto out;
		for (i = 0; i < cnt; i++) {
			uint64_t t = desc.targets[i];

			if (t == 0 || t >= d->size / CSVFS_MBLK_SIZE)
				goto none;
		}
		ntot += cnt;
		p += 1 + cnt;
	}
	od_jcommit_decode(blk, &jc);
	crc = crc32(crc32(0L, Z_NULL, 0), buf, (uInt)((size_t)n *
							CSVFS_MBLK_SIZE));
	if (jc.hdr.tid != tid || jc.nblocks != ntot ||
	    jc.data_crc != (uint32_t)crc)
		goto none;
	*out = buf;
	*tgt = targets;
	*nimg = ntot;
	free(blk);
	return (int)(p + 1 - pos);
none:
	rc = 0;
	/* Descriptors of tid were there: the transaction spanned this far. */
	if (torn && ntot > 0)
		*torn = p + 1 - pos;
out:
	free(buf);
	free(targets);
	free(blk);
	return rc;
}

/*
 * Whether transaction tid, at pos or wrapped to the journal's start, is
 * complete: a damaged transaction followed by a committed one is
 * corruption, not a torn tail.
 */
static int tx_committed(struct dev *d, const struct csvfs_super *sb,
			uint64_t pos, uint64_t tid)
{
	uint64_t *targets = NULL;
	uint8_t *buf = NULL;
	unsigned nimg;
	int len;

	len = tx_load(d, sb, pos, tid, &buf, &targets, &nimg, NULL);
	if (len == 0)
		len = tx_load(d, sb, 1, tid, &buf, &targets, &nimg, NULL);
	free(buf);
	free(targets);
	return len > 0;
}

/* Applies a loaded transaction: images are the non-descriptor blocks. */
static int tx_apply(struct dev *d, uint8_t *buf, const uint64_t *targets,
		    unsigned nimg)
{
	unsigned i, k = 0, idx = 0;
	int rc = 0;

	while (k < nimg) {
		unsigned cnt = od_get32(buf + (size_t)idx * CSVFS_MBLK_SIZE +
					0x40);

		idx++;
		for (i = 0; i < cnt && !rc; i++, idx++, k++)
			rc = dev_pwrite(d, buf + (size_t)idx * CSVFS_MBLK_SIZE,
					CSVFS_MBLK_SIZE,
					targets[k] * CSVFS_MBLK_SIZE);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Walks the committed transactions from the journal superblock's start,
 * applying them in place if apply; *end_pos and *end_tid get where the
 * walk stopped. Returns 0, -CSVFS_EJOURNAL for a damaged transaction that
 * committed ones follow, or -errno.
 */
static int replay_walk(struct dev *d, const struct csvfs_super *sb,
		       int apply, uint64_t *ntx, uint64_t *end_pos,
		       uint64_t *end_tid)
{
	struct csvfs_jsb jsb;
	uint64_t pos, tid, count = 0;
	int rc;

	rc = jsb_read(d, sb, &jsb);
	if (rc)
		return rc;
	pos = jsb.start;
	tid = jsb.start_tid;
	for (;;) {
		uint8_t *buf = NULL;
		uint64_t *targets = NULL;
		unsigned nimg = 0;
		int len;

		uint64_t torn = 0, torn1 = 0;

		len = tx_load(d, sb, pos, tid, &buf, &targets, &nimg, &torn);
		if (len == 0 && pos != 1) {
			len = tx_load(d, sb, 1, tid, &buf, &targets, &nimg,
				      &torn1);
			if (len > 0)
				pos = 1;
		}
		if (len < 0)
			return len;
		if (len == 0 && (torn || torn1) &&
		    tx_committed(d, sb, torn ? pos + torn : 1 + torn1,
				 tid + 1)) {
			log_err("journal: transaction %llu is damaged "
				"but later ones are committed",
				(unsigned long long)tid);
			return -CSVFS_EJOURNAL;
		}
		if (len == 0)
			break;
		rc = apply ? tx_apply(d, buf, targets, nimg) : 0;
		free(buf);
		free(targets);
		if (rc)
			return rc;
		pos += (uint64_t)len;
		tid++;
		count++;
	}
	*ntx = count;
	*end_pos = pos;
	*end_tid = tid;
	return 0;
}

int jrnl_pending(struct dev *d, const struct csvfs_super *sb, uint64_t *ntx)
{
	uint64_t pos, tid;

	return replay_walk(d, sb, 0, ntx, &pos, &tid);
}

int jrnl_replay(struct dev *d, const struct csvfs_super *sb, uint64_t *ntx)
{
	struct jrnl tmp;
	uint64_t pos, tid, count = 0;
	int rc;

	rc = replay_walk(d, sb, 1, &count, &pos, &tid);
	if (rc)
		return rc;
	if (ntx)
		*ntx = count;
	if (count == 0)
		return 0;
	memset(&tmp, 0, sizeof(tmp));
	tmp.dev = d;
	tmp.sb = *sb;
	tmp.jhead = pos;
	return checkpoint(&tmp, tid);
}

int jrnl_reset(struct dev *d, const struct csvfs_super *sb)
{
	struct csvfs_jsb jsb;
	struct jrnl tmp;
	int rc;

	rc = jsb_read(d, sb, &jsb);
	if (rc && rc != -CSVFS_EJOURNAL)
		jsb.start_tid = 1;
	memset(&tmp, 0, sizeof(tmp));
	tmp.dev = d;
	tmp.sb = *sb;
	tmp.jhead = 1;
	/* Every tid in the journal is below start_tid + journal_len. */
	return checkpoint(&tmp, jsb.start_tid + sb->journal_len + 1);
}

/* ---- open / close ---------------------------------------------------- */

int jrnl_open(struct dev *d, const struct csvfs_super *sb, int flags,
	      struct jrnl **out)
{
	struct csvfs_jsb jsb;
	struct jrnl *j;
	int rc;

	rc = jsb_read(d, sb, &jsb);
	if (rc)
		return rc;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->ht = calloc(1u << HASH_BITS, sizeof(*j->ht));
	if (!j->ht) {
		free(j);
		return -ENOMEM;
	}
	j->dev = d;
	j->sb = *sb;
	j->flags = flags;
	j->commit_ms = DEFAULT_COMMIT_MS;
	j->jstart = j->jhead = jsb.start;
	j->jstart_tid = jsb.start_tid;
	j->tid_running = jsb.start_tid;
	j->tid_durable = jsb.start_tid - 1;
	pthread_mutex_init(&j->commit_lock, NULL);
	pthread_mutex_init(&j->lock, NULL);
	pthread_mutex_init(&j->state_lock, NULL);
	pthread_mutex_init(&j->fence_lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	if (!(flags & (JRNL_RDONLY | JRNL_NO_THREAD))) {
		rc = pthread_create(&j->thread, NULL, commit_thread, j);
		if (rc) {
			jrnl_close(j);
			return -rc;
		}
		j->have_thread = 1;
	}
	*out = j;
	return 0;
}

int jrnl_close(struct jrnl *j)
{
	int rc = 0;

	if (!j)
		return 0;
	if (j->have_thread) {
		pthread_mutex_lock(&j->state_lock);
		j->stop = 1;
		pthread_cond_broadcast(&j->cond);
		pthread_mutex_unlock(&j->state_lock);
		pthread_join(j->thread, NULL);
	}
	if (!(j->flags & JRNL_RDONLY)) {
		rc = jrnl_commit(j);
		if (!rc) {
			pthread_mutex_lock(&j->commit_lock);
			rc = checkpoint(j, j->tid_running);
			pthread_mutex_unlock(&j->commit_lock);
		}
	}
	while (j->lru_head)
		cache_remove(j, j->lru_head);
	free(j->ht);
	pthread_mutex_destroy(&j->commit_lock);
	pthread_mutex_destroy(&j->lock);
	pthread_mutex_destroy(&j->state_lock);
	pthread_mutex_destroy(&j->fence_lock);
	pthread_cond_destroy(&j->cond);
	free(j);
	return rc;
}

void jrnl_fence_epoch(struct jrnl *j, uint64_t epoch)
{
	pthread_mutex_lock(&j->fence_lock);
	j->fence_epoch = epoch;
	j->proof_ns = 0;
	j->fenced = 0;
	pthread_mutex_unlock(&j->fence_lock);
}

void jrnl_abandon(struct jrnl *j)
{
	pthread_mutex_lock(&j->fence_lock);
	j->fenced = 1;
	if (!j->fence_epoch)
		j->fence_epoch = UINT64_MAX;
	pthread_mutex_unlock(&j->fence_lock);
	set_error(j, -CSVFS_ESTALEEPOCH);
	/* A group being written finishes (or fails its next check) first. */
	pthread_mutex_lock(&j->commit_lock);
	pthread_mutex_unlock(&j->commit_lock);
}

void jrnl_get_stats(struct jrnl *j, struct jrnl_stats *st)
{
	pthread_mutex_lock(&j->lock);
	*st = j->st;
	pthread_mutex_unlock(&j->lock);
}
