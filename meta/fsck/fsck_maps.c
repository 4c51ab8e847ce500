/*
 * fsck_maps: what is owned against what the maps say (the allocation
 * bitmap, the chunk maps): at the end of pass 2 only the safe direction
 * (blocks in use marked free get marked, so nothing can allocate them),
 * in pass 5 both (blocks marked in use that nothing owns are freed, after
 * zeroing, when nothing else is left broken).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/errors.h"
#include "meta/alloc.h"
#include "meta/dev.h"
#include "meta/fsck/fsck_i.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"

/* ---- comparing ownership with the maps (passes 2 and 5) ---------------- */

/* Sets or clears the allocation bits of [start, start + len). */
static int bm_bits(struct fsck *f, uint64_t start, uint64_t len, int v)
{
	struct mbuf *mb = NULL;
	struct jop op;
	uint64_t b;
	int rc = 0;

	jop_begin(f->j, &op);
	for (b = start; b < start + len && !rc; b++) {
		if (!mb || b % CSVFS_BITMAP_BITS == 0) {
			rc = jop_read(&op, f->sb.bitmap_mblk +
				      b / CSVFS_BITMAP_BITS,
				      CSVFS_MAGIC_BITMAP, &mb);
			if (!rc)
				rc = jop_write(&op, mb);
			if (rc)
				break;
		}
		fk_bit_put(mb->data + CSVFS_MHDR_SIZE, b % CSVFS_BITMAP_BITS,
			   v);
	}
	jop_end(&op, rc);
	fk_maybe_commit(f);
	return rc;
}


int fk_cmp_run(const void *x, const void *y)
{
	const struct frun *a = x, *b = y;

	if (a->pblk != b->pblk)
		return a->pblk < b->pblk ? -1 : 1;
	if (a->owner != b->owner)
		return a->owner < b->owner ? -1 : 1;
	return a->lblk < b->lblk ? -1 : a->lblk > b->lblk;
}

int fk_cmp_ref(const void *x, const void *y)
{
	const struct fref *a = x, *b = y;

	if (a->mblk != b->mblk)
		return a->mblk < b->mblk ? -1 : 1;
	return a->owner < b->owner ? -1 : a->owner > b->owner;
}

/* The owner of large block b (runs sorted). */
static uint64_t owner_of(const struct fsck *f, uint64_t b, int *found)
{
	size_t lo = 0, hi = f->nrun, i;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (f->run[mid].pblk <= b)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i-- > 0 && lo - i <= 64;)
		if (b < f->run[i].pblk + f->run[i].len) {
			*found = 1;
			return f->run[i].owner;
		}
	*found = 0;
	return 0;
}

static uint64_t ref_owner(const struct fsck *f, uint64_t mblk)
{
	size_t lo = 0, hi = f->nref;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (f->ref[mid].mblk < mblk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->nref ? f->ref[lo].owner : 0;
}

enum { D_OWNED_FREE = 1, D_LEAKED, D_PAST_END, D_CHUNK };

struct bdiff {
	uint64_t start, len, owner;
	int kind;
};

struct bdiffv {
	struct bdiff *d;
	size_t n, cap;
};

static int bdiff_add(struct bdiffv *v, int kind, uint64_t b, uint64_t owner)
{
	struct bdiff *l = v->n ? &v->d[v->n - 1] : NULL, *nd;

	if (l && l->kind == kind && l->start + l->len == b &&
	    l->owner == owner) {
		l->len++;
		return 0;
	}
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		nd = realloc(v->d, v->cap * sizeof(*nd));
		if (!nd)
			return -ENOMEM;
		v->d = nd;
	}
	v->d[v->n++] = (struct bdiff){ b, 1, owner, kind };
	return 0;
}

/* Reports and fixes one run of bitmap bits that differ. */
static void block_diff(struct fsck *f, const struct bdiff *d, int stray)
{
	char rs[80], on[40];
	uint64_t b;
	int rc;

	fk_range_str(d->start, d->len, rs, sizeof(rs));
	switch (d->kind) {
	case D_PAST_END:
		if (fk_problem(f, 1, "bitmap: blocks %s past the end of the "
			       "volume marked free", rs))
			fk_result(f, bm_bits(f, d->start, d->len, 1), NULL);
		break;
	case D_OWNED_FREE:
		if (fk_problem(f, 1, "block %s in use by %s but marked free",
			       rs,
			       fk_owner_name(d->owner, on, sizeof(on))))
			fk_result(f, bm_bits(f, d->start, d->len, 1),
				  "marked in use");
		break;
	case D_CHUNK:
		for (b = d->start; b < d->start + d->len; b++) {
			uint64_t last = f->chunk[f->nchunk - 1];

			if (!fk_problem(f, 0, "meta chunk at block %llu is not "
					"on the chunk list",
					(unsigned long long)b))
				continue;
			rc = fk_chunk_link(f, last, b);
			if (!rc)
				rc = fk_chunk_link(f, b, 0);
			if (!rc)
				rc = fk_chunk_add(f, b);
			fk_result(f, rc, "linked after chunk %llu; the check "
				  "starts again", (unsigned long long)last);
			f->restart |= !rc;
		}
		break;
	default:
		if (!fk_problem(f, 1, "leaked block %s: marked in use, owned "
				"by nothing", rs))
			break;
		/* Files in a meta chunk that fell off the list may own it;
		 * and what is left broken may need it. */
		if (stray || !f->free_leaks) {
			fk_result(f, -CSVFS_ECORRUPT, stray ? "kept: meta "
				  "chunks are missing and their files may own "
				  "it" : "kept until the other problems are "
				  "repaired");
			break;
		}
		rc = dev_zero(f->d, d->start * f->bsize, d->len * f->bsize);
		if (!rc)
			rc = dev_flush(f->d);
		if (!rc)
			rc = bm_bits(f, d->start, d->len, 0);
		fk_result(f, rc, rc ? NULL : "zeroed and freed");
	}
}

static void set_bits(uint8_t *map, uint64_t from, uint64_t to)
{
	uint64_t i;

	for (i = from; i < to && i % 8; i++)
		fk_bit_put(map, i, 1);
	if (to - i >= 8) {
		memset(map + i / 8, 0xff, (to - i) / 8);
		i += (to - i) / 8 * 8;
	}
	for (; i < to; i++)
		fk_bit_put(map, i, 1);
}

/* The bits the bitmap block at base should hold (runs sorted). */
static void expected_bits(struct fsck *f, uint64_t base, uint64_t *r0,
			  uint8_t *exp)
{
	uint64_t end = base + CSVFS_BITMAP_BITS, r;

	memset(exp, 0, CSVFS_BITMAP_BYTES);
	/* every run before *r0 ends before this bitmap block */
	while (*r0 < f->nrun && f->run[*r0].pblk + f->run[*r0].len <= base)
		(*r0)++;
	for (r = *r0; r < f->nrun && f->run[r].pblk < end; r++) {
		uint64_t s = f->run[r].pblk, e = s + f->run[r].len;

		if (e > base)
			set_bits(exp, (s > base ? s : base) - base,
				 (e < end ? e : end) - base);
	}
	if (f->sb.total_blocks < end)
		set_bits(exp, f->sb.total_blocks > base ?
			 f->sb.total_blocks - base : 0, CSVFS_BITMAP_BITS);
}

/*
 * Compares the allocation bitmap with the runs (sorted here): bits of
 * owned blocks that are clear are reported and set; with leaks, set bits
 * of blocks nothing owns are reported, zeroed and cleared, unless one of
 * them still holds a meta chunk header (then none is freed).
 */
int fk_compare_blocks(struct fsck *f, int leaks)
{
	uint8_t raw[CSVFS_MBLK_SIZE], exp[CSVFS_BITMAP_BYTES];
	struct bdiffv v = { NULL, 0, 0 }, w = { NULL, 0, 0 };
	uint64_t i, r0 = 0, grown = 0;
	uint64_t dev_blocks = f->d->size >> f->sb.block_shift;
	int rc = 0, found, stray = 0;
	struct jop op;

	if (f->nrun)
		qsort(f->run, f->nrun, sizeof(*f->run), fk_cmp_run);
	for (i = 0; i < f->sb.bitmap_len && !rc; i++) {
		uint64_t base = i * CSVFS_BITMAP_BITS, k;

		fk_progress(f, "checking the bitmap", i, f->sb.bitmap_len);
		jop_begin(f->j, &op);
		rc = fk_read(f, &op, f->sb.bitmap_mblk + i, CSVFS_MAGIC_BITMAP,
			     raw);
		jop_end(&op, 0);
		if (rc && rc != -CSVFS_EBADCRC) {
			rc = 0;
			continue;	/* reported in pass 1 */
		}
		rc = 0;
		expected_bits(f, base, &r0, exp);
		for (k = 0; k < CSVFS_BITMAP_BITS && !rc; k++) {
			uint64_t b = base + k;
			int want = fk_bit(exp, k), have, kind;

			if (k % 8 == 0 && exp[k / 8] ==
			    raw[CSVFS_MHDR_SIZE + k / 8]) {
				k += 7;
				continue;
			}
			have = fk_bit(raw + CSVFS_MHDR_SIZE, k);
			if (want == have || (!want && !leaks))
				continue;
			/* Cleared past the end but on the device: a grow
			 * stopped before its superblock (mds_space.c). */
			if (!have && b >= f->sb.total_blocks &&
			    b < dev_blocks) {
				grown++;
				continue;
			}
			kind = !want ? D_LEAKED : b >= f->sb.total_blocks ?
			       D_PAST_END : D_OWNED_FREE;
			rc = bdiff_add(&v, kind, b, kind == D_OWNED_FREE ?
				       owner_of(f, b, &found) : 0);
		}
	}
	fk_progress(f, "", 1, 1);
	if (grown)
		fk_info(f, "bitmap: %llu blocks past the end of the volume are "
			"marked free (an interrupted grow; csvfsctl grow "
			"finishes it)", (unsigned long long)grown);
	/* Leaked blocks that still start with a chunk header stand apart. */
	for (i = 0; i < v.n && !rc; i++) {
		uint64_t b;

		for (b = v.d[i].start; !rc && b < v.d[i].start + v.d[i].len;
		     b++) {
			int chunk = v.d[i].kind == D_LEAKED &&
				    fk_holds_chunk(f, b);

			stray |= chunk;
			rc = bdiff_add(&w, chunk ? D_CHUNK : v.d[i].kind, b,
				       v.d[i].owner);
		}
	}
	for (i = 0; i < w.n && !rc; i++)
		block_diff(f, &w.d[i], stray);
	free(v.d);
	free(w.d);
	if (rc)
		f->opfail = 1;
	return rc;
}

static const char *mblk_kind(struct fsck *f, uint64_t m)
{
	uint8_t raw[CSVFS_MBLK_SIZE];

	if (fk_pread(f, raw, m))
		return "unreadable";
	switch (od_get32(raw)) {
	case CSVFS_MAGIC_INODE:
		return od_get32(raw + 0x40) ? "inode" : "freed inode";
	case CSVFS_MAGIC_EXTENT: return "extent block";
	case CSVFS_MAGIC_DINDEX: return "directory index";
	case CSVFS_MAGIC_DBUCKET: return "directory bucket";
	case 0: return "empty";
	}
	return "unrecognized contents";
}

/*
 * Reports and fixes a run of chunk map bits: set 1 = in use but marked
 * free, 0 = leaked, 2 = replaced by a repair of ours (freed, not an error).
 */
static void chunk_diff(struct fsck *f, int set, uint64_t m, uint64_t n)
{
	char rs[80];
	struct jop op;
	int rc;

	if (set == 2) {
		if (!f->rw || !f->free_leaks)
			return;
		jop_begin(f->j, &op);
		rc = fk_chunk_bits(f, &op, m, n, 0);
		jop_end(&op, rc);
		fk_maybe_commit(f);
		return;
	}
	if (set ? !fk_problem(f, 1, "metadata block %s (%s of inode %llu) in "
			      "use but marked free",
			      fk_range_str(m, n, rs, sizeof(rs)),
			      m % f->mpb ? mblk_kind(f, m) : "chunk header",
			      (unsigned long long)ref_owner(f, m)) :
		  !fk_problem(f, 1, "leaked metadata block %s (%s): marked in "
			      "use, referenced by nothing",
			      fk_range_str(m, n, rs, sizeof(rs)),
			      mblk_kind(f, m)))
		return;
	if (!set && !f->free_leaks) {
		fk_result(f, -CSVFS_ECORRUPT, "kept until the other problems "
			  "are repaired");
		return;
	}
	jop_begin(f->j, &op);
	rc = fk_chunk_bits(f, &op, m, n, set);
	jop_end(&op, rc);
	fk_maybe_commit(f);
	fk_result(f, rc, set ? "marked in use" : "freed");
}

/* Clears the map bits past the chunk's own blocks. */
static int chunk_tail_clear(struct fsck *f, struct jop *op, uint64_t base)
{
	struct csvfs_chunk ch;
	struct mbuf *mb;
	uint64_t i;
	int rc;

	rc = jop_read(op, base, CSVFS_MAGIC_CHUNK, &mb);
	if (!rc)
		rc = jop_write(op, mb);
	if (rc)
		return rc;
	od_chunk_decode(mb->data, &ch);
	for (i = f->mpb; i < CSVFS_CHUNK_MAX_MBLKS; i++)
		fk_bit_put(ch.used, i, 0);
	od_chunk_encode(&ch, mb->data);
	return 0;
}

/* The chunk maps against the references (sorted here); see compare_blocks. */
int fk_compare_chunks(struct fsck *f, int leaks)
{
	struct csvfs_chunk ch;
	uint8_t raw[CSVFS_MBLK_SIZE], exp[CSVFS_CHUNK_MAX_MBLKS / 8];
	size_t c, r;
	struct jop op;
	int rc;

	if (f->nref)
		qsort(f->ref, f->nref, sizeof(*f->ref), fk_cmp_ref);
	for (c = 0; c < f->nchunk && !f->opfail; c++) {
		uint64_t base = f->chunk[c] * f->mpb, i, ds = 0, dn = 0;
		int dk = -1;

		jop_begin(f->j, &op);
		rc = fk_read(f, &op, base, CSVFS_MAGIC_CHUNK, raw);
		jop_end(&op, 0);
		if (rc && rc != -CSVFS_EBADCRC)
			continue;
		od_chunk_decode(raw, &ch);
		memset(exp, 0, sizeof(exp));
		fk_bit_put(exp, 0, 1);
		r = 0;
		{
			size_t lo = 0, hi = f->nref;

			while (lo < hi) {
				size_t mid = (lo + hi) / 2;

				if (f->ref[mid].mblk < base)
					lo = mid + 1;
				else
					hi = mid;
			}
			r = lo;
		}
		for (; r < f->nref && f->ref[r].mblk < base + f->mpb; r++)
			fk_bit_put(exp, f->ref[r].mblk - base, 1);
		for (i = 0; i <= f->mpb; i++) {
			int want = i < f->mpb ? fk_bit(exp, i) : 0;
			int have = i < f->mpb ? fk_bit(ch.used, i) : 0, kind;

			kind = want == have || (!want && !leaks) ? -1 : want;
			if (kind == 0 && fk_released(f, base + i))
				kind = 2;
			if (kind == dk && kind >= 0) {
				dn++;
				continue;
			}
			if (dk >= 0)
				chunk_diff(f, dk, base + ds, dn);
			dk = kind;
			ds = i;
			dn = 1;
		}
		if (!leaks || fk_popcount(ch.used, CSVFS_CHUNK_MAX_MBLKS) ==
		    fk_popcount(ch.used, f->mpb) ||
		    !fk_problem(f, 1, "meta chunk at block %llu: map bits set "
				"past its %llu metadata blocks",
				(unsigned long long)f->chunk[c],
				(unsigned long long)f->mpb))
			continue;
		jop_begin(f->j, &op);
		rc = chunk_tail_clear(f, &op, base);
		jop_end(&op, rc);
		fk_result(f, rc, NULL);
	}
	return 0;
}

/* ---- pass 5: the maps ---------------------------------------------------- */

int fk_pass5(struct fsck *f)
{
	size_t i;
	uint64_t used = 0, end = 0;

	fk_pass(f, "Pass 5: checking the allocation bitmap and chunk maps");
	if (f->changed && fk_recollect(f))
		return -ENOMEM;
	/* Freeing is the one repair that cannot be taken back: only on a
	 * volume where everything else is in order. */
	f->free_leaks = f->r->errors == f->r->fixed;
	fk_compare_blocks(f, 1);
	if (f->restart)	/* the relinked chunks are not collected */
		return fk_commit(f);
	fk_compare_chunks(f, 1);
	fk_sub_check(f);
	for (i = 0; i < f->nref; i++) {
		uint64_t m = f->ref[i].mblk;

		if ((i && m == f->ref[i - 1].mblk) ||
		    (fk_chunk_of(f, m) >= 0 && m % f->mpb))
			continue;
		if (fk_problem(f, 0, "metadata block %llu (inode %llu) lies "
			       "outside every meta chunk",
			       (unsigned long long)m,
			       (unsigned long long)f->ref[i].owner))
			fk_result(f, -CSVFS_ECORRUPT, "no safe repair");
	}
	for (i = 0; i < f->nrun; i++) {
		uint64_t s = f->run[i].pblk, e = s + f->run[i].len;

		if (s < end)
			s = end;
		if (s < f->sb.data_start)
			s = f->sb.data_start;
		if (e > s)
			used += e - s;
		if (e > end)
			end = e;
	}
	f->r->blocks_used = used;
	fk_resync(f);
	return fk_commit(f);
}
