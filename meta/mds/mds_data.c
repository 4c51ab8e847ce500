/*
 * mds_data: the coordinator's side of the data path: extent maps,
 * allocation, truncation, hole punching, inline data and SEEK_DATA.
 *
 * Stale data: blocks leave a file only after they have been zeroed on the
 * device and the zeroes flushed (mds_zero_runs), and a shrinking file is on
 * the orphan list with its new size durable before its tail is zeroed, so
 * a crash at any point leaves either the old blocks attached or zeroed
 * blocks, never another file's bytes. Startup recovery finishes what the
 * orphan list says was in progress.
 *
 * Allocation ahead: a sequential writer (CSVFS_ALLOC_AHEAD) gets as many
 * blocks again as the file already has, up to AHEAD_MAX bytes, marked
 * UNWRITTEN|AHEAD; what is still unwritten at the last close goes back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "lockd/lockd.h"
#include "meta/alloc.h"
#include "meta/dev.h"
#include "meta/dir.h"
#include "meta/inode.h"
#include "meta/jrnl.h"
#include "meta/mds/mds_i.h"
#include "meta/ondisk.h"
#include "meta/subblk.h"

#define AHEAD_MAX	(256ull << 20)
#define AHEAD_MIN	(8ull << 20)
#define GET_EXT_MAX	8192

static uint64_t blocks_for(const struct mds *m, uint64_t bytes)
{
	return (bytes + m->bsize - 1) / m->bsize;
}

static void put_extents(struct mds_req *r, const struct extmap *em,
			uint64_t lblk, uint64_t count, uint32_t max)
{
	size_t pos, i, n = 0, at;

	at = r->out.len;
	msg_put_u32(&r->out, 0);
	ext_find(em, lblk, &pos);
	for (i = pos; i < em->n && n < max && n < GET_EXT_MAX; i++) {
		struct csvfs_wext w;

		if (count && em->e[i].lblk >= lblk + count)
			break;
		w.lblk = em->e[i].lblk;
		w.pblk = em->e[i].pblk;
		w.len = em->e[i].len;
		w.flags = em->e[i].flags;
		msg_put_ext(&r->out, &w);
		n++;
	}
	if (!r->out.err)
		od_put32(r->out.p + at, (uint32_t)n);
}

static int get_reg(struct mds_req *r, uint64_t ino, struct csvfs_inode *in,
		   struct mbuf **mb)
{
	int rc = mds_get(r, ino, in, mb);

	if (!rc && S_ISDIR(in->mode))
		return -EISDIR;
	if (!rc && !S_ISREG(in->mode))
		return -EINVAL;
	return rc;
}

int mds_h_get_extents(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in), lblk = msg_get_u64(&r->in);
	uint64_t count = msg_get_u64(&r->in);
	uint32_t max = msg_get_u32(&r->in);
	struct csvfs_inode in;
	struct extmap em;
	int rc;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	rc = get_reg(r, ino, &in, NULL);
	if (!rc)
		rc = ext_load(r->op, ino, &in, &em);
	if (rc)
		return rc;
	put_extents(r, &em, lblk, count, max);
	ext_free(&em);
	return 0;
}

int mds_uninline(struct mds_req *r, uint64_t ino, struct csvfs_inode *in)
{
	struct mds *m = r->m;
	struct csvfs_extent e;
	struct extmap em;
	uint64_t start, n;
	uint8_t *buf;
	int rc;

	if (!(in->flags & CSVFS_IFL_INLINE))
		return 0;
	memset(&em, 0, sizeof(em));
	in->flags &= ~(uint32_t)CSVFS_IFL_INLINE;
	if (in->size == 0) {
		memset(in->body, 0, sizeof(in->body));
		in->nextents = 0;
		return 0;
	}
	r->alloc_touched = 1;
	rc = alloc_blocks_own(m->a, r->op, 0, 1, 1,
			      mds_resv_held(in->reserve_blocks, in->nblocks),
			      &start, &n);
	if (rc)
		return rc;
	buf = dev_alloc_buf(DEV_ALIGN);
	if (!buf)
		return -ENOMEM;
	memset(buf, 0, DEV_ALIGN);
	ino_inline_read(in, 0, buf, in->size < CSVFS_INLINE_XMAX ?
			(uint32_t)in->size : CSVFS_INLINE_XMAX);
	rc = jrnl_fence_check(m->j);
	if (!rc)
		rc = dev_pwrite(m->dev, buf, DEV_ALIGN, start * m->bsize);
	/* Durable before the transaction that points the file at it. */
	if (!rc)
		rc = dev_flush(m->dev);
	free(buf);
	if (rc)
		return rc;
	memset(in->body, 0, sizeof(in->body));
	if (in->size > CSVFS_INLINE_MAX)	/* data, no records, were there */
		memset(in->xattr, 0, sizeof(in->xattr));
	in->nextents = 0;
	e.lblk = 0;
	e.pblk = start;
	e.len = 1;
	e.flags = 0;
	rc = ext_insert(&em, &e);
	if (!rc)
		rc = ext_store(r->op, m->a, ino, in, &em);
	if (!rc)
		rc = mds_set_nblocks(r, in, ext_blocks(&em));
	ext_free(&em);
	r->sync = 1;
	return rc;
}

/*
 * Allocates the holes of [lblk, lblk+count) with the given extent flags;
 * the file may use its unused reservation (in->reserve_blocks).
 */
static int fill_holes(struct mds_req *r, const struct csvfs_inode *in,
		      struct extmap *em, uint64_t lblk, uint64_t count,
		      uint32_t flags, int best_effort)
{
	struct mds *m = r->m;
	uint64_t cur = lblk, end = lblk + count;
	int rc;

	r->alloc_touched = 1;
	while (cur < end) {
		size_t pos;
		long i = ext_find(em, cur, &pos);
		uint64_t hole_end = end, goal = 0, start, n;
		struct csvfs_extent e;

		if (i >= 0) {
			cur = em->e[i].lblk + em->e[i].len;
			continue;
		}
		if (pos < em->n && em->e[pos].lblk < hole_end)
			hole_end = em->e[pos].lblk;
		if (pos > 0)
			goal = em->e[pos - 1].pblk + em->e[pos - 1].len +
			       (cur - (em->e[pos - 1].lblk +
				       em->e[pos - 1].len));
		n = hole_end - cur;
		if (n > UINT32_MAX)
			n = UINT32_MAX;
		rc = alloc_blocks_own(m->a, r->op, goal, 1, n,
				      mds_resv_held(in->reserve_blocks,
						    ext_blocks(em)),
				      &start, &n);
		if (rc == -ENOSPC && best_effort)
			return 0;
		if (rc)
			return rc;
		e.lblk = cur;
		e.pblk = start;
		e.len = (uint32_t)n;
		e.flags = flags;
		rc = ext_insert(em, &e);
		if (rc)
			return rc;
		cur += n;
	}
	return 0;
}

/* ALLOC_SMALL of a file that may stay in sub-blocks (meta/mds_sub.c). */
static int alloc_small(struct mds_req *r, uint64_t ino, struct csvfs_inode *in,
		       struct mbuf *mb, uint64_t end, uint32_t max)
{
	struct extmap em;
	int rc;

	rc = mds_sub_alloc(r, in, end);
	if (!rc)
		rc = ino_put(r->op, mb, in);
	if (!rc)
		rc = ext_load(r->op, ino, in, &em);
	if (rc)
		return rc;
	mds_put_attr(r, ino, in);
	put_extents(r, &em, 0, 0, max);
	ext_free(&em);
	return 0;
}

int mds_h_alloc(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in), lblk = msg_get_u64(&r->in);
	uint64_t count = msg_get_u64(&r->in), ahead = 0, maxb;
	uint32_t flags = msg_get_u32(&r->in), max = msg_get_u32(&r->in);
	struct mds *m = r->m;
	struct csvfs_inode in;
	struct extmap em;
	struct mbuf *mb;
	int rc;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	if (flags & CSVFS_ALLOC_SMALL) {
		/* count is the byte end of the write (lblk 0). */
		if (lblk || count == 0)
			return -EINVAL;
		rc = get_reg(r, ino, &in, &mb);
		if (!rc && mds_sub_eligible(m, &in, count))
			return alloc_small(r, ino, &in, mb, count, max);
		if (rc)
			return rc;
		count = blocks_for(m, count);
	}
	maxb = m->sb.total_blocks;
	if (count == 0 || count > maxb || lblk > (UINT64_MAX >> 24) - count)
		return count == 0 ? -EINVAL : -EFBIG;
	rc = get_reg(r, ino, &in, &mb);
	if (!rc)
		rc = mds_uninline(r, ino, &in);
	if (!rc)
		rc = ext_load(r->op, ino, &in, &em);
	if (!rc && (rc = mds_sub_promote(r, &in, &em)))
		ext_free(&em);
	if (rc)
		return rc;
	rc = fill_holes(r, &in, &em, lblk, count, 0, 0);
	if (!rc && (flags & CSVFS_ALLOC_AHEAD)) {
		ahead = ext_blocks(&em);
		if (ahead < AHEAD_MIN / m->bsize)
			ahead = AHEAD_MIN / m->bsize;
		if (ahead > AHEAD_MAX / m->bsize)
			ahead = AHEAD_MAX / m->bsize;
		/* Only the holes right after the request. */
		{
			size_t pos;

			ext_find(&em, lblk + count, &pos);
			if (pos < em.n && em.e[pos].lblk < lblk + count + ahead)
				ahead = em.e[pos].lblk - (lblk + count);
		}
		if (ahead)
			rc = fill_holes(r, &in, &em, lblk + count, ahead,
					CSVFS_EXT_UNWRITTEN | CSVFS_EXT_AHEAD,
					1);
	}
	if (!rc)
		rc = ext_store(r->op, m->a, ino, &in, &em);
	if (!rc)
		rc = mds_set_nblocks(r, &in, ext_blocks(&em));
	if (!rc)
		rc = ino_put(r->op, mb, &in);
	if (!rc) {
		mds_put_attr(r, ino, &in);
		put_extents(r, &em, lblk, count + ahead, max);
	}
	ext_free(&em);
	return rc;
}

int mds_h_write_done(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in), size = msg_get_u64(&r->in);
	uint32_t mvalid = msg_get_u32(&r->in), nsec, n, i;
	int64_t sec;
	struct csvfs_inode in;
	struct extmap em;
	struct mbuf *mb;
	int rc;

	sec = (int64_t)msg_get_u64(&r->in);
	nsec = msg_get_u32(&r->in);
	n = msg_get_u32(&r->in);
	if (r->in.err || n > (r->in.len - r->in.off) / 16 ||
	    nsec >= 1000000000u)
		return -EPROTO;
	rc = get_reg(r, ino, &in, &mb);
	if (!rc)
		rc = mds_may_report(r, ino, &in);
	if (!rc)
		rc = ext_load(r->op, ino, &in, &em);
	if (rc)
		return rc;
	for (i = 0; i < n && !rc; i++) {
		uint64_t l = msg_get_u64(&r->in), c = msg_get_u64(&r->in);

		if (c > r->m->sb.total_blocks)
			rc = -EPROTO;
		else
			rc = ext_mark_written(&em, l, c);
	}
	if (!rc && msg_rd_end(&r->in))
		rc = -EPROTO;
	if (!rc && n)
		rc = ext_store(r->op, r->m->a, ino, &in, &em);
	ext_free(&em);
	if (rc)
		return rc;
	if (size > in.size) {
		if (in.flags & CSVFS_IFL_INLINE && size > ino_inline_cap(&in))
			return -CSVFS_ECORRUPT;
		r->m->provisioned += size - in.size;
		in.size = size;
	}
	if (mvalid) {
		in.mtime_sec = (uint64_t)sec;
		in.mtime_nsec = nsec;
		in.ctime_sec = (uint64_t)sec;
		in.ctime_nsec = nsec;
	}
	rc = ino_put(r->op, mb, &in);
	if (!rc)
		mds_put_attr(r, ino, &in);
	return rc;
}

/*
 * Takes the blocks of [from, to) out of the map, zeroes them and frees
 * them. The caller stores the map and writes the inode.
 */
static int drop_range(struct mds_req *r, struct extmap *em, uint64_t from,
		      uint64_t count)
{
	struct ext_run *runs = NULL;
	size_t nruns = 0, i;
	int rc;

	rc = ext_remove(em, from, count, &runs, &nruns);
	if (!rc)
		rc = mds_zero_runs(r->m, runs, nruns);
	r->alloc_touched = 1;
	for (i = 0; !rc && i < nruns; i++)
		rc = alloc_free(r->m->a, r->op, runs[i].pblk, runs[i].len);
	free(runs);
	return rc;
}

int mds_set_size(struct mds_req *r, uint64_t ino, struct csvfs_inode *in,
		 struct mbuf *mb, uint64_t size)
{
	struct mds *m = r->m;
	uint64_t old = in->size;
	int rc;

	(void)mb;
	if (size > (m->sb.total_blocks << m->sb.block_shift) * 1024)
		return -EFBIG;
	rc = mds_sub_tail_size(r, in, size);
	if (rc)
		return rc;
	if (in->flags & CSVFS_IFL_INLINE) {
		if (size <= ino_inline_cap(in)) {
			if (size < old)
				ino_inline_write(in, (uint32_t)size, NULL,
						 (uint32_t)(old - size));
			in->size = size;
			return 0;
		}
		rc = mds_uninline(r, ino, in);
		if (rc)
			return rc;
	}
	if (size >= old) {
		m->provisioned += size - old;
		in->size = size;
		return 0;
	}
	/*
	 * Shrinking: the new size goes in first, with the file on the orphan
	 * list; after that commit, mds_reclaim zeroes the tail of the last
	 * block and the blocks past EOF and frees them (mds_trim). A crash in
	 * between leaves the old bytes past the durable EOF, and the startup
	 * orphan recovery finishes the job: no zeroes before the size is
	 * durable, no old bytes past EOF afterwards.
	 */
	m->provisioned -= old - size;
	in->size = size;
	rc = mds_orphan_add(r, ino, in);
	if (!rc)
		r->reclaim_ino = ino;
	return rc;
}

/* PUNCH_HOLE: whole blocks go back; the edges are zeroed in place. */
static int punch(struct mds_req *r, uint64_t ino, struct csvfs_inode *in,
		 uint64_t off, uint64_t len)
{
	struct mds *m = r->m;
	uint64_t end, b0, b1;
	struct extmap em;
	int rc;

	if (in->flags & CSVFS_IFL_INLINE) {
		if (off < in->size)
			ino_inline_write(in, (uint32_t)off, NULL, (uint32_t)
					 ((off + len > in->size ? in->size :
					   off + len) - off));
		return 0;
	}
	if (off >= in->size)
		return 0;
	/* A hole in a tail is made in a unit. */
	rc = mds_sub_untail(r, in);
	if (rc)
		return rc;
	end = off + len > in->size ? in->size : off + len;
	rc = ext_load(r->op, ino, in, &em);
	if (rc)
		return rc;
	if (em.n == 1 && (em.e[0].flags & CSVFS_EXT_SUB)) {
		/* A sub-block run keeps its units: zero in place. */
		rc = mds_sub_zero(m, &em.e[0], off, end - off);
		if (!rc)
			rc = dev_flush(m->dev);
		ext_free(&em);
		return rc;
	}
	b0 = blocks_for(m, off);
	b1 = end / m->bsize;
	if (end == in->size)
		b1 = blocks_for(m, end);
	if (b0 < b1) {
		if (off < b0 * m->bsize)
			rc = mds_zero_file_range(m, &em, off,
						 b0 * m->bsize - off);
		if (!rc && end > b1 * m->bsize)
			rc = mds_zero_file_range(m, &em, b1 * m->bsize,
						 end - b1 * m->bsize);
		if (!rc)
			rc = drop_range(r, &em, b0, b1 - b0);
	} else {
		rc = mds_zero_file_range(m, &em, off, end - off);
	}
	if (!rc)
		rc = dev_flush(m->dev);
	if (!rc)
		rc = ext_store(r->op, m->a, ino, in, &em);
	if (!rc)
		rc = mds_set_nblocks(r, in, ext_blocks(&em));
	ext_free(&em);
	return rc;
}

int mds_h_fallocate(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in), off, len, end;
	uint32_t mode = msg_get_u32(&r->in);
	struct mds *m = r->m;
	struct csvfs_inode in;
	struct extmap em;
	struct mbuf *mb;
	int rc;

	off = msg_get_u64(&r->in);
	len = msg_get_u64(&r->in);
	if (msg_rd_end(&r->in))
		return -EPROTO;
	if (len == 0 || off + len < off)
		return -EINVAL;
	end = off + len;
	if (end > (m->sb.total_blocks << m->sb.block_shift) * 1024)
		return -EFBIG;
	if (mode & ~(uint32_t)(CSVFS_FA_KEEP_SIZE | CSVFS_FA_PUNCH_HOLE |
			       CSVFS_FA_ZERO_RANGE))
		return -EOPNOTSUPP;
	if ((mode & CSVFS_FA_PUNCH_HOLE) && !(mode & CSVFS_FA_KEEP_SIZE))
		return -EOPNOTSUPP;
	rc = get_reg(r, ino, &in, &mb);
	if (!rc)
		rc = mds_may_modify(r, ino, &in, !!(mode &
				    (CSVFS_FA_PUNCH_HOLE | CSVFS_FA_ZERO_RANGE)));
	if (rc)
		return rc;
	if (mode & (CSVFS_FA_PUNCH_HOLE | CSVFS_FA_ZERO_RANGE))
		rc = punch(r, ino, &in, off, len);
	if (!rc && !(mode & CSVFS_FA_PUNCH_HOLE)) {
		if (!(in.flags & CSVFS_IFL_INLINE) ||
		    end > ino_inline_cap(&in))
			rc = mds_uninline(r, ino, &in);
		if (!rc && !(in.flags & CSVFS_IFL_INLINE)) {
			rc = ext_load(r->op, ino, &in, &em);
			if (!rc && (rc = mds_sub_promote(r, &in, &em)))
				ext_free(&em);
			if (!rc) {
				rc = fill_holes(r, &in, &em, off / m->bsize,
						blocks_for(m, end) -
						off / m->bsize,
						CSVFS_EXT_UNWRITTEN, 0);
				if (!rc)
					rc = ext_store(r->op, m->a, ino, &in,
						       &em);
				if (!rc)
					rc = mds_set_nblocks(r, &in,
							     ext_blocks(&em));
				ext_free(&em);
			}
		}
		if (!rc && !(mode & CSVFS_FA_KEEP_SIZE) && end > in.size) {
			m->provisioned += end - in.size;
			in.size = end;
		}
	}
	if (rc)
		return rc;
	ino_touch(&in, 1);
	rc = ino_put(r->op, mb, &in);
	if (!rc)
		mds_put_attr(r, ino, &in);
	return rc;
}

/*
 * PREALLOC (csvfsctl preallocate --zero): every block of [0, size)
 * allocated and marked written, so no later write waits for an
 * allocation or a written-range report. This relies on the volume's
 * stale-data rule (include/csvfs/ondisk.h): a free block reads as zeroes
 * on the device, so a block handed out here already holds the zeroes the
 * file must read, and an UNWRITTEN block of the file holds zeroes or what
 * the file's own writer put there. No block is written.
 */
int mds_h_prealloc(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in), size = msg_get_u64(&r->in), n;
	struct mds *m = r->m;
	struct csvfs_inode in;
	struct extmap em;
	struct mbuf *mb;
	int rc;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	if (size > (m->sb.total_blocks << m->sb.block_shift))
		return -ENOSPC;
	rc = get_reg(r, ino, &in, &mb);
	if (!rc)
		rc = mds_may_modify(r, ino, &in, 0);
	if (rc)
		return rc;
	if (size == 0)
		size = in.size;
	n = blocks_for(m, size);
	if (n && (!(in.flags & CSVFS_IFL_INLINE) || size > ino_inline_cap(&in)))
		rc = mds_uninline(r, ino, &in);
	if (!rc && n && !(in.flags & CSVFS_IFL_INLINE)) {
		rc = ext_load(r->op, ino, &in, &em);
		if (rc)
			return rc;
		rc = mds_sub_promote(r, &in, &em);
		if (!rc)
			rc = fill_holes(r, &in, &em, 0, n, 0, 0);
		if (!rc)
			rc = ext_mark_written(&em, 0, n);
		if (!rc)
			rc = ext_store(r->op, m->a, ino, &in, &em);
		if (!rc)
			rc = mds_set_nblocks(r, &in, ext_blocks(&em));
		ext_free(&em);
	}
	if (rc)
		return rc;
	if (size > in.size) {
		m->provisioned += size - in.size;
		in.size = size;
	}
	ino_touch(&in, 1);
	rc = ino_put(r->op, mb, &in);
	if (!rc)
		mds_put_attr(r, ino, &in);
	return rc;
}

/*
 * INLINE_READ of a file with a tail: bytes at file offsets from the end
 * of its run; EAGAIN before that (the node reads those from the device).
 */
static int tail_read(struct mds_req *r, const struct csvfs_inode *in,
		     uint64_t off, uint32_t len)
{
	struct csvfs_extent e;
	uint64_t run;
	uint8_t *buf;

	if (!subblk_inode_run(in, &e) || !subblk_tail_len(in, &e))
		return -CSVFS_ECORRUPT;
	run = (uint64_t)e.len * CSVFS_SUB_UNIT;
	if (off < run)
		return -EAGAIN;
	if (off >= in->size)
		len = 0;
	else if (off + len > in->size)
		len = (uint32_t)(in->size - off);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	subblk_tail_read(in, (uint32_t)(len ? off - run : 0), buf, len);
	msg_put_bytes(&r->out, buf, len);
	free(buf);
	return 0;
}

int mds_h_inline_read(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in), off = msg_get_u64(&r->in);
	uint32_t len = msg_get_u32(&r->in);
	struct csvfs_inode in;
	int rc;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	rc = get_reg(r, ino, &in, NULL);
	if (rc)
		return rc;
	if (in.flags & CSVFS_IFL_TAIL)
		return tail_read(r, &in, off, len);
	if (!(in.flags & CSVFS_IFL_INLINE))
		return -EAGAIN;
	if (off >= in.size)
		len = 0;
	else if (off + len > in.size)
		len = (uint32_t)(in.size - off);
	if (len) {
		uint8_t buf[CSVFS_INLINE_XMAX];

		if (off + len > CSVFS_INLINE_XMAX)
			return -CSVFS_ECORRUPT;
		ino_inline_read(&in, (uint32_t)off, buf, len);
		msg_put_bytes(&r->out, buf, len);
	} else {
		msg_put_bytes(&r->out, in.body, 0);
	}
	return 0;
}

int mds_h_inline_write(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in), off = msg_get_u64(&r->in);
	const uint8_t *data;
	uint32_t len = msg_get_bytes(&r->in, &data);
	struct csvfs_inode in;
	struct mbuf *mb;
	int rc;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	rc = get_reg(r, ino, &in, &mb);
	if (rc)
		return rc;
	if (!(in.flags & CSVFS_IFL_INLINE) || off + len > ino_inline_cap(&in)) {
		/* Does not fit: convert; the writer goes the block way
		 * (sub-blocks when the file may have them). */
		if ((in.flags & CSVFS_IFL_INLINE) &&
		    mds_sub_eligible(r->m, &in, off + len))
			rc = mds_sub_alloc(r, &in, off + len);
		else
			rc = mds_uninline(r, ino, &in);
		if (!rc)
			rc = ino_put(r->op, mb, &in);
		if (!rc)
			mds_put_attr(r, ino, &in);
		return rc;
	}
	ino_inline_write(&in, (uint32_t)off, data, len);
	if (off + len > in.size) {
		r->m->provisioned += off + len - in.size;
		in.size = off + len;
	}
	ino_touch(&in, 1);
	rc = ino_put(r->op, mb, &in);
	if (!rc)
		mds_put_attr(r, ino, &in);
	return rc;
}

int mds_h_lseek(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in), off = msg_get_u64(&r->in);
	uint32_t whence = msg_get_u32(&r->in);
	struct mds *m = r->m;
	struct csvfs_inode in;
	struct extmap em;
	uint64_t res;
	size_t i;
	int rc;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	rc = get_reg(r, ino, &in, NULL);
	if (rc)
		return rc;
	if (off >= in.size)
		return -ENXIO;
	if (in.flags & CSVFS_IFL_INLINE) {
		msg_put_u64(&r->out, whence == SEEK_DATA ? off : in.size);
		return 0;
	}
	rc = ext_load(r->op, ino, &in, &em);
	if (rc)
		return rc;
	if (em.n == 1 && (em.e[0].flags & CSVFS_EXT_SUB)) {
		/* The run is data (written or zeroes), the rest a hole. */
		uint64_t run = (uint64_t)em.e[0].len * CSVFS_SUB_UNIT;

		ext_free(&em);
		/* A tail is data up to EOF. */
		if (in.flags & CSVFS_IFL_TAIL)
			run = in.size;
		if (whence == SEEK_DATA && off >= run)
			return -ENXIO;
		res = whence == SEEK_DATA ? off : (off < run ? run : off);
		msg_put_u64(&r->out, res > in.size ? in.size : res);
		return 0;
	}
	res = whence == SEEK_DATA ? UINT64_MAX : off;
	for (i = 0; i < em.n; i++) {
		const struct csvfs_extent *e = &em.e[i];
		uint64_t s = e->lblk * m->bsize, t = s + e->len * m->bsize;

		if (e->flags & CSVFS_EXT_UNWRITTEN || t <= off)
			continue;
		if (whence == SEEK_DATA) {
			res = s > off ? s : off;
			break;
		}
		/* SEEK_HOLE: the first gap at or after off. */
		if (s > res)
			break;
		if (t > res)
			res = t;
	}
	ext_free(&em);
	if (whence == SEEK_DATA && res >= in.size)
		return -ENXIO;
	if (res > in.size)
		res = in.size;
	msg_put_u64(&r->out, res);
	return 0;
}

int mds_trim(struct mds_req *r, uint64_t ino, uint64_t from_lblk,
	     int free_inode)
{
	struct csvfs_extent sub;
	struct csvfs_inode in;
	struct extmap em;
	struct mbuf *mb;
	int rc;

	rc = mds_get(r, ino, &in, &mb);
	if (rc)
		return rc;
	/* A file going away holds nothing back any more. */
	if (free_inode)
		rc = mds_resv_update(r, &in, 0, in.nblocks);
	if (rc)
		return rc;
	if (S_ISREG(in.mode) && subblk_inode_run(&in, &sub)) {
		rc = mds_sub_trim(r, &in, free_inode, 1);
		if (rc)
			return rc;
	} else if (S_ISREG(in.mode) && !(in.flags & CSVFS_IFL_INLINE)) {
		rc = ext_load(r->op, ino, &in, &em);
		if (rc)
			return rc;
		/* A kept file: the bytes past EOF in its last block read 0. */
		if (!free_inode && in.size % r->m->bsize) {
			rc = mds_zero_file_range(r->m, &em, in.size,
						 r->m->bsize -
						 in.size % r->m->bsize);
			if (!rc)
				rc = dev_flush(r->m->dev);
		}
		if (!rc)
			rc = drop_range(r, &em, from_lblk, UINT64_MAX);
		if (!rc && free_inode)
			rc = ext_drop_leaves(r->op, r->m->a, &em);
		else if (!rc)
			rc = ext_store(r->op, r->m->a, ino, &in, &em);
		if (!rc)
			rc = mds_set_nblocks(r, &in, ext_blocks(&em));
		ext_free(&em);
		if (rc)
			return rc;
	}
	/* A directory removed while open still has its (empty) table. */
	if (free_inode && S_ISDIR(in.mode)) {
		r->alloc_touched = 1;
		rc = dir_destroy(r->op, r->m->a, &in);
		if (rc)
			return rc;
	}
	/* An unlinked file kept for its open handles stays an orphan. */
	if (free_inode || in.nlink)
		rc = mds_orphan_del(r, ino, &in);
	if (!rc)
		rc = ino_put(r->op, mb, &in);
	if (!rc && free_inode) {
		if (S_ISREG(in.mode))
			r->m->provisioned -= in.size < r->m->provisioned ?
					     in.size : r->m->provisioned;
		r->alloc_touched = 1;
		rc = ino_free(r->op, r->m->a, ino);
	}
	return rc;
}

int mds_trim_ahead(struct mds_req *r, uint64_t ino)
{
	struct csvfs_extent sub;
	struct csvfs_inode in;
	struct extmap em;
	struct mbuf *mb;
	uint64_t from;
	size_t i;
	int rc, any = 0;

	rc = mds_get(r, ino, &in, &mb);
	if (rc || (in.flags & CSVFS_IFL_INLINE))
		return rc;
	if (subblk_inode_run(&in, &sub)) {
		/* The room ahead of a sub-block run goes back, and the last
		 * partial unit moves into the inode (a tail). */
		int changed = 0;

		if (sub.len > (in.size + CSVFS_SUB_UNIT - 1) / CSVFS_SUB_UNIT) {
			rc = mds_sub_trim(r, &in, 0, 0);
			changed = 1;
		}
		if (!rc) {
			rc = mds_sub_pack_tail(r, &in);
			if (rc > 0) {
				changed = 1;
				rc = 0;
			}
		}
		return rc || !changed ? rc : ino_put(r->op, mb, &in);
	}
	rc = ext_load(r->op, ino, &in, &em);
	if (rc)
		return rc;
	/*
	 * Every block still UNWRITTEN|AHEAD goes back, inside EOF too: a
	 * thin image (its size set by truncate) would otherwise keep the
	 * blocks allocated ahead of its writer for good. Written blocks lost
	 * the AHEAD flag when they were reported.
	 */
	from = 0;
	for (i = 0; i < em.n; i++)
		if (em.e[i].lblk + em.e[i].len > from &&
		    (em.e[i].flags & CSVFS_EXT_AHEAD))
			any = 1;
	for (i = em.n; any && i-- > 0;) {
		struct csvfs_extent e = em.e[i];
		uint64_t s = e.lblk > from ? e.lblk : from;

		if (e.lblk + e.len <= from)
			break;
		if (e.flags & CSVFS_EXT_AHEAD)
			rc = drop_range(r, &em, s, e.lblk + e.len - s);
		if (rc)
			break;
	}
	if (!rc && any) {
		rc = ext_store(r->op, r->m->a, ino, &in, &em);
		if (!rc)
			rc = mds_set_nblocks(r, &in, ext_blocks(&em));
		if (!rc)
			rc = ino_put(r->op, mb, &in);
	}
	ext_free(&em);
	return rc;
}

int mds_ino_busy(struct mds *m, uint64_t ino, const struct csvfs_inode *in)
{
	struct mds_open *o = mds_open_find(m, ino, 0);

	if (o && (o->nopen || o->handoff_to))
		return 1;
	/*
	 * Cluster mode: a node's hold lives in the inode across coordinator
	 * changes (its opens from before are not in the table), and a dead
	 * node's hold until it is broken. Standalone keeps no hold, and
	 * nothing is open before its coordinator starts.
	 */
	return !m->o.standalone && in->own_mode != CSVFS_OWN_NONE;
}

/*
 * Runs one trim as its own operation, as startup, release and a
 * shrinking truncate do: an unlinked inode is freed unless it is still
 * in use (mds_ino_busy): then only its blocks past EOF go, and it stays
 * on the orphan list until its last close.
 */
static int trim_op(struct mds *m, uint64_t ino, int *freed)
{
	struct mds_req r;
	struct csvfs_inode in;
	struct jop op;
	int rc;

	memset(&r, 0, sizeof(r));
	r.m = m;
	r.op = &op;
	msg_wr_init(&r.out);
	jop_begin(m->j, &op);
	rc = mds_get(&r, ino, &in, NULL);
	if (!rc) {
		*freed = in.nlink == 0 && !mds_ino_busy(m, ino, &in);
		rc = mds_trim(&r, ino, *freed ? 0 : blocks_for(m, in.size),
			      *freed);
	}
	if (!rc)
		mds_space_check(m);
	jop_end(&op, rc);
	if (rc && r.alloc_touched) {
		jop_begin(m->j, &op);
		alloc_resync(m->a, &op);
		mds_space_resync(m, &op);
		jop_end(&op, 0);
	}
	msg_wr_free(&r.out);
	return rc;
}

int mds_reclaim(struct mds *m, uint64_t ino)
{
	int freed = 0, rc;

	/* The unlink (orphan entry) must be durable before data goes. */
	rc = jrnl_commit(m->j);
	if (!rc)
		rc = trim_op(m, ino, &freed);
	return rc;
}

/* The orphan after ino on the list (0 = ino is the last); ino 0: the head. */
static int orphan_next(struct mds *m, uint64_t ino, uint64_t *next)
{
	struct csvfs_vstate vs;
	struct csvfs_inode in;
	struct mds_req r;
	struct mbuf *mb;
	struct jop op;
	int rc;

	memset(&r, 0, sizeof(r));
	r.m = m;
	r.op = &op;
	jop_begin(m->j, &op);
	if (!ino) {
		rc = jop_read(&op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &mb);
		if (!rc) {
			od_vstate_decode(mb->data, &vs);
			*next = vs.orphan_head;
		}
	} else {
		rc = mds_get(&r, ino, &in, NULL);
		if (!rc)
			*next = in.next_orphan;
	}
	jop_end(&op, 0);
	return rc;
}

/* Breaks dead nodes' holds on orphan ino; 1 when nobody holds it now. */
static int orphan_break_dead(struct mds *m, uint64_t ino)
{
	struct csvfs_inode in;
	struct lockd_state s;
	struct mds_req r;
	struct mbuf *mb;
	struct jop op;
	int rc, broke, free_it = 0;

	memset(&r, 0, sizeof(r));
	r.m = m;
	r.op = &op;
	jop_begin(m->j, &op);
	rc = mds_get(&r, ino, &in, &mb);
	if (rc || in.nlink || in.own_mode == CSVFS_OWN_NONE)
		goto out;
	mds_own_decode(&in, &s);
	/* Nobody can open an unlinked file: no requester to spare. */
	broke = mds_own_break_dead(m, ino, &s, 0, 0);
	if (!broke)
		goto out;
	mds_own_encode(&s, &in);
	rc = ino_put(&op, mb, &in);
	free_it = !rc && !mds_ino_busy(m, ino, &in);
out:
	jop_end(&op, rc);
	return free_it;
}

void mds_orphans_sweep(struct mds *m)
{
	uint64_t now = mds_now_ns(), last, cur, next, guard = 0;
	unsigned ms = m->o.dead_ms ? m->o.dead_ms : CSVFS_HB_DEAD_MS;
	int freed;

	last = __atomic_load_n(&m->sweep_ns, __ATOMIC_RELAXED);
	/* The first call only arms it: no dead node is known at start. */
	if (!last) {
		__atomic_compare_exchange_n(&m->sweep_ns, &last, now, 0,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
		return;
	}
	if (now - last < ms * 1000000ull ||
	    !__atomic_compare_exchange_n(&m->sweep_ns, &last, now, 0,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	if (orphan_next(m, 0, &cur))
		return;
	while (cur && guard++ < (1u << 24)) {
		if (orphan_next(m, cur, &next))
			return;
		if (orphan_break_dead(m, cur) && trim_op(m, cur, &freed) == 0 &&
		    freed)
			log_ino_at(LOG_INFO, cur, "orphan freed");
		cur = next;
	}
}

/*
 * Startup: every orphan is trimmed, and freed unless still in use (a
 * cluster node's hold in the inode: it is open there, and its last
 * close frees it). The walk takes each next link before the trim, which
 * may take the inode off the list.
 */
int mds_orphans_recover(struct mds *m)
{
	uint64_t cur, next, guard = 0;
	unsigned n = 0, kept = 0;
	int rc, freed;

	rc = orphan_next(m, 0, &cur);
	while (!rc && cur) {
		if (guard++ > (1ull << 32))
			return -CSVFS_ECORRUPT;
		rc = orphan_next(m, cur, &next);
		if (!rc)
			rc = trim_op(m, cur, &freed);
		if (rc) {
			log_ino_at(LOG_ERR, cur, "orphan: %s",
				   csvfs_strerror(rc));
			return rc;
		}
		n++;
		kept += !freed;
		cur = next;
	}
	if (rc)
		return rc;
	if (n)
		log_info("recovered %u orphan inodes (%u still open "
			 "on a node, freed at their last close)", n, kept);
	return jrnl_commit(m->j);
}

/* ---- zeroing on the device --------------------------------------------- */

int mds_zero_runs(struct mds *m, const struct ext_run *runs, size_t n)
{
	size_t i;
	int rc = 0;

	/* Epoch fencing covers the writes outside the journal too. */
	if (n)
		rc = jrnl_fence_check(m->j);
	for (i = 0; i < n && !rc; i++)
		rc = dev_zero(m->dev, runs[i].pblk * m->bsize,
			      runs[i].len * m->bsize);
	if (!rc && n)
		rc = dev_flush(m->dev);
	return rc;
}

int mds_zero_file_range(struct mds *m, const struct extmap *em, uint64_t off,
			uint64_t len)
{
	uint64_t end = off + len;
	int rc = len ? jrnl_fence_check(m->j) : 0;

	if (rc)
		return rc;
	if (em->n == 1 && (em->e[0].flags & CSVFS_EXT_SUB))
		return mds_sub_zero(m, &em->e[0], off, len);
	while (off < end && !rc) {
		uint64_t lblk = off / m->bsize, in_blk = off % m->bsize;
		uint64_t n = m->bsize - in_blk;
		long i = ext_find(em, lblk, NULL);

		if (n > end - off)
			n = end - off;
		if (i >= 0 && !(em->e[i].flags & CSVFS_EXT_UNWRITTEN))
			rc = dev_zero_bytes(m->dev, (em->e[i].pblk +
					    (lblk - em->e[i].lblk)) * m->bsize +
					    in_blk, n);
		off += n;
	}
	return rc;
}
