/*
 * alloc: bitmap allocator for large blocks and chunk allocator for 4 KiB
 * metadata blocks. Bits are manipulated in the cached raw bitmap blocks
 * (the bits[] area of struct csvfs_bitmap is a plain byte array, so there
 * is nothing to decode); counters live in memory and are rebuilt by
 * alloc_resync.
 *
 * Placement: a request names a goal (the block after the file's last
 * extent); the search runs forward from the goal and wraps, taking the
 * first free run of max blocks, else the longest run >= min seen. New files
 * start at a rotor so that concurrent writers do not interleave.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/errors.h"
#include "meta/alloc.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"
#include "meta/subblk.h"

#define BM_OFF		CSVFS_MHDR_SIZE		/* bits[] in the raw block */
#define CHUNK_USED_OFF	0x60			/* used[] in the raw block */
#define CHUNK_NUSED_OFF	0x54
#define CHUNK_NEXT_OFF	0x48
#define VSTATE_RELEASE_OFF 0x60			/* vstate.release_blk */

struct chunk_info {
	uint64_t blk;
	uint32_t nfree;
};

struct alloc {
	struct csvfs_super sb;
	uint64_t free_blocks;
	uint64_t reserved;
	uint64_t rotor;
	struct chunk_info *chunks;
	uint64_t nchunks, cap;
	uint64_t chunk_hint;
	uint32_t mblks_per_chunk;
	struct subblk *sub;	/* sub chunks (subblk.c) */
};

static uint64_t mblk_of_blk(const struct alloc *a, uint64_t blk)
{
	return blk << (a->sb.block_shift - CSVFS_MBLK_SHIFT);
}

static int bm_block(struct alloc *a, struct jop *op, uint64_t b,
		    struct mbuf **mb)
{
	return jop_read(op, a->sb.bitmap_mblk + b / CSVFS_BITMAP_BITS,
			CSVFS_MAGIC_BITMAP, mb);
}

static int bit_get(const struct mbuf *mb, uint64_t b)
{
	uint64_t i = b % CSVFS_BITMAP_BITS;

	return (mb->data[BM_OFF + i / 8] >> (i % 8)) & 1;
}

static void bit_set(struct mbuf *mb, uint64_t b, int v)
{
	uint64_t i = b % CSVFS_BITMAP_BITS;
	uint8_t m = (uint8_t)(1u << (i % 8));

	if (v)
		mb->data[BM_OFF + i / 8] |= m;
	else
		mb->data[BM_OFF + i / 8] &= (uint8_t)~m;
}

int alloc_test(struct alloc *a, struct jop *op, uint64_t b, int *used)
{
	struct mbuf *mb;
	int rc;

	if (b >= a->sb.total_blocks)
		return -ERANGE;
	rc = bm_block(a, op, b, &mb);
	if (rc)
		return rc;
	*used = bit_get(mb, b);
	return 0;
}

static int count_free(struct alloc *a, struct jop *op)
{
	uint64_t b, nfree = 0;
	struct mbuf *mb = NULL;
	int rc;

	for (b = a->sb.data_start; b < a->sb.total_blocks; b++) {
		if (!mb || b % CSVFS_BITMAP_BITS == 0 ||
		    b == a->sb.data_start) {
			rc = bm_block(a, op, b, &mb);
			if (rc)
				return rc;
		}
		/* Skip full bytes quickly. */
		if (b % 8 == 0 && b + 8 <= a->sb.total_blocks &&
		    mb->data[BM_OFF + (b % CSVFS_BITMAP_BITS) / 8] == 0xff) {
			b += 7;
			continue;
		}
		if (!bit_get(mb, b))
			nfree++;
	}
	a->free_blocks = nfree;
	return 0;
}

static int chunk_add(struct alloc *a, uint64_t blk, uint32_t nfree)
{
	if (a->nchunks == a->cap) {
		uint64_t cap = a->cap ? a->cap * 2 : 16;
		struct chunk_info *n = realloc(a->chunks, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		a->chunks = n;
		a->cap = cap;
	}
	a->chunks[a->nchunks].blk = blk;
	a->chunks[a->nchunks].nfree = nfree;
	a->nchunks++;
	return 0;
}

static int load_chunks(struct alloc *a, struct jop *op)
{
	uint64_t blk = a->sb.first_chunk;
	int rc;

	a->nchunks = 0;
	while (blk) {
		struct csvfs_chunk ch;
		struct mbuf *mb;

		if (blk < a->sb.data_start || blk >= a->sb.total_blocks ||
		    a->nchunks > a->sb.total_blocks)
			return -CSVFS_ECORRUPT;
		rc = jop_read(op, mblk_of_blk(a, blk), CSVFS_MAGIC_CHUNK, &mb);
		if (rc)
			return rc;
		od_chunk_decode(mb->data, &ch);
		if (ch.blk != blk || ch.nmblks != a->mblks_per_chunk ||
		    ch.nused > ch.nmblks)
			return -CSVFS_ECORRUPT;
		rc = chunk_add(a, blk, ch.nmblks - ch.nused);
		if (rc)
			return rc;
		blk = ch.next;
	}
	return 0;
}

int alloc_resync(struct alloc *a, struct jop *op)
{
	int rc = count_free(a, op);

	if (!rc)
		rc = load_chunks(a, op);
	if (!rc && a->sub)
		rc = subblk_resync(a->sub, op);
	a->chunk_hint = 0;
	return rc;
}

int alloc_load(struct jop *op, const struct csvfs_super *sb,
	       struct alloc **out)
{
	struct alloc *a;
	int rc;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->sb = *sb;
	a->mblks_per_chunk = 1u << (sb->block_shift - CSVFS_MBLK_SHIFT);
	a->rotor = sb->data_start;
	rc = alloc_resync(a, op);
	if (!rc)
		rc = subblk_load(op, sb, &a->sub);
	if (rc) {
		alloc_release(a);
		return rc;
	}
	*out = a;
	return 0;
}

void alloc_release(struct alloc *a)
{
	if (!a)
		return;
	subblk_free_state(a->sub);
	free(a->chunks);
	free(a);
}

/* Length of the free run at b, up to max; *next gets where to continue. */
static int free_run(struct alloc *a, struct jop *op, uint64_t b, uint64_t max,
		    uint64_t *len)
{
	struct mbuf *mb = NULL;
	uint64_t n = 0;
	int rc;

	while (n < max && b + n < a->sb.total_blocks) {
		if (!mb || (b + n) % CSVFS_BITMAP_BITS == 0) {
			rc = bm_block(a, op, b + n, &mb);
			if (rc)
				return rc;
		}
		if (bit_get(mb, b + n))
			break;
		n++;
	}
	*len = n;
	return 0;
}

static int mark(struct alloc *a, struct jop *op, uint64_t start, uint64_t len,
		int used)
{
	struct mbuf *mb = NULL;
	uint64_t b;
	int rc;

	for (b = start; b < start + len; b++) {
		if (!mb || b % CSVFS_BITMAP_BITS == 0) {
			rc = bm_block(a, op, b, &mb);
			if (rc)
				return rc;
			rc = jop_write(op, mb);
			if (rc)
				return rc;
		}
		if (bit_get(mb, b) == used)
			return -CSVFS_ECORRUPT;
		bit_set(mb, b, used);
	}
	return 0;
}

int alloc_blocks(struct alloc *a, struct jop *op, uint64_t goal,
		 uint64_t min, uint64_t max, int reserve_ok,
		 uint64_t *start, uint64_t *len)
{
	return alloc_blocks_own(a, op, goal, min, max,
				reserve_ok ? UINT64_MAX : 0, start, len);
}

int alloc_blocks_own(struct alloc *a, struct jop *op, uint64_t goal,
		     uint64_t min, uint64_t max, uint64_t own,
		     uint64_t *start, uint64_t *len)
{
	uint64_t avail = a->free_blocks, total, scanned = 0, b, held;
	uint64_t best = 0, best_len = 0;
	struct mbuf *mb = NULL;
	int rc;

	/* Everything held back for reservations but the caller's own. */
	held = own >= a->reserved ? 0 : a->reserved - own;
	avail = avail > held ? avail - held : 0;
	if (min == 0)
		min = 1;
	if (max > avail)
		max = avail;
	if (max < min)
		return -ENOSPC;
	if (goal < a->sb.data_start || goal >= a->sb.total_blocks)
		goal = a->rotor;
	if (goal < a->sb.data_start || goal >= a->sb.total_blocks)
		goal = a->sb.data_start;
	total = a->sb.total_blocks - a->sb.data_start;
	b = goal;
	while (scanned < total) {
		uint64_t n;

		if (!mb || b % CSVFS_BITMAP_BITS == 0 || scanned == 0) {
			rc = bm_block(a, op, b, &mb);
			if (rc)
				return rc;
		}
		if (b % 8 == 0 &&
		    mb->data[BM_OFF + (b % CSVFS_BITMAP_BITS) / 8] == 0xff &&
		    b + 8 <= a->sb.total_blocks) {
			b += 8;
			scanned += 8;
		} else if (bit_get(mb, b)) {
			b++;
			scanned++;
		} else {
			rc = free_run(a, op, b, max, &n);
			if (rc)
				return rc;
			if (n > best_len) {
				best = b;
				best_len = n;
			}
			if (n >= max)
				break;
			b += n;
			scanned += n;
			mb = NULL;
		}
		if (b >= a->sb.total_blocks) {
			b = a->sb.data_start;
			mb = NULL;
		}
	}
	if (best_len < min)
		return -ENOSPC;
	rc = mark(a, op, best, best_len, 1);
	if (rc)
		return rc;
	a->free_blocks -= best_len;
	a->rotor = best + best_len;
	*start = best;
	*len = best_len;
	return 0;
}

int alloc_free(struct alloc *a, struct jop *op, uint64_t start, uint64_t len)
{
	int rc;

	if (start < a->sb.data_start || start + len > a->sb.total_blocks ||
	    start + len < start)
		return -CSVFS_ECORRUPT;
	rc = mark(a, op, start, len, 0);
	if (rc)
		return rc;
	a->free_blocks += len;
	return 0;
}

static int chunk_header(struct alloc *a, struct jop *op, uint64_t blk,
			struct mbuf **mb)
{
	return jop_read(op, mblk_of_blk(a, blk), CSVFS_MAGIC_CHUNK, mb);
}

/* Adds a new meta chunk at the end of the chain. */
static int chunk_grow(struct alloc *a, struct jop *op)
{
	struct csvfs_chunk ch, last;
	struct mbuf *mb, *lmb;
	uint64_t blk, n;
	int rc;

	if (a->nchunks == 0)
		return -CSVFS_ECORRUPT;	/* mkfs makes the first */
	rc = alloc_blocks(a, op, a->chunks[a->nchunks - 1].blk + 1, 1, 1, 1,
			  &blk, &n);
	if (rc)
		return rc;
	rc = jop_new(op, mblk_of_blk(a, blk), &mb);
	if (rc)
		return rc;
	memset(&ch, 0, sizeof(ch));
	od_hdr_init(&ch.hdr, CSVFS_MAGIC_CHUNK, mblk_of_blk(a, blk),
		    jrnl_uuid(op->j));
	ch.blk = blk;
	ch.nmblks = a->mblks_per_chunk;
	ch.nused = 1;
	ch.used[0] = 1;
	od_chunk_encode(&ch, mb->data);
	rc = chunk_header(a, op, a->chunks[a->nchunks - 1].blk, &lmb);
	if (!rc)
		rc = jop_write(op, lmb);
	if (rc)
		return rc;
	od_chunk_decode(lmb->data, &last);
	last.next = blk;
	od_chunk_encode(&last, lmb->data);
	return chunk_add(a, blk, a->mblks_per_chunk - 1);
}

/* Takes the first free metadata block of chunk ci. */
static int chunk_take(struct alloc *a, struct jop *op, struct chunk_info *ci,
		      uint64_t *mblk)
{
	struct mbuf *mb;
	uint64_t i;
	int rc;

	rc = chunk_header(a, op, ci->blk, &mb);
	if (rc)
		return rc;
	for (i = 1; i < a->mblks_per_chunk; i++) {
		uint8_t *byte = &mb->data[CHUNK_USED_OFF + i / 8];

		if (*byte & (1u << (i % 8)))
			continue;
		rc = jop_write(op, mb);
		if (rc)
			return rc;
		*byte |= (uint8_t)(1u << (i % 8));
		od_put32(mb->data + CHUNK_NUSED_OFF,
			 od_get32(mb->data + CHUNK_NUSED_OFF) + 1);
		ci->nfree--;
		a->chunk_hint = (uint64_t)(ci - a->chunks);
		*mblk = mblk_of_blk(a, ci->blk) + i;
		return 0;
	}
	return -CSVFS_ECORRUPT;	/* nfree said there was room */
}

int alloc_mblk(struct alloc *a, struct jop *op, uint64_t *mblk)
{
	uint64_t k;
	int rc;

	/*
	 * The first chunk with room: metadata packs into the front of the
	 * list, so chunks at its end drain and go back (alloc_take_empty).
	 */
	for (k = 0; k < a->nchunks; k++) {
		struct chunk_info *ci = &a->chunks[k];

		if (ci->nfree)
			return chunk_take(a, op, ci, mblk);
	}
	rc = chunk_grow(a, op);
	if (rc)
		return rc;
	return chunk_take(a, op, &a->chunks[a->nchunks - 1], mblk);
}

static int chunk_of(struct alloc *a, uint64_t mblk, uint64_t *idx,
		    uint64_t *bit)
{
	uint64_t blk = mblk >> (a->sb.block_shift - CSVFS_MBLK_SHIFT), k;

	for (k = 0; k < a->nchunks; k++)
		if (a->chunks[k].blk == blk) {
			*idx = k;
			*bit = mblk - mblk_of_blk(a, blk);
			return *bit == 0 ? -CSVFS_ECORRUPT : 0;
		}
	return -CSVFS_ECORRUPT;
}

int alloc_free_mblk(struct alloc *a, struct jop *op, uint64_t mblk)
{
	uint64_t k, bit;
	struct mbuf *mb;
	uint8_t *byte;
	int rc;

	rc = chunk_of(a, mblk, &k, &bit);
	if (rc)
		return rc;
	rc = chunk_header(a, op, a->chunks[k].blk, &mb);
	if (!rc)
		rc = jop_write(op, mb);
	if (rc)
		return rc;
	byte = &mb->data[CHUNK_USED_OFF + bit / 8];
	if (!(*byte & (1u << (bit % 8))))
		return -CSVFS_ECORRUPT;
	*byte &= (uint8_t)~(1u << (bit % 8));
	od_put32(mb->data + CHUNK_NUSED_OFF,
		 od_get32(mb->data + CHUNK_NUSED_OFF) - 1);
	a->chunks[k].nfree++;
	return 0;
}

int alloc_mblk_test(struct alloc *a, struct jop *op, uint64_t mblk, int *used)
{
	uint64_t k, bit;
	struct mbuf *mb;
	int rc;

	rc = chunk_of(a, mblk, &k, &bit);
	if (rc) {
		*used = 0;
		return rc;
	}
	rc = chunk_header(a, op, a->chunks[k].blk, &mb);
	if (rc)
		return rc;
	*used = (mb->data[CHUNK_USED_OFF + bit / 8] >> (bit % 8)) & 1;
	return 0;
}

void alloc_get_stats(struct alloc *a, struct alloc_stats *st)
{
	uint64_t k;

	memset(st, 0, sizeof(*st));
	st->total_blocks = a->sb.total_blocks - a->sb.data_start;
	st->free_blocks = a->free_blocks;
	st->reserved_blocks = a->reserved;
	st->chunks = a->nchunks;
	for (k = 0; k < a->nchunks; k++) {
		st->mblks_free += a->chunks[k].nfree;
		st->mblks_used += a->mblks_per_chunk - a->chunks[k].nfree;
		if (k && a->chunks[k].nfree == a->mblks_per_chunk - 1)
			st->chunks_empty++;
	}
}

void alloc_set_reserved(struct alloc *a, uint64_t blocks)
{
	a->reserved = blocks;
}

uint64_t alloc_chunk_blk(struct alloc *a, uint64_t i)
{
	return i < a->nchunks ? a->chunks[i].blk : 0;
}

uint64_t alloc_max_blocks(const struct alloc *a)
{
	uint64_t mpb = 1ull << (a->sb.block_shift - CSVFS_MBLK_SHIFT);
	uint64_t room = a->sb.data_start * mpb - a->sb.bitmap_mblk;

	return room * CSVFS_BITMAP_BITS;
}

int alloc_grow_bitmap(struct alloc *a, struct jop *op, uint64_t new_total)
{
	uint64_t old = a->sb.total_blocks, b, i, end;
	uint64_t new_len = (new_total + CSVFS_BITMAP_BITS - 1) /
			   CSVFS_BITMAP_BITS;
	struct csvfs_bitmap bm;
	struct mbuf *mb;
	int rc;

	if (new_total <= old)
		return -EINVAL;
	if (new_total > alloc_max_blocks(a))
		return -EFBIG;
	/*
	 * The last bitmap block in use: mkfs set the bits past the end;
	 * clear those the volume now covers (an interrupted grow may have
	 * cleared them already, so no check of the old value).
	 */
	end = (old + CSVFS_BITMAP_BITS - 1) / CSVFS_BITMAP_BITS *
	      CSVFS_BITMAP_BITS;
	if (end > new_total)
		end = new_total;
	if (old < end) {
		rc = bm_block(a, op, old, &mb);
		if (!rc)
			rc = jop_write(op, mb);
		if (rc)
			return rc;
		for (b = old; b < end; b++)
			bit_set(mb, b, 0);
	}
	/* New bitmap blocks: free up to new_total, in use past it. */
	for (i = a->sb.bitmap_len; i < new_len; i++) {
		uint64_t mblk = a->sb.bitmap_mblk + i;

		rc = jop_new(op, mblk, &mb);
		if (rc)
			return rc;
		memset(&bm, 0, sizeof(bm));
		od_hdr_init(&bm.hdr, CSVFS_MAGIC_BITMAP, mblk,
			    jrnl_uuid(op->j));
		for (b = i * CSVFS_BITMAP_BITS;
		     b < (i + 1) * CSVFS_BITMAP_BITS; b++)
			if (b >= new_total)
				bm.bits[(b % CSVFS_BITMAP_BITS) / 8] |=
					(uint8_t)(1u << (b % 8));
		od_bitmap_encode(&bm, mb->data);
	}
	return 0;
}

void alloc_grow_done(struct alloc *a, uint64_t new_total)
{
	if (new_total <= a->sb.total_blocks)
		return;
	a->free_blocks += new_total - a->sb.total_blocks;
	a->sb.total_blocks = new_total;
	a->sb.bitmap_len = (new_total + CSVFS_BITMAP_BITS - 1) /
			   CSVFS_BITMAP_BITS;
}

struct subblk *alloc_sub(struct alloc *a)
{
	return a->sub;
}

int alloc_take_empty_chunk(struct alloc *a, struct jop *op, unsigned spare,
			   uint64_t *blk)
{
	struct mbuf *mb, *pmb, *vmb;
	uint64_t k, empty = 0, victim = 0;
	int rc;

	/* Chunk 0 holds the root inode; spare empty chunks stay. */
	for (k = 1; k < a->nchunks; k++)
		if (a->chunks[k].nfree == a->mblks_per_chunk - 1 &&
		    empty++ >= spare && !victim)
			victim = k;
	if (!victim)
		return -ENOENT;
	if (subblk_release_pending(op))
		return -EBUSY;	/* one release at a time */
	rc = chunk_header(a, op, a->chunks[victim].blk, &mb);
	if (!rc)
		rc = chunk_header(a, op, a->chunks[victim - 1].blk, &pmb);
	if (!rc)
		rc = jop_read(op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &vmb);
	if (!rc)
		rc = jop_write(op, pmb);
	if (!rc)
		rc = jop_write(op, vmb);
	if (rc)
		return rc;
	od_put64(pmb->data + CHUNK_NEXT_OFF, od_get64(mb->data +
						      CHUNK_NEXT_OFF));
	*blk = a->chunks[victim].blk;
	od_put64(vmb->data + VSTATE_RELEASE_OFF, *blk);
	memmove(&a->chunks[victim], &a->chunks[victim + 1],
		(a->nchunks - victim - 1) * sizeof(*a->chunks));
	a->nchunks--;
	a->chunk_hint = 0;
	return 0;
}
