/*
 * subblk: the sub chunk allocator. The used[] bits live in the cached raw
 * chunk headers (a plain byte array, nothing to decode), changed through
 * the caller's operation, so an undone operation undoes them too; the
 * per-chunk free counts are in memory and rebuilt by subblk_resync.
 *
 * Placement: first fit, starting at the chunk that served last (a tree
 * extracted file by file fills one chunk after another).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/errors.h"
#include "meta/alloc.h"
#include "meta/inode.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"
#include "meta/subblk.h"

#define CHUNK_NEXT_OFF	0x48
#define CHUNK_NUSED_OFF	0x54
#define CHUNK_USED_OFF	0x60
#define CHUNK_DIRTY_OFF	0x160
#define VS_SUBHEAD_OFF	0x58
#define VS_RELEASE_OFF	0x60

struct schunk {
	uint64_t blk;
	uint32_t nfree;
};

struct subblk {
	struct csvfs_super sb;
	uint32_t upc;		/* units per chunk, header included */
	struct schunk *c;	/* list order: c[0] is vstate.sub_head */
	uint64_t n, cap;
	uint64_t hint;
};

static uint64_t mblk_of(const struct subblk *s, uint64_t blk)
{
	return blk << (s->sb.block_shift - CSVFS_MBLK_SHIFT);
}

static int bit(const uint8_t *raw, uint64_t i)
{
	return (raw[CHUNK_USED_OFF + i / 8] >> (i % 8)) & 1;
}

static void bit_put(uint8_t *raw, uint64_t i, int v)
{
	uint8_t m = (uint8_t)(1u << (i % 8));

	if (v)
		raw[CHUNK_USED_OFF + i / 8] |= m;
	else
		raw[CHUNK_USED_OFF + i / 8] &= (uint8_t)~m;
}

static int header(struct subblk *s, struct jop *op, uint64_t blk,
		  struct mbuf **mb)
{
	return jop_read(op, mblk_of(s, blk), CSVFS_MAGIC_SUBCHUNK, mb);
}

static int add(struct subblk *s, uint64_t at, uint64_t blk, uint32_t nfree)
{
	if (s->n == s->cap) {
		uint64_t cap = s->cap ? s->cap * 2 : 16;
		struct schunk *c = realloc(s->c, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		s->c = c;
		s->cap = cap;
	}
	memmove(&s->c[at + 1], &s->c[at], (s->n - at) * sizeof(*s->c));
	s->c[at].blk = blk;
	s->c[at].nfree = nfree;
	s->n++;
	return 0;
}

int subblk_resync(struct subblk *s, struct jop *op)
{
	struct csvfs_vstate vs;
	struct mbuf *mb;
	uint64_t blk;
	int rc;

	s->n = 0;
	s->hint = 0;
	rc = jop_read(op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &mb);
	if (rc)
		return rc;
	od_vstate_decode(mb->data, &vs);
	blk = vs.sub_head;
	while (blk) {
		struct csvfs_chunk ch;

		if (blk < s->sb.data_start || blk >= s->sb.total_blocks ||
		    s->n > s->sb.total_blocks)
			return -CSVFS_ECORRUPT;
		rc = header(s, op, blk, &mb);
		if (rc)
			return rc;
		od_chunk_decode(mb->data, &ch);
		if (ch.blk != blk || ch.nmblks != s->upc || ch.nused == 0 ||
		    ch.nused > ch.nmblks)
			return -CSVFS_ECORRUPT;
		rc = add(s, s->n, blk, ch.nmblks - ch.nused);
		if (rc)
			return rc;
		blk = ch.next;
	}
	return 0;
}

int subblk_load(struct jop *op, const struct csvfs_super *sb,
		struct subblk **out)
{
	struct subblk *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	s->sb = *sb;
	s->upc = 1u << (sb->block_shift - CSVFS_MBLK_SHIFT);
	rc = subblk_resync(s, op);
	if (rc) {
		subblk_free_state(s);
		return rc;
	}
	*out = s;
	return 0;
}

void subblk_free_state(struct subblk *s)
{
	if (!s)
		return;
	free(s->c);
	free(s);
}

/* A new empty sub chunk at the head of the list. */
static int chunk_new(struct subblk *s, struct alloc *a, struct jop *op)
{
	struct csvfs_chunk ch;
	struct csvfs_vstate vs;
	struct mbuf *mb, *vmb;
	uint64_t blk, n;
	int rc;

	rc = jop_read(op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &vmb);
	if (!rc)
		rc = alloc_blocks(a, op, 0, 1, 1, 0, &blk, &n);
	if (!rc)
		rc = jop_write(op, vmb);
	if (!rc)
		rc = jop_new(op, mblk_of(s, blk), &mb);
	if (rc)
		return rc;
	od_vstate_decode(vmb->data, &vs);
	memset(&ch, 0, sizeof(ch));
	od_hdr_init(&ch.hdr, CSVFS_MAGIC_SUBCHUNK, mblk_of(s, blk),
		    jrnl_uuid(op->j));
	ch.blk = blk;
	ch.next = vs.sub_head;
	ch.nmblks = s->upc;
	ch.nused = 1;
	ch.used[0] = 1;
	od_chunk_encode(&ch, mb->data);
	vs.sub_head = blk;
	od_vstate_encode(&vs, vmb->data);
	return add(s, 0, blk, s->upc - 1);
}

static int dirty_get(const uint8_t *raw, uint64_t i);

/*
 * First fit of n units in chunk k: 0 and *unit, or -ENOSPC. clean: only
 * units that need no zeroing.
 */
static int chunk_fit(struct subblk *s, struct jop *op, uint64_t k,
		     uint32_t n, int clean, uint64_t *unit)
{
	struct mbuf *mb;
	uint64_t i, run = 0;
	int rc;

	rc = header(s, op, s->c[k].blk, &mb);
	if (rc)
		return rc;
	for (i = 1; i < s->upc; i++) {
		if (bit(mb->data, i) || (clean && dirty_get(mb->data, i))) {
			run = 0;
			continue;
		}
		if (++run == n) {
			*unit = i + 1 - n;
			return 0;
		}
	}
	return -ENOSPC;
}

static int dirty_get(const uint8_t *raw, uint64_t i)
{
	return (raw[CHUNK_DIRTY_OFF + i / 8] >> (i % 8)) & 1;
}

static void dirty_put(uint8_t *raw, uint64_t i, int v)
{
	uint8_t m = (uint8_t)(1u << (i % 8));

	if (v)
		raw[CHUNK_DIRTY_OFF + i / 8] |= m;
	else
		raw[CHUNK_DIRTY_OFF + i / 8] &= (uint8_t)~m;
}

/*
 * Marks a run used (clearing its dirty bits; *dirty says whether any was
 * set) or free (setting them: the units may hold the file's bytes).
 */
static int mark(struct subblk *s, struct jop *op, uint64_t k, uint64_t unit,
		uint32_t n, int used, int *dirty)
{
	struct mbuf *mb;
	uint64_t i;
	uint32_t nused;
	int rc;

	rc = header(s, op, s->c[k].blk, &mb);
	if (rc)
		return rc;
	for (i = unit; i < unit + n; i++)
		if (bit(mb->data, i) == used)
			return -CSVFS_ECORRUPT;
	rc = jop_write(op, mb);
	if (rc)
		return rc;
	for (i = unit; i < unit + n; i++) {
		bit_put(mb->data, i, used);
		if (used && dirty_get(mb->data, i))
			*dirty = 1;
		dirty_put(mb->data, i, !used);
	}
	nused = od_get32(mb->data + CHUNK_NUSED_OFF);
	od_put32(mb->data + CHUNK_NUSED_OFF, used ? nused + n : nused - n);
	if (used)
		s->c[k].nfree -= n;
	else
		s->c[k].nfree += n;
	return 0;
}

int subblk_alloc(struct subblk *s, struct alloc *a, struct jop *op,
		 uint32_t n, uint64_t *mblk, int *dirty)
{
	uint64_t j, k, unit;
	int rc, clean;

	if (n == 0 || n >= s->upc)
		return -EINVAL;
	/*
	 * Units that need no zeroing first (the room ahead a closed file gave
	 * back is dirty), then dirty ones before a new chunk.
	 */
	for (clean = 1; clean >= 0; clean--) {
		for (j = 0; j < s->n; j++) {
			k = (s->hint + j) % s->n;
			if (s->c[k].nfree < n)
				continue;
			rc = chunk_fit(s, op, k, n, clean, &unit);
			if (rc == -ENOSPC)
				continue;
			if (rc)
				return rc;
			goto found;
		}
	}
	rc = chunk_new(s, a, op);
	if (rc)
		return rc;
	k = 0;
	unit = 1;
found:
	*dirty = 0;
	rc = mark(s, op, k, unit, n, 1, dirty);
	if (rc)
		return rc;
	s->hint = k;
	*mblk = mblk_of(s, s->c[k].blk) + unit;
	return 0;
}

/* Chunk index and unit of mblk. */
static int locate(const struct subblk *s, uint64_t mblk, uint32_t n,
		  uint64_t *k, uint64_t *unit)
{
	uint64_t blk = mblk >> (s->sb.block_shift - CSVFS_MBLK_SHIFT), i;

	for (i = 0; i < s->n; i++) {
		if (s->c[i].blk != blk)
			continue;
		*k = i;
		*unit = mblk - mblk_of(s, blk);
		if (*unit == 0 || *unit + n > s->upc)
			return -CSVFS_ECORRUPT;
		return 0;
	}
	return -CSVFS_ECORRUPT;
}

int subblk_extend(struct subblk *s, struct jop *op, uint64_t mblk,
		  uint32_t n, uint32_t more, int *dirty)
{
	struct mbuf *mb;
	uint64_t k, unit, i;
	int rc;

	rc = locate(s, mblk, n, &k, &unit);
	if (rc)
		return rc;
	if (unit + n + more > s->upc || s->c[k].nfree < more)
		return -ENOSPC;
	rc = header(s, op, s->c[k].blk, &mb);
	if (rc)
		return rc;
	for (i = unit + n; i < unit + n + more; i++)
		if (bit(mb->data, i))
			return -ENOSPC;
	*dirty = 0;
	return mark(s, op, k, unit + n, more, 1, dirty);
}

int subblk_free(struct subblk *s, struct jop *op, uint64_t mblk, uint32_t n)
{
	uint64_t k, unit;
	int rc;

	if (n == 0)
		return 0;
	rc = locate(s, mblk, n, &k, &unit);
	if (!rc)
		rc = mark(s, op, k, unit, n, 0, NULL);
	return rc;
}

void subblk_get_stats(const struct subblk *s, struct subblk_stats *st)
{
	uint64_t k;

	memset(st, 0, sizeof(*st));
	st->chunks = s->n;
	for (k = 0; k < s->n; k++) {
		st->units_free += s->c[k].nfree;
		st->units_used += s->upc - 1 - s->c[k].nfree;
		if (s->c[k].nfree == s->upc - 1)
			st->chunks_empty++;
	}
}

uint64_t subblk_chunk_blk(const struct subblk *s, uint64_t i)
{
	return i < s->n ? s->c[i].blk : 0;
}

uint32_t subblk_units_per_chunk(const struct subblk *s)
{
	return s->upc;
}

int subblk_take_empty(struct subblk *s, struct jop *op, unsigned spare,
		      uint64_t *blk)
{
	struct mbuf *mb, *pmb, *vmb;
	uint64_t k, empty = 0, victim = UINT64_MAX, next;
	int rc;

	for (k = 0; k < s->n; k++)
		if (s->c[k].nfree == s->upc - 1 && empty++ >= spare &&
		    victim == UINT64_MAX)
			victim = k;
	if (victim == UINT64_MAX)
		return -ENOENT;
	rc = jop_read(op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &vmb);
	if (rc)
		return rc;
	if (od_get64(vmb->data + VS_RELEASE_OFF))
		return -EBUSY;	/* one release at a time */
	rc = header(s, op, s->c[victim].blk, &mb);
	if (rc)
		return rc;
	next = od_get64(mb->data + CHUNK_NEXT_OFF);
	/* The predecessor (or vstate) skips it. */
	pmb = vmb;
	if (victim)
		rc = header(s, op, s->c[victim - 1].blk, &pmb);
	if (!rc)
		rc = jop_write(op, pmb);
	if (!rc)
		rc = jop_write(op, vmb);
	if (rc)
		return rc;
	od_put64(pmb->data + (victim ? CHUNK_NEXT_OFF : VS_SUBHEAD_OFF), next);
	*blk = s->c[victim].blk;
	od_put64(vmb->data + VS_RELEASE_OFF, *blk);
	memmove(&s->c[victim], &s->c[victim + 1],
		(s->n - victim - 1) * sizeof(*s->c));
	s->n--;
	s->hint = 0;
	return 0;
}

int subblk_release_done(struct alloc *a, struct jop *op, uint64_t blk)
{
	struct mbuf *vmb;
	int rc;

	rc = jop_read(op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &vmb);
	if (rc)
		return rc;
	if (od_get64(vmb->data + VS_RELEASE_OFF) != blk)
		return -CSVFS_ECORRUPT;
	rc = jop_write(op, vmb);
	if (!rc)
		rc = alloc_free(a, op, blk, 1);
	if (!rc)
		od_put64(vmb->data + VS_RELEASE_OFF, 0);
	return rc;
}

uint64_t subblk_release_pending(struct jop *op)
{
	struct mbuf *vmb;

	if (jop_read(op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &vmb))
		return 0;
	return od_get64(vmb->data + VS_RELEASE_OFF);
}

int subblk_inode_run(const struct csvfs_inode *in, struct csvfs_extent *e)
{
	if ((in->flags & (CSVFS_IFL_INLINE | CSVFS_IFL_EXTBLOCKS)) ||
	    in->nextents != 1)
		return 0;
	od_extent_decode(in->body, e);
	return !!(e->flags & CSVFS_EXT_SUB);
}

/* The tail area is two pieces: xattr[], then body[] past the extent. */
static struct ino_area tail_area(const struct csvfs_inode *in)
{
	struct ino_area a = {
		.first = (uint8_t *)in->xattr,
		.first_len = CSVFS_TAIL_XATTR_PART,
		.second = (uint8_t *)in->body + CSVFS_TAIL_BODY_OFF,
		.total = CSVFS_TAIL_MAX,
	};

	return a;
}

void subblk_tail_read(const struct csvfs_inode *in, uint32_t off, void *buf,
		      uint32_t len)
{
	struct ino_area a = tail_area(in);

	ino_area_copy(&a, off, buf, len, 0);
}

void subblk_tail_write(struct csvfs_inode *in, uint32_t off, const void *buf,
		       uint32_t len)
{
	struct ino_area a = tail_area(in);

	ino_area_copy(&a, off, (void *)buf, len, 1);
}

void subblk_tail_clear(struct csvfs_inode *in)
{
	memset(in->xattr, 0, sizeof(in->xattr));
	memset(in->body + CSVFS_TAIL_BODY_OFF, 0,
	       sizeof(in->body) - CSVFS_TAIL_BODY_OFF);
}

uint64_t subblk_tail_len(const struct csvfs_inode *in,
			 const struct csvfs_extent *e)
{
	uint64_t run = (uint64_t)e->len * CSVFS_SUB_UNIT;

	if (!(in->flags & CSVFS_IFL_TAIL) || in->size <= run)
		return 0;
	return in->size - run;
}
