/*
 * mds_space: the coordinator's space management: per-file reservations,
 * eager preallocation's bookkeeping, the low-space warning, the start-up
 * recount of provisioned and held-back space, and online grow.
 *
 * Reservations. A file's inode carries reserve_blocks, a guaranteed
 * minimum. The volume holds back, for every file, max(0, reserve_blocks -
 * nblocks) blocks (its unused reservation); the sum is journaled in the
 * volume state block (reserved_blocks) in the same operation as every
 * change of a file's nblocks or reserve_blocks, so it is right after any
 * crash, and the allocator keeps it (alloc_set_reserved) from general
 * allocation. A file may allocate into its own unused reservation
 * (alloc_blocks_own) even when nothing else is free. Setting a
 * reservation that needs more than the space not yet held back fails with
 * -ENOSPC. Metadata blocks (new meta chunks) may still use held-back
 * space: they are few, and a metadata failure would hurt everyone.
 * Start-up recounts the sum from the inodes and corrects the state block
 * (with a log line) if it disagrees; fsck checks it too.
 *
 * Online grow (GROW), after the LUN or image file was enlarged:
 *   1. zero the new large blocks on the device and flush (free blocks read
 *      as zeroes, see include/csvfs/ondisk.h), before anything may hand
 *      them out;
 *   2. one journaled transaction: the bitmap describes the new size (the
 *      last block's past-the-end bits cleared, new bitmap blocks made);
 *      wait for its commit. The superblock still has the old size, and
 *      everything reads the bitmap only up to total_blocks, so a crash
 *      here leaves a volume of the old size (fsck accepts the clear bits
 *      past the end that lie on the device);
 *   3. the superblock, then its backup, with the new total_blocks and
 *      bitmap_len (fmt_write_super flushes); a crash between the two
 *      leaves a backup that is smaller than the primary, which fsck and
 *      the next coordinator start accept and rewrite;
 *   4. the allocator takes the new blocks (alloc_grow_done).
 * Other nodes learn the new size lazily: their device layer re-reads the
 * device size when an extent points past the end it knew (dev.c), and
 * a coordinator starting elsewhere reads the superblock afresh.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "meta/alloc.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "meta/inode.h"
#include "meta/jrnl.h"
#include "meta/mds/mds_i.h"
#include "meta/ondisk.h"
#include "meta/subblk.h"

#define LOWSPACE_DEFAULT_PCT	10

uint64_t mds_resv_held(uint64_t reserve_blocks, uint64_t nblocks)
{
	return reserve_blocks > nblocks ? reserve_blocks - nblocks : 0;
}

/* Adds delta to the journaled sum of held-back blocks and the allocator. */
static int resv_add(struct mds_req *r, int64_t delta)
{
	struct csvfs_vstate vs;
	struct mbuf *mb;
	int rc;

	if (delta == 0)
		return 0;
	rc = jop_read(r->op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &mb);
	if (!rc)
		rc = jop_write(r->op, mb);
	if (rc)
		return rc;
	od_vstate_decode(mb->data, &vs);
	if (delta < 0 && (uint64_t)-delta > vs.reserved_blocks)
		vs.reserved_blocks = 0;
	else
		vs.reserved_blocks += (uint64_t)delta;
	od_vstate_encode(&vs, mb->data);
	r->alloc_touched = 1;
	alloc_set_reserved(r->m->a, vs.reserved_blocks);
	return 0;
}

int mds_resv_update(struct mds_req *r, struct csvfs_inode *in,
		    uint64_t reserve_blocks, uint64_t nblocks)
{
	uint64_t before = mds_resv_held(in->reserve_blocks, in->nblocks);
	uint64_t after = mds_resv_held(reserve_blocks, nblocks);

	in->reserve_blocks = reserve_blocks;
	in->nblocks = nblocks;
	return resv_add(r, (int64_t)after - (int64_t)before);
}

int mds_set_nblocks(struct mds_req *r, struct csvfs_inode *in,
		    uint64_t nblocks)
{
	return mds_resv_update(r, in, in->reserve_blocks, nblocks);
}

void mds_space_resync(struct mds *m, struct jop *op)
{
	struct csvfs_vstate vs;
	struct mbuf *mb;

	if (jop_read(op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &mb))
		return;
	od_vstate_decode(mb->data, &vs);
	alloc_set_reserved(m->a, vs.reserved_blocks);
}

/* ---- low-space warning ---------------------------------------------------- */

/* The volume's name for log lines: its label, else its UUID. */
static const char *vol_name(struct mds *m, char buf[OD_UUID_STR_LEN])
{
	if (m->sb.label[0])
		return m->sb.label;
	od_uuid_str(m->sb.hdr.uuid, buf);
	return buf;
}

void mds_space_check(struct mds *m)
{
	struct alloc_stats st;
	char name[OD_UUID_STR_LEN];
	uint64_t avail, pct;
	int low;

	if (m->o.lowspace_pct < 0)
		return;
	pct = m->o.lowspace_pct ? (uint64_t)m->o.lowspace_pct :
				  LOWSPACE_DEFAULT_PCT;
	alloc_get_stats(m->a, &st);
	if (!st.total_blocks)
		return;
	avail = st.free_blocks > st.reserved_blocks ?
		st.free_blocks - st.reserved_blocks : 0;
	low = avail * 100 < pct * st.total_blocks;
	if (low == m->lowspace)
		return;
	m->lowspace = low;
	if (low)
		log_warn("volume \"%s\": free space low: %llu of "
			 "%llu blocks (%llu%%) free, below the %llu%% "
			 "threshold", vol_name(m, name),
			 (unsigned long long)avail,
			 (unsigned long long)st.total_blocks,
			 (unsigned long long)(avail * 100 / st.total_blocks),
			 (unsigned long long)pct);
	else
		log_notice("volume \"%s\": free space recovered: "
			   "%llu of %llu blocks (%llu%%) free, at or above the "
			   "%llu%% threshold", vol_name(m, name),
			   (unsigned long long)avail,
			   (unsigned long long)st.total_blocks,
			   (unsigned long long)(avail * 100 / st.total_blocks),
			   (unsigned long long)pct);
}

/* ---- start-up recount ----------------------------------------------------- */

/* Adds the inodes of the meta chunk at blk (read raw) to the sums. */
static int scan_chunk(struct mds *m, uint8_t *buf, uint64_t blk,
		      uint64_t *next, uint64_t *prov, uint64_t *held)
{
	struct csvfs_chunk ch;
	struct csvfs_inode in;
	uint64_t mblk0 = blk << (m->sb.block_shift - CSVFS_MBLK_SHIFT), i;
	int rc;

	rc = dev_pread(m->dev, buf, m->bsize, blk * m->bsize);
	if (!rc)
		rc = od_check(buf, CSVFS_MAGIC_CHUNK, mblk0, m->sb.hdr.uuid);
	if (rc)
		return rc;
	od_chunk_decode(buf, &ch);
	if (ch.nmblks > m->bsize / CSVFS_MBLK_SIZE)
		return -CSVFS_ECORRUPT;
	for (i = 1; i < ch.nmblks; i++) {
		const uint8_t *raw = buf + i * CSVFS_MBLK_SIZE;

		if (!((ch.used[i / 8] >> (i % 8)) & 1) ||
		    od_get32(raw) != CSVFS_MAGIC_INODE ||
		    od_check(raw, CSVFS_MAGIC_INODE, mblk0 + i,
			     m->sb.hdr.uuid))
			continue;
		od_inode_decode(raw, &in);
		if (!S_ISREG(in.mode))
			continue;
		*prov += in.size;
		*held += mds_resv_held(in.reserve_blocks, in.nblocks);
	}
	*next = ch.next;
	return 0;
}

int mds_space_load(struct mds *m)
{
	uint64_t blk = m->sb.first_chunk, prov = 0, held = 0, n = 0;
	struct csvfs_vstate vs;
	uint8_t *buf;
	struct mbuf *mb;
	struct jop op;
	int rc = 0;

	/* Right after replay, before any change: the device is the truth. */
	buf = dev_alloc_buf(m->bsize);
	if (!buf)
		return -ENOMEM;
	while (blk && !rc) {
		if (blk < m->sb.data_start || blk >= m->sb.total_blocks ||
		    n++ > m->sb.total_blocks) {
			rc = -CSVFS_ECORRUPT;
			break;
		}
		rc = scan_chunk(m, buf, blk, &blk, &prov, &held);
	}
	free(buf);
	if (rc) {
		log_err("counting provisioned and reserved space: %s",
			csvfs_strerror(rc));
		return rc;
	}
	m->provisioned = prov;
	jop_begin(m->j, &op);
	rc = jop_read(&op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &mb);
	if (!rc) {
		od_vstate_decode(mb->data, &vs);
		if (vs.reserved_blocks != held) {
			log_warn("volume state: %llu blocks held "
				 "back for reservations, the files need %llu: "
				 "corrected",
				 (unsigned long long) vs.reserved_blocks,
				 (unsigned long long)held);
			rc = jop_write(&op, mb);
			if (!rc) {
				vs.reserved_blocks = held;
				od_vstate_encode(&vs, mb->data);
			}
		}
	}
	if (!rc) {
		alloc_set_reserved(m->a, held);
		mds_space_check(m);
	}
	jop_end(&op, rc);
	return rc;
}

/* ---- SET_RESERVE ------------------------------------------------------------ */

int mds_h_set_reserve(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in), bytes = msg_get_u64(&r->in);
	struct mds *m = r->m;
	struct alloc_stats st;
	struct csvfs_inode in;
	uint64_t nb, before, after, avail;
	struct mbuf *mb;
	int rc;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	rc = mds_get(r, ino, &in, &mb);
	if (rc)
		return rc;
	if (S_ISDIR(in.mode))
		return -EISDIR;
	if (!S_ISREG(in.mode))
		return -EINVAL;
	nb = bytes / m->bsize + (bytes % m->bsize != 0);
	before = mds_resv_held(in.reserve_blocks, in.nblocks);
	after = mds_resv_held(nb, in.nblocks);
	alloc_get_stats(m->a, &st);
	avail = st.free_blocks > st.reserved_blocks ?
		st.free_blocks - st.reserved_blocks : 0;
	if (after > before && after - before > avail) {
		log_ino_at(LOG_WARNING, ino, "reservation of %llu blocks "
			   "refused: it needs %llu more blocks held back, only "
			   "%llu are free and not reserved",
			   (unsigned long long)nb,
			   (unsigned long long)(after - before),
			   (unsigned long long)avail);
		return -ENOSPC;
	}
	rc = mds_resv_update(r, &in, nb, in.nblocks);
	if (rc)
		return rc;
	ino_touch(&in, 0);
	rc = ino_put(r->op, mb, &in);
	if (!rc)
		mds_put_attr(r, ino, &in);
	return rc;
}

/* ---- GROW ------------------------------------------------------------------- */

static int grow_log(int rc, const char *what)
{
	log_err("grow: %s: %s", what, csvfs_strerror(rc));
	return rc;
}

/*
 * New bitmap blocks one step may create: one operation changes at most
 * JOP_MAX_BLOCKS blocks, so a large grow runs as several steps, each of
 * them a complete grow (a crash leaves the volume at a step's size).
 */
#define GROW_STEP_BITMAP	512

/* Steps 1 to 4 of the comment at the top, from old to total blocks. */
static int grow_step(struct mds *m, uint64_t old, uint64_t total)
{
	struct csvfs_super sb;
	struct jop op;
	uint64_t tid;
	int rc;

	/*
	 * 1: the new blocks read as zeroes, durably; without the metadata
	 * lock (BLKZEROOUT of a large LUN takes a while): nothing but this
	 * grow knows about them yet.
	 */
	rc = jrnl_fence_check(m->j);
	if (!rc)
		rc = dev_zero(m->dev, old * m->bsize, (total - old) * m->bsize);
	if (!rc)
		rc = dev_flush(m->dev);
	if (rc)
		return grow_log(rc, "zeroing the new blocks");
	/* 2: the bitmap covers them (still unused by the allocator). */
	jop_begin(m->j, &op);
	rc = alloc_grow_bitmap(m->a, &op, total);
	tid = jop_end(&op, rc);
	if (!rc)
		rc = tid ? jrnl_wait(m->j, tid) : jrnl_commit(m->j);
	if (rc)
		return grow_log(rc, "committing the bitmap");
	/* 3 and 4, under the metadata lock. */
	jop_begin(m->j, &op);
	sb = m->sb;
	sb.total_blocks = total;
	sb.bitmap_len = (total + CSVFS_BITMAP_BITS - 1) / CSVFS_BITMAP_BITS;
	/* The primary durable first, then the backup too. */
	rc = jrnl_fence_check(m->j);
	if (!rc)
		rc = fmt_write_super(m->dev, &sb, 0);
	if (!rc)
		rc = fmt_write_super(m->dev, &sb, 1);
	if (!rc) {
		m->sb = sb;
		alloc_grow_done(m->a, total);
		mds_space_check(m);
	}
	jop_end(&op, 0);
	return rc ? grow_log(rc, "writing the superblock") : 0;
}

int mds_grow(struct mds *m, const struct csvfs_msg_hdr *hdr,
	     const uint8_t *payload, uint8_t **reply, size_t *reply_len)
{
	char name[OD_UUID_STR_LEN];
	struct msg_wr out;
	struct jop op;
	uint64_t old, total, step;
	int rc, mine = 0;

	(void)payload;
	if (hdr->length)
		return -EPROTO;
	if (jrnl_error(m->j))
		return -EIO;
	rc = dev_refresh_size(m->dev);
	if (rc)
		return grow_log(rc, "reading the device size");
	jop_begin(m->j, &op);
	old = m->sb.total_blocks;
	total = m->dev->size >> m->sb.block_shift;
	if (m->growing) {
		rc = -EBUSY;
	} else if (total > alloc_max_blocks(m->a)) {
		log_err("grow: the device holds %llu blocks, but the "
			"allocation bitmap has room for %llu blocks only "
			"(bitmap region of %llu mblks at mkfs)",
			(unsigned long long)total,
			(unsigned long long)alloc_max_blocks(m->a),
			(unsigned long long)(alloc_max_blocks(m->a) / CSVFS_BITMAP_BITS));
		rc = -EFBIG;
	} else if (total > old) {
		m->growing = mine = 1;
	}
	jop_end(&op, 0);
	while (!rc && m->sb.total_blocks < total) {
		step = (m->sb.bitmap_len + GROW_STEP_BITMAP) *
		       CSVFS_BITMAP_BITS;
		rc = grow_step(m, m->sb.total_blocks,
			       step < total ? step : total);
	}
	if (mine && m->sb.total_blocks > old)
		log_notice("volume \"%s\" grown from %llu to %llu "
			   "blocks of %llu MiB", vol_name(m, name),
			   (unsigned long long)old,
			   (unsigned long long)m->sb.total_blocks,
			   (unsigned long long)(m->bsize >> 20));
	if (rc)
		goto out;
	msg_wr_init(&out);
	msg_put_u64(&out, old);
	msg_put_u64(&out, m->sb.total_blocks);
	if (out.err) {
		rc = out.err;
		msg_wr_free(&out);
		goto out;
	}
	*reply = out.p;
	*reply_len = out.len;
out:
	if (mine) {
		jop_begin(m->j, &op);
		m->growing = 0;
		jop_end(&op, 0);
	}
	return rc;
}

int mds_h_statfs(struct mds_req *r)
{
	struct alloc_stats st;
	struct subblk_stats ss;
	uint64_t mpb = r->m->bsize / CSVFS_MBLK_SIZE, ffree, free4k, resv4k;
	uint64_t data4k;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	alloc_get_stats(r->m->a, &st);
	subblk_get_stats(alloc_sub(r->m->a), &ss);
	/* Empty chunks (kept as spares) are free inodes too: they go back
	 * to the free space when it runs out. */
	ffree = st.mblks_free + (st.free_blocks + ss.chunks_empty) * mpb;
	/*
	 * Counted in 4 KiB units, so that sub-blocks count exactly: free is
	 * the free large blocks, the free units of sub chunks, the headers of
	 * empty chunks (they go back on ENOSPC) and the free metadata blocks
	 * of meta chunks (an inode, a directory block, an inline file); used
	 * is everything else. Available is what file data can get: not the
	 * free metadata blocks, not the reservations.
	 */
	data4k = st.free_blocks * mpb + ss.units_free + ss.chunks_empty +
		 st.chunks_empty;
	free4k = data4k + st.mblks_free;
	resv4k = st.reserved_blocks * mpb;
	msg_put_u32(&r->out, CSVFS_MBLK_SIZE);
	msg_put_u64(&r->out, st.total_blocks * mpb);
	msg_put_u64(&r->out, free4k);
	msg_put_u64(&r->out, data4k > resv4k ? data4k - resv4k : 0);
	msg_put_u64(&r->out, st.mblks_used + ffree);
	msg_put_u64(&r->out, ffree);
	msg_put_u64(&r->out, resv4k);
	msg_put_u64(&r->out, r->m->provisioned);
	return 0;
}
