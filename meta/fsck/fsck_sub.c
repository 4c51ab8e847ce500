/*
 * fsck_sub: the sub-block map (meta/subblk.h). The sub chunks (the list
 * from vstate.sub_head, and a chunk whose release did not finish,
 * vstate.release_blk) are owned as large blocks like meta chunks; the
 * runs of the files (CSVFS_EXT_SUB extents) are checked to lie in a sub
 * chunk, to overlap no other run, and against each chunk's used[] bits:
 * a unit marked in use that no file owns is freed (marked dirty: it may
 * hold old bytes, and is zeroed when next handed out; nothing is lost),
 * a unit owned but marked free is marked in use, the dirty bit of a unit
 * in use is cleared and nused recounted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/errors.h"
#include "meta/fsck/fsck_i.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"

#define CHUNK_NUSED_OFF	0x54
#define CHUNK_USED_OFF	0x60
#define CHUNK_DIRTY_OFF	0x160

struct fsub_run {
	uint64_t mblk;
	uint64_t ino;
	uint32_t n;
};

struct fsub {
	uint64_t *chunk;
	size_t nchunk, capchunk;
	struct fsub_run *run;
	size_t nrun, caprun;
};

static struct fsub *sub_of(struct fsck *f)
{
	if (!f->sub)
		f->sub = calloc(1, sizeof(*f->sub));
	return f->sub;
}

void fk_sub_release(struct fsck *f)
{
	if (!f->sub)
		return;
	free(f->sub->chunk);
	free(f->sub->run);
	free(f->sub);
	f->sub = NULL;
}

void fk_sub_reset_runs(struct fsck *f)
{
	if (f->sub)
		f->sub->nrun = 0;
}

int fk_sub_run_add(struct fsck *f, uint64_t ino, const struct csvfs_extent *e)
{
	struct fsub *s = sub_of(f);

	if (!s)
		return -ENOMEM;
	if (s->nrun == s->caprun) {
		size_t cap = s->caprun ? s->caprun * 2 : 64;
		struct fsub_run *r = realloc(s->run, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		s->run = r;
		s->caprun = cap;
	}
	s->run[s->nrun].mblk = e->pblk;
	s->run[s->nrun].n = e->len;
	s->run[s->nrun].ino = ino;
	s->nrun++;
	return 0;
}

static int chunk_push(struct fsub *s, uint64_t blk)
{
	if (s->nchunk == s->capchunk) {
		size_t cap = s->capchunk ? s->capchunk * 2 : 16;
		uint64_t *c = realloc(s->chunk, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		s->chunk = c;
		s->capchunk = cap;
	}
	s->chunk[s->nchunk++] = blk;
	return 0;
}

int fk_sub_collect(struct fsck *f)
{
	struct fsub *s = sub_of(f);
	uint8_t raw[CSVFS_MBLK_SIZE];
	struct csvfs_vstate vs;
	struct csvfs_chunk ch;
	struct jop op;
	uint64_t blk, prev = 0;
	int rc;

	if (!s)
		return -ENOMEM;
	s->nchunk = 0;
	jop_begin(f->j, &op);
	rc = fk_read(f, &op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, raw);
	jop_end(&op, 0);
	if (rc)
		return 0;	/* pass 0/4 report the state block */
	od_vstate_decode(raw, &vs);
	if (vs.release_blk >= f->sb.data_start &&
	    vs.release_blk < f->sb.total_blocks) {
		rc = fk_run_add(f, vs.release_blk, 1, 0, OWN_CHUNK);
		if (rc)
			return rc;
	}
	for (blk = vs.sub_head; blk; blk = ch.next) {
		if (blk < f->sb.data_start || blk >= f->sb.total_blocks ||
		    s->nchunk > f->sb.total_blocks) {
			if (fk_problem(f, 0, "sub chunk list: link %llu after "
				       "chunk %llu is not a data block",
				       (unsigned long long)blk,
				       (unsigned long long)prev))
				fk_result(f, -CSVFS_ECORRUPT,
					  "no safe repair");
			return 0;
		}
		jop_begin(f->j, &op);
		rc = fk_read(f, &op, blk * f->mpb, CSVFS_MAGIC_SUBCHUNK, raw);
		jop_end(&op, 0);
		od_chunk_decode(raw, &ch);
		if (rc || ch.blk != blk || ch.nmblks != f->mpb ||
		    !(ch.used[0] & 1)) {
			if (fk_problem(f, 0, "sub chunk %llu: header damaged "
				       "(%s)", (unsigned long long)blk,
				       rc ? csvfs_strerror(rc) : "fields"))
				fk_result(f, -CSVFS_ECORRUPT,
					  "no safe repair");
			return 0;
		}
		rc = chunk_push(s, blk);
		if (!rc)
			rc = fk_run_add(f, blk, 1, 0, OWN_CHUNK);
		if (rc)
			return rc;
		prev = blk;
	}
	return 0;
}

static int cmp_run(const void *x, const void *y)
{
	const struct fsub_run *a = x, *b = y;

	return a->mblk < b->mblk ? -1 : a->mblk > b->mblk;
}

static long chunk_index(const struct fsub *s, uint64_t blk)
{
	size_t i;

	for (i = 0; i < s->nchunk; i++)
		if (s->chunk[i] == blk)
			return (long)i;
	return -1;
}

/* Compares one chunk's bits with what the runs own (want). */
static int check_chunk(struct fsck *f, uint64_t blk, const uint8_t *want)
{
	uint8_t raw[CSVFS_MBLK_SIZE];
	uint32_t leaked = 0, missing = 0, dirty = 0, nused = 1, stored;
	struct mbuf *mb;
	struct jop op;
	uint64_t i;
	int rc;

	jop_begin(f->j, &op);
	rc = fk_read(f, &op, blk * f->mpb, CSVFS_MAGIC_SUBCHUNK, raw);
	jop_end(&op, 0);
	if (rc)
		return 0;
	for (i = 1; i < f->mpb; i++) {
		int u = fk_bit(raw + CHUNK_USED_OFF, i), w = fk_bit(want, i);

		if (u && !w)
			leaked++;
		if (!u && w)
			missing++;
		if (w && fk_bit(raw + CHUNK_DIRTY_OFF, i))
			dirty++;
		nused += w;
	}
	stored = od_get32(raw + CHUNK_NUSED_OFF);
	if (!leaked && !missing && !dirty && stored == nused)
		return 0;
	if (!fk_problem(f, 1, "sub chunk %llu: %u units marked in use that "
			"no file owns, %u owned but marked free, %u in use "
			"marked dirty, count %u (should be %u)",
			(unsigned long long)blk, leaked, missing, dirty, stored,
			nused))
		return 0;
	jop_begin(f->j, &op);
	rc = jop_read(&op, blk * f->mpb, CSVFS_MAGIC_SUBCHUNK, &mb);
	if (!rc)
		rc = jop_write(&op, mb);
	if (!rc) {
		for (i = 1; i < f->mpb; i++) {
			int u = fk_bit(mb->data + CHUNK_USED_OFF, i);
			int w = fk_bit(want, i);

			if (u && !w)	/* freed: may hold old bytes */
				fk_bit_put(mb->data + CHUNK_DIRTY_OFF, i, 1);
			if (w)
				fk_bit_put(mb->data + CHUNK_DIRTY_OFF, i, 0);
			fk_bit_put(mb->data + CHUNK_USED_OFF, i, w);
		}
		fk_bit_put(mb->data + CHUNK_USED_OFF, 0, 1);
		od_put32(mb->data + CHUNK_NUSED_OFF, nused);
	}
	jop_end(&op, rc);
	fk_result(f, rc, NULL);
	fk_maybe_commit(f);
	f->changed = 1;
	return 0;
}

int fk_sub_check(struct fsck *f)
{
	struct fsub *s = sub_of(f);
	uint8_t *want;
	size_t i, k;
	int rc = 0;

	if (!s)
		return -ENOMEM;
	want = calloc(s->nchunk ? s->nchunk : 1, CSVFS_CHUNK_MAX_MBLKS / 8);
	if (!want)
		return -ENOMEM;
	if (s->nrun)	/* no runs: s->run may be NULL, qsort's is nonnull */
		qsort(s->run, s->nrun, sizeof(*s->run), cmp_run);
	for (i = 0; i < s->nrun; i++) {
		const struct fsub_run *r = &s->run[i];
		uint64_t blk = r->mblk / f->mpb, unit = r->mblk % f->mpb;
		long c = chunk_index(s, blk);

		if (c < 0 || unit == 0 || unit + r->n > f->mpb) {
			if (fk_problem(f, 0, "inode %llu: sub-block run %llu+%u "
				       "lies outside every sub chunk",
				       (unsigned long long)r->ino,
				       (unsigned long long)r->mblk, r->n))
				fk_result(f, -CSVFS_ECORRUPT,
					  "no safe repair");
			continue;
		}
		if (i && s->run[i - 1].mblk + s->run[i - 1].n > r->mblk) {
			if (fk_problem(f, 0, "inodes %llu and %llu: sub-block "
				       "runs overlap at %llu",
				       (unsigned long long)s->run[i - 1].ino,
				       (unsigned long long)r->ino,
				       (unsigned long long)r->mblk))
				fk_result(f, -CSVFS_ECORRUPT,
					  "no safe repair");
		}
		for (k = unit; k < unit + r->n; k++)
			fk_bit_put(want + (size_t)c * (CSVFS_CHUNK_MAX_MBLKS / 8),
				   k, 1);
	}
	for (k = 0; k < s->nchunk && !rc; k++)
		rc = check_chunk(f, s->chunk[k],
				 want + k * (CSVFS_CHUNK_MAX_MBLKS / 8));
	free(want);
	return rc;
}
