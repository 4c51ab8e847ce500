/*
 * mds_sub: the coordinator's side of sub-block files (meta/subblk.h):
 * ALLOC with CSVFS_ALLOC_SMALL, the move of a growing file to large
 * blocks, trimming a sub-block run, and giving empty chunks back.
 *
 * Ahead. A file written in pieces (tar writes 10 KiB at a time without a
 * page cache) would ask for every piece; so a run that must grow is given
 * room ahead: its length is rounded up to a power of two units (at most
 * the threshold), in place when the units after it are free. A first run
 * is exact: a file the page cache writes back whole asks once, and gives
 * nothing back at close. What is still past EOF at the last close goes
 * back (mds_trim_ahead -> mds_sub_trim), so a closed file wastes less than
 * one unit; those units are dirty, so the allocator prefers clean ones.
 *
 * Moves. A run that must grow and cannot be extended in place, and a file
 * that outgrows CSVFS_SUB_MAX (promotion to a large block), get new space;
 * the data is copied on the device and flushed, then, in the same
 * operation, the inode points at the new space and the old run is freed
 * with its dirty bits set (ondisk.h): one transaction switches the file,
 * and a crash before it commits leaves the file on its old run, intact.
 * The requesting node is the file's writer (single-writer ownership;
 * multi-writer files never use sub-blocks) and holds its own writes back
 * while it asks (fs/data.c), so no write lands on the old run after the
 * copy. Other nodes that cached the map are told through the inode's
 * invalidation like for any change of the inode.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "meta/alloc.h"
#include "meta/dev.h"
#include "meta/inode.h"
#include "meta/jrnl.h"
#include "meta/mds/mds_i.h"
#include "meta/ondisk.h"
#include "meta/subblk.h"

#define COPY_MAX	(1u << 20)

static uint64_t sub_max(const struct mds *m)
{
	return CSVFS_SUB_MAX(m->sb.block_shift);
}

static uint32_t units_for(uint64_t bytes)
{
	return (uint32_t)((bytes + CSVFS_SUB_UNIT - 1) / CSVFS_SUB_UNIT);
}

int mds_sub_eligible(const struct mds *m, const struct csvfs_inode *in,
		     uint64_t end)
{
	struct csvfs_extent e;

	if (end == 0 || end > sub_max(m) || in->size > sub_max(m) ||
	    (in->flags & CSVFS_IFL_MULTIWRITER) || in->reserve_blocks)
		return 0;
	if (in->flags & CSVFS_IFL_INLINE)
		return 1;
	if (in->flags & CSVFS_IFL_EXTBLOCKS)
		return 0;
	return in->nextents == 0 || subblk_inode_run(in, &e);
}

/*
 * Every write of the coordinator outside the journal first proves that
 * the epoch is still its own (csvfs/fencing.h, meta/jrnl.c): a replaced
 * coordinator writes nothing into units another one may have reused.
 */
static int fenced_pwrite(struct mds *m, const void *buf, size_t len,
			 uint64_t off)
{
	int rc = jrnl_fence_check(m->j);

	return rc ? rc : dev_pwrite(m->dev, buf, len, off);
}

static int fenced_zero(struct mds *m, uint64_t off, uint64_t len)
{
	int rc = jrnl_fence_check(m->j);

	return rc ? rc : dev_zero_bytes(m->dev, off, len);
}

/* Zeroes dirty units, durably before the operation commits. */
static int zero_units(struct mds_req *r, uint64_t mblk, uint32_t n)
{
	int rc = fenced_zero(r->m, mblk * CSVFS_SUB_UNIT,
				(uint64_t)n * CSVFS_SUB_UNIT);

	if (!rc)
		jop_order_data(r->op);
	return rc;
}

/* Copies len bytes (DEV_ALIGN multiple) on the device, then flushes. */
static int dev_copy(struct mds *m, uint64_t src, uint64_t dst, uint64_t len)
{
	uint64_t done = 0;
	uint8_t *buf;
	int rc = 0;

	buf = dev_alloc_buf(len < COPY_MAX ? (size_t)len : COPY_MAX);
	if (!buf)
		return -ENOMEM;
	while (!rc && done < len) {
		size_t n = len - done < COPY_MAX ? (size_t)(len - done) :
						   COPY_MAX;

		rc = dev_pread(m->dev, buf, n, src + done);
		if (!rc)
			rc = fenced_pwrite(m, buf, n, dst + done);
		done += n;
	}
	free(buf);
	return rc ? rc : dev_flush(m->dev);
}

/* need units rounded up to a power of two, within the threshold. */
static uint32_t ahead_units(const struct mds *m, uint32_t need)
{
	uint32_t max = units_for(sub_max(m)), n = 1;

	while (n < need)
		n <<= 1;
	return n > max ? (need > max ? need : max) : n;
}

static void store_run(struct csvfs_inode *in, uint64_t mblk, uint32_t n)
{
	struct csvfs_extent e;

	e.lblk = 0;
	e.pblk = mblk;
	e.len = n;
	e.flags = CSVFS_EXT_SUB;
	memset(in->body, 0, sizeof(in->body));
	od_extent_encode(&e, in->body);
	in->flags &= ~(uint32_t)(CSVFS_IFL_INLINE | CSVFS_IFL_EXTBLOCKS);
	in->nextents = 1;
}

int mds_sub_untail(struct mds_req *r, struct csvfs_inode *in)
{
	struct mds *m = r->m;
	struct subblk *s = alloc_sub(m->a);
	struct csvfs_extent e;
	uint64_t t, mblk;
	uint8_t *buf;
	int dirty = 0, moved = 0, rc;

	if (!(in->flags & CSVFS_IFL_TAIL))
		return 0;
	if (!subblk_inode_run(in, &e) || !(t = subblk_tail_len(in, &e)) ||
	    t > CSVFS_TAIL_MAX)
		return -CSVFS_ECORRUPT;
	r->alloc_touched = 1;
	buf = dev_alloc_buf(CSVFS_SUB_UNIT);
	if (!buf)
		return -ENOMEM;
	memset(buf, 0, CSVFS_SUB_UNIT);
	subblk_tail_read(in, 0, buf, (uint32_t)t);
	/* One more unit behind the run, or the run moves with it. */
	mblk = e.pblk;
	rc = subblk_extend(s, r->op, e.pblk, e.len, 1, &dirty);
	if (rc == -ENOSPC) {
		rc = subblk_alloc(s, m->a, r->op, e.len + 1, &mblk, &dirty);
		if (!rc)
			rc = dev_copy(m, e.pblk * CSVFS_SUB_UNIT,
				      mblk * CSVFS_SUB_UNIT,
				      (uint64_t)e.len * CSVFS_SUB_UNIT);
		moved = !rc;
	}
	/* The whole unit is written: no dirty bytes survive in it. */
	if (!rc)
		rc = fenced_pwrite(m, buf, CSVFS_SUB_UNIT,
				(mblk + e.len) * CSVFS_SUB_UNIT);
	/* Durable before the transaction that points the file at it. */
	if (!rc)
		rc = dev_flush(m->dev);
	if (!rc && moved)
		rc = subblk_free(s, r->op, e.pblk, e.len);
	free(buf);
	if (rc)
		return rc;
	in->flags &= ~(uint32_t)CSVFS_IFL_TAIL;
	subblk_tail_clear(in);
	store_run(in, mblk, e.len + 1);
	r->sync = 1;
	return 0;
}

int mds_sub_tail_size(struct mds_req *r, struct csvfs_inode *in,
		      uint64_t size)
{
	static const uint8_t zero[CSVFS_TAIL_MAX];
	struct csvfs_extent e;
	uint64_t run;

	if (!(in->flags & CSVFS_IFL_TAIL))
		return 0;
	if (!subblk_inode_run(in, &e))
		return -CSVFS_ECORRUPT;
	run = (uint64_t)e.len * CSVFS_SUB_UNIT;
	if (size > run + CSVFS_TAIL_MAX)
		return mds_sub_untail(r, in);
	if (size > run) {
		/* Past the new size the area is zero (it already is when
		 * the file grows: the area past a tail always is). */
		if (size < in->size)
			subblk_tail_write(in, (uint32_t)(size - run), zero,
					  (uint32_t)(CSVFS_TAIL_MAX -
						     (size - run)));
		return 0;
	}
	in->flags &= ~(uint32_t)CSVFS_IFL_TAIL;
	subblk_tail_clear(in);
	return 0;
}

int mds_sub_pack_tail(struct mds_req *r, struct csvfs_inode *in)
{
	struct mds *m = r->m;
	struct csvfs_extent e;
	uint64_t t, last;
	uint8_t *buf;
	int rc;

	if (!S_ISREG(in->mode) || !subblk_inode_run(in, &e) ||
	    (in->flags & (CSVFS_IFL_TAIL | CSVFS_IFL_MULTIWRITER |
			  CSVFS_IFL_XBLOB)) || in->xattr_len ||
	    in->reserve_blocks || e.len < 2 || in->nlink == 0 ||
	    units_for(in->size) != e.len)
		return 0;
	t = in->size - (uint64_t)(e.len - 1) * CSVFS_SUB_UNIT;
	if (t == CSVFS_SUB_UNIT || t > CSVFS_TAIL_MAX)
		return 0;
	last = e.pblk + e.len - 1;
	buf = dev_alloc_buf(CSVFS_SUB_UNIT);
	if (!buf)
		return -ENOMEM;
	rc = dev_pread(m->dev, buf, CSVFS_SUB_UNIT, last * CSVFS_SUB_UNIT);
	/* The unit leaves the file dirty: zeroed before it is handed out. */
	if (!rc) {
		r->alloc_touched = 1;
		rc = subblk_free(alloc_sub(m->a), r->op, last, 1);
	}
	if (!rc) {
		store_run(in, e.pblk, e.len - 1);
		subblk_tail_clear(in);
		subblk_tail_write(in, 0, buf, (uint32_t)t);
		in->flags |= CSVFS_IFL_TAIL;
	}
	free(buf);
	return rc ? rc : 1;
}

int mds_sub_alloc(struct mds_req *r, struct csvfs_inode *in, uint64_t end)
{
	struct mds *m = r->m;
	struct subblk *s = alloc_sub(m->a);
	struct csvfs_extent old;
	int had = subblk_inode_run(in, &old), dirty = 0, rc;
	uint32_t need = units_for(end);
	uint64_t mblk;
	uint8_t *buf;

	if (in->flags & CSVFS_IFL_TAIL) {
		rc = mds_sub_untail(r, in);
		if (rc)
			return rc;
		had = subblk_inode_run(in, &old);
	}
	if ((in->flags & CSVFS_IFL_INLINE) && units_for(in->size) > need)
		need = units_for(in->size);
	if (had && need <= old.len)
		return 0;
	r->alloc_touched = 1;
	if (had) {
		uint32_t want = ahead_units(m, need);

		rc = subblk_extend(s, r->op, old.pblk, old.len,
				   want - old.len, &dirty);
		if (rc == -ENOSPC && want > need) {
			want = need;
			rc = subblk_extend(s, r->op, old.pblk, old.len,
					   want - old.len, &dirty);
		}
		if (!rc && dirty)
			rc = zero_units(r, old.pblk + old.len, want - old.len);
		if (!rc)
			store_run(in, old.pblk, want);
		if (rc != -ENOSPC)
			return rc;
	}
	/*
	 * A first run is exact (a file written whole, as the page cache
	 * writes it back, asks once); a run that must grow gets room ahead.
	 */
	if (had)
		need = ahead_units(m, need);
	rc = subblk_alloc(s, m->a, r->op, need, &mblk, &dirty);
	if (!rc && dirty)
		rc = zero_units(r, mblk, need);
	if (rc)
		return rc;
	if ((in->flags & CSVFS_IFL_INLINE) && in->size) {
		size_t len = (size_t)units_for(in->size) * CSVFS_SUB_UNIT;

		buf = dev_alloc_buf(len);
		if (!buf)
			return -ENOMEM;
		memset(buf, 0, len);
		ino_inline_read(in, 0, buf, in->size < CSVFS_INLINE_XMAX ?
				(uint32_t)in->size : CSVFS_INLINE_XMAX);
		/* The data may have filled xattr[] (no records then). */
		if (in->size > CSVFS_INLINE_MAX)
			memset(in->xattr, 0, sizeof(in->xattr));
		rc = fenced_pwrite(m, buf, len, mblk * CSVFS_SUB_UNIT);
		free(buf);
		/* Durable before the transaction that points the file at it. */
		if (!rc)
			rc = dev_flush(m->dev);
		r->sync = 1;
	} else if (had) {
		rc = dev_copy(m, old.pblk * CSVFS_SUB_UNIT,
			      mblk * CSVFS_SUB_UNIT,
			      (uint64_t)old.len * CSVFS_SUB_UNIT);
		if (!rc)
			rc = subblk_free(s, r->op, old.pblk, old.len);
		r->sync = 1;
	}
	if (!rc)
		store_run(in, mblk, need);
	return rc;
}

int mds_sub_promote(struct mds_req *r, struct csvfs_inode *in,
		    struct extmap *em)
{
	struct mds *m = r->m;
	struct csvfs_extent old;
	uint64_t start, n;
	int rc;

	if (em->n != 1 || !(em->e[0].flags & CSVFS_EXT_SUB))
		return 0;
	/* A tail goes back into the run first: the run moves whole. */
	if (in->flags & CSVFS_IFL_TAIL) {
		rc = mds_sub_untail(r, in);
		if (rc)
			return rc;
		if (!subblk_inode_run(in, &em->e[0]))
			return -CSVFS_ECORRUPT;
	}
	old = em->e[0];
	r->alloc_touched = 1;
	rc = alloc_blocks_own(m->a, r->op, 0, 1, 1,
			      mds_resv_held(in->reserve_blocks, in->nblocks),
			      &start, &n);
	if (rc)
		return rc;
	/* The rest of the new block is zero: free large blocks are. */
	rc = dev_copy(m, old.pblk * CSVFS_SUB_UNIT, start * m->bsize,
		      (uint64_t)old.len * CSVFS_SUB_UNIT);
	if (!rc)
		rc = subblk_free(alloc_sub(m->a), r->op, old.pblk, old.len);
	if (rc)
		return rc;
	em->e[0].lblk = 0;
	em->e[0].pblk = start;
	em->e[0].len = 1;
	em->e[0].flags = 0;
	r->sync = 1;
	return 0;
}

int mds_sub_promote_inode(struct mds_req *r, uint64_t ino,
			  struct csvfs_inode *in)
{
	struct csvfs_extent e;
	struct mds_open *o;
	struct extmap em;
	uint32_t i;
	int rc;

	if (!subblk_inode_run(in, &e))
		return 0;
	/*
	 * The asking node holds its own I/O of the file back while it asks
	 * (fs/data.c data_set_iflags); another node's I/O could still land
	 * on the old run.
	 */
	o = mds_open_find(r->m, ino, 0);
	for (i = 0; o && i < o->nnodes; i++) {
		if (o->per[i].nopen && o->per[i].node != r->hdr->node_id) {
			log_ino_at(LOG_NOTICE, ino, "in sub-blocks and open on "
				   "node %u: close it there before making it "
				   "multi-writer", o->per[i].node);
			return -EBUSY;
		}
	}
	rc = ext_load(r->op, ino, in, &em);
	if (rc)
		return rc;
	rc = mds_sub_promote(r, in, &em);
	if (!rc)
		rc = ext_store(r->op, r->m->a, ino, in, &em);
	if (!rc)
		rc = mds_set_nblocks(r, in, ext_blocks(&em));
	ext_free(&em);
	return rc;
}

int mds_sub_trim(struct mds_req *r, struct csvfs_inode *in, int free_all,
		 int zero_tail)
{
	struct mds *m = r->m;
	struct csvfs_extent e;
	uint32_t keep;
	int rc = 0;

	if (!subblk_inode_run(in, &e))
		return 0;
	/* A tail still inside the size stays (mds_sub_tail_size cut it). */
	if ((in->flags & CSVFS_IFL_TAIL) && !free_all &&
	    subblk_tail_len(in, &e))
		return 0;
	if (in->flags & CSVFS_IFL_TAIL) {
		in->flags &= ~(uint32_t)CSVFS_IFL_TAIL;
		subblk_tail_clear(in);
	}
	keep = free_all ? 0 : units_for(in->size);
	if (keep > e.len)
		keep = e.len;
	/* A kept file: the bytes past EOF in its last unit read 0. */
	if (zero_tail && keep && in->size % CSVFS_SUB_UNIT) {
		rc = fenced_zero(m, e.pblk * CSVFS_SUB_UNIT + in->size,
				    CSVFS_SUB_UNIT -
				    in->size % CSVFS_SUB_UNIT);
		if (!rc)
			rc = dev_flush(m->dev);
	}
	if (rc || keep == e.len)
		return rc;
	r->alloc_touched = 1;
	rc = subblk_free(alloc_sub(m->a), r->op, e.pblk + keep, e.len - keep);
	if (rc)
		return rc;
	if (keep) {
		store_run(in, e.pblk, keep);
	} else {
		memset(in->body, 0, sizeof(in->body));
		in->nextents = 0;
	}
	return 0;
}

int mds_sub_zero(struct mds *m, const struct csvfs_extent *e, uint64_t off,
		 uint64_t len)
{
	uint64_t run = (uint64_t)e->len * CSVFS_SUB_UNIT;

	if (off >= run)
		return 0;
	if (len > run - off)
		len = run - off;
	return fenced_zero(m, e->pblk * CSVFS_SUB_UNIT + off, len);
}

/* ---- giving empty chunks back -------------------------------------------- */

/* Step 2 of a release (meta/subblk.h), no metadata lock held. */
static int release_finish(struct mds *m, uint64_t blk)
{
	struct jop op;
	int rc;

	/* No transaction left that could replay an image onto blk. */
	rc = jrnl_checkpoint(m->j);
	if (!rc)
		rc = fenced_zero(m, blk * m->bsize, m->bsize);
	if (!rc)
		rc = dev_flush(m->dev);
	if (rc)
		return rc;
	jop_begin(m->j, &op);
	rc = subblk_release_done(m->a, &op, blk);
	jop_end(&op, rc);
	if (rc) {
		jop_begin(m->j, &op);
		alloc_resync(m->a, &op);
		jop_end(&op, 0);
	}
	return rc;
}

int mds_chunks_release(struct mds *m, int all)
{
	unsigned spare = all || m->o.chunk_no_spare ? 0 : 1;
	struct jop op;
	uint64_t blk;
	int rc, n = 0;

	for (;;) {
		jop_begin(m->j, &op);
		rc = alloc_take_empty_chunk(m->a, &op, spare, &blk);
		if (rc == -ENOENT)
			rc = subblk_take_empty(alloc_sub(m->a), &op, spare,
					       &blk);
		jop_end(&op, rc);
		if (rc == -ENOENT || rc == -EBUSY)
			break;
		if (!rc)
			rc = release_finish(m, blk);
		if (rc) {
			log_err("chunk %llu: giving it back failed: %s",
				(unsigned long long)blk, csvfs_strerror(rc));
			jop_begin(m->j, &op);
			alloc_resync(m->a, &op);
			jop_end(&op, 0);
			return rc;
		}
		n++;
	}
	if (n)
		log_info("volume: gave %d empty chunks back to the free space",
			 n);
	return n;
}

int mds_sub_startup(struct mds *m)
{
	struct jop op;
	uint64_t blk;
	int rc;

	jop_begin(m->j, &op);
	blk = subblk_release_pending(&op);
	jop_end(&op, 0);
	if (blk) {
		/* Replay emptied the journal: finish the release. */
		log_info("chunk %llu: finishing its release",
			 (unsigned long long)blk);
		rc = release_finish(m, blk);
		if (rc)
			return rc;
	}
	rc = mds_chunks_release(m, 0);
	return rc < 0 ? rc : 0;
}
