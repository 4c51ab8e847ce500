/*
 * extent: in-memory extent maps and their two on-disk forms (inline in the
 * inode body; leaves of CSVFS_EXTBLK_MAX extents indexed from the body).
 *
 * A leaf covers the lblks from its "first" up to the next leaf's. ext_store
 * assigns each extent to the leaf covering it, splits a leaf that overflows
 * (halves of LEAF_SPLIT), drops empty leaves, and rewrites only leaves whose
 * bytes changed. The map goes back inline when it shrinks to half of what
 * fits there (hysteresis, so a map near the limit does not flap).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/errors.h"
#include "meta/alloc.h"
#include "meta/extent.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"

#define LEAF_SPLIT	(CSVFS_EXTBLK_MAX * 3 / 4)

static int grow(struct extmap *m, size_t need)
{
	struct csvfs_extent *n;
	size_t cap;

	if (need <= m->cap)
		return 0;
	cap = m->cap ? m->cap * 2 : 16;
	while (cap < need)
		cap *= 2;
	n = realloc(m->e, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	m->e = n;
	m->cap = cap;
	return 0;
}

void ext_free(struct extmap *m)
{
	free(m->e);
	free(m->leaf);
	memset(m, 0, sizeof(*m));
}

static int valid_ext(const struct csvfs_extent *e)
{
	if (e->flags & CSVFS_EXT_SUB)
		return e->lblk == 0 && e->len > 0 &&
		       e->len < CSVFS_CHUNK_MAX_MBLKS &&
		       e->flags == CSVFS_EXT_SUB;
	return e->len > 0 && e->lblk + e->len > e->lblk &&
	       e->pblk + e->len > e->pblk && !(e->flags &
		  ~(uint32_t)(CSVFS_EXT_UNWRITTEN | CSVFS_EXT_AHEAD));
}

int ext_load(struct jop *op, uint64_t ino, const struct csvfs_inode *in,
	     struct extmap *m)
{
	size_t i, k;
	int rc;

	memset(m, 0, sizeof(*m));
	if (in->flags & CSVFS_IFL_INLINE)
		return 0;
	if (!(in->flags & CSVFS_IFL_EXTBLOCKS)) {
		if (in->nextents > CSVFS_INLINE_EXTENTS)
			return -CSVFS_ECORRUPT;
		rc = grow(m, in->nextents);
		if (rc)
			return rc;
		for (i = 0; i < in->nextents; i++) {
			od_extent_decode(in->body + i * 24, &m->e[i]);
			if (!valid_ext(&m->e[i]) ||
			    (i && m->e[i].lblk < m->e[i - 1].lblk +
						 m->e[i - 1].len))
				goto corrupt;
		}
		m->n = in->nextents;
		/* A sub-block run is a file's only extent. */
		for (i = 0; i < m->n; i++)
			if ((m->e[i].flags & CSVFS_EXT_SUB) && m->n != 1)
				goto corrupt;
		return 0;
	}
	if (in->nextents == 0 || in->nextents > CSVFS_EXTBLK_INDEX_MAX)
		return -CSVFS_ECORRUPT;
	m->leaf = calloc(in->nextents, sizeof(*m->leaf));
	if (!m->leaf)
		return -ENOMEM;
	m->nleaf = in->nextents;
	for (k = 0; k < m->nleaf; k++) {
		struct csvfs_extblk x;
		struct mbuf *mb;

		m->leaf[k].first = od_get64(in->body + k * 16);
		m->leaf[k].mblk = od_get64(in->body + k * 16 + 8);
		rc = jop_read(op, m->leaf[k].mblk, CSVFS_MAGIC_EXTENT, &mb);
		if (rc)
			goto out;
		od_extblk_decode(mb->data, &x);
		if (x.ino != ino || x.count > CSVFS_EXTBLK_MAX)
			goto corrupt;
		rc = grow(m, m->n + x.count);
		if (rc)
			goto out;
		for (i = 0; i < x.count; i++) {
			struct csvfs_extent *e = &m->e[m->n];

			*e = x.ext[i];
			if (!valid_ext(e) || (e->flags & CSVFS_EXT_SUB) || e->lblk < m->leaf[k].first ||
			    (m->n && e->lblk < e[-1].lblk + e[-1].len))
				goto corrupt;
			m->n++;
		}
	}
	return 0;
corrupt:
	rc = -CSVFS_ECORRUPT;
out:
	ext_free(m);
	return rc;
}

int ext_is_sub(const struct extmap *m)
{
	return m->n == 1 && (m->e[0].flags & CSVFS_EXT_SUB);
}

uint64_t ext_blocks(const struct extmap *m)
{
	uint64_t total = 0;
	size_t i;

	/* A sub-block run counts 4 KiB units, not large blocks. */
	for (i = 0; i < m->n; i++)
		if (!(m->e[i].flags & CSVFS_EXT_SUB))
			total += m->e[i].len;
	return total;
}

long ext_find(const struct extmap *m, uint64_t lblk, size_t *after)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->e[mid].lblk + m->e[mid].len <= lblk)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (after)
		*after = lo;
	if (lo < m->n && m->e[lo].lblk <= lblk)
		return (long)lo;
	return -1;
}

static int mergeable(const struct csvfs_extent *a, const struct csvfs_extent *b)
{
	return a->lblk + a->len == b->lblk && a->pblk + a->len == b->pblk &&
	       a->flags == b->flags && (uint64_t)a->len + b->len <= UINT32_MAX;
}

static void merge_at(struct extmap *m, size_t i)
{
	if (i + 1 < m->n && mergeable(&m->e[i], &m->e[i + 1])) {
		m->e[i].len += m->e[i + 1].len;
		memmove(&m->e[i + 1], &m->e[i + 2],
			(m->n - i - 2) * sizeof(*m->e));
		m->n--;
	}
	if (i > 0 && mergeable(&m->e[i - 1], &m->e[i])) {
		m->e[i - 1].len += m->e[i].len;
		memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(*m->e));
		m->n--;
	}
}

int ext_insert(struct extmap *m, const struct csvfs_extent *e)
{
	size_t pos;
	int rc;

	if (!valid_ext(e) || (e->flags & CSVFS_EXT_SUB) || ext_is_sub(m))
		return -EINVAL;
	if (ext_find(m, e->lblk, &pos) >= 0 ||
	    (pos < m->n && m->e[pos].lblk < e->lblk + e->len))
		return -EEXIST;
	rc = grow(m, m->n + 1);
	if (rc)
		return rc;
	memmove(&m->e[pos + 1], &m->e[pos], (m->n - pos) * sizeof(*m->e));
	m->e[pos] = *e;
	m->n++;
	merge_at(m, pos);
	return 0;
}

/* Splits so that an extent starts exactly at lblk (if one covers it). */
static int split_at(struct extmap *m, uint64_t lblk)
{
	long i = ext_find(m, lblk, NULL);
	struct csvfs_extent *e, tail;
	int rc;

	if (i < 0 || m->e[i].lblk == lblk)
		return 0;
	rc = grow(m, m->n + 1);
	if (rc)
		return rc;
	e = &m->e[i];
	tail = *e;
	tail.len = (uint32_t)(e->lblk + e->len - lblk);
	tail.pblk = e->pblk + (lblk - e->lblk);
	tail.lblk = lblk;
	e->len = (uint32_t)(lblk - e->lblk);
	memmove(&m->e[i + 2], &m->e[i + 1], (m->n - (size_t)i - 1) *
		sizeof(*m->e));
	m->e[i + 1] = tail;
	m->n++;
	return 0;
}

int ext_remove(struct extmap *m, uint64_t lblk, uint64_t count,
	       struct ext_run **runs, size_t *nruns)
{
	uint64_t end = lblk + count;
	size_t pos, i, j;
	int rc;

	if (count == 0)
		return 0;
	/* Large-block arithmetic on a sub-block run would free wrong blocks. */
	if (ext_is_sub(m))
		return -EINVAL;
	if (end < lblk)
		end = UINT64_MAX;
	rc = split_at(m, lblk);
	if (!rc && end != UINT64_MAX)
		rc = split_at(m, end);
	if (rc)
		return rc;
	ext_find(m, lblk, &pos);
	for (i = pos; i < m->n && m->e[i].lblk < end; i++) {
		struct ext_run *nr = realloc(*runs, (*nruns + 1) *
					     sizeof(**runs));

		if (!nr)
			return -ENOMEM;
		*runs = nr;
		nr[*nruns].pblk = m->e[i].pblk;
		nr[*nruns].len = m->e[i].len;
		(*nruns)++;
	}
	j = i;
	memmove(&m->e[pos], &m->e[j], (m->n - j) * sizeof(*m->e));
	m->n -= j - pos;
	return 0;
}

int ext_mark_written(struct extmap *m, uint64_t lblk, uint64_t count)
{
	uint64_t end = lblk + count;
	size_t pos, i;
	int rc;

	if (ext_is_sub(m))
		return 0;	/* a sub-block run is never UNWRITTEN */
	rc = split_at(m, lblk);
	if (!rc)
		rc = split_at(m, end);
	if (rc)
		return rc;
	ext_find(m, lblk, &pos);
	for (i = pos; i < m->n && m->e[i].lblk < end; i++)
		m->e[i].flags &= ~(uint32_t)(CSVFS_EXT_UNWRITTEN |
					     CSVFS_EXT_AHEAD);
	/* Merge back what became alike. */
	for (i = pos ? pos - 1 : 0; i + 1 < m->n && i <= pos + (end - lblk);) {
		if (mergeable(&m->e[i], &m->e[i + 1])) {
			m->e[i].len += m->e[i + 1].len;
			memmove(&m->e[i + 1], &m->e[i + 2],
				(m->n - i - 2) * sizeof(*m->e));
			m->n--;
		} else {
			i++;
		}
	}
	return 0;
}

int ext_drop_leaves(struct jop *op, struct alloc *a, struct extmap *m)
{
	size_t k;
	int rc;

	for (k = 0; k < m->nleaf; k++) {
		rc = alloc_free_mblk(a, op, m->leaf[k].mblk);
		if (rc)
			return rc;
	}
	free(m->leaf);
	m->leaf = NULL;
	m->nleaf = 0;
	return 0;
}

static void store_inline(struct csvfs_inode *in, const struct extmap *m)
{
	size_t i;

	memset(in->body, 0, sizeof(in->body));
	for (i = 0; i < m->n; i++)
		od_extent_encode(&m->e[i], in->body + i * 24);
	in->flags &= ~(uint32_t)CSVFS_IFL_EXTBLOCKS;
	in->nextents = (uint32_t)m->n;
}

/* Writes one leaf with extents e[0..n) if its bytes change. */
static int leaf_write(struct jop *op, uint64_t ino, uint64_t mblk, int fresh,
		      const struct csvfs_extent *e, size_t n)
{
	struct csvfs_extblk x;
	struct mbuf *mb;
	uint8_t raw[CSVFS_MBLK_SIZE];
	size_t i;
	int rc;

	memset(&x, 0, sizeof(x));
	od_hdr_init(&x.hdr, CSVFS_MAGIC_EXTENT, mblk, jrnl_uuid(op->j));
	x.ino = ino;
	x.count = (uint32_t)n;
	for (i = 0; i < n; i++)
		x.ext[i] = e[i];
	if (fresh) {
		rc = jop_new(op, mblk, &mb);
		if (rc)
			return rc;
		od_extblk_encode(&x, mb->data);
		return 0;
	}
	rc = jop_read(op, mblk, CSVFS_MAGIC_EXTENT, &mb);
	if (rc)
		return rc;
	/* Compare payloads only: the stored header carries tid/checksum. */
	od_extblk_encode(&x, raw);
	if (memcmp(raw + CSVFS_MHDR_SIZE, mb->data + CSVFS_MHDR_SIZE,
		   CSVFS_MBLK_SIZE - CSVFS_MHDR_SIZE) == 0)
		return 0;
	rc = jop_write(op, mb);
	if (rc)
		return rc;
	memcpy(mb->data + CSVFS_MHDR_SIZE, raw + CSVFS_MHDR_SIZE,
	       CSVFS_MBLK_SIZE - CSVFS_MHDR_SIZE);
	return 0;
}

int ext_store(struct jop *op, struct alloc *a, uint64_t ino,
	      struct csvfs_inode *in, struct extmap *m)
{
	struct ext_leaf *nl = NULL;
	size_t nn = 0, k, i = 0, oldk;
	int was_leaves = !!(in->flags & CSVFS_IFL_EXTBLOCKS);
	int rc = 0;

	/* An inline file's body is its data, not a map. */
	if (in->flags & CSVFS_IFL_INLINE)
		return m->n ? -EINVAL : 0;

	if (m->n <= (was_leaves ? CSVFS_INLINE_EXTENTS / 2 :
				  CSVFS_INLINE_EXTENTS)) {
		rc = ext_drop_leaves(op, a, m);
		if (!rc)
			store_inline(in, m);
		return rc;
	}
	nl = calloc(CSVFS_EXTBLK_INDEX_MAX + 1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	/* Old leaf k covers [leaf[k].first, leaf[k+1].first). */
	oldk = 0;
	while (i < m->n || oldk < m->nleaf) {
		uint64_t limit = UINT64_MAX, mblk = 0;
		size_t start = i, cnt, done = 0;
		int fresh = 0;

		if (oldk + 1 < m->nleaf)
			limit = m->leaf[oldk + 1].first;
		while (i < m->n && (oldk >= m->nleaf || m->e[i].lblk < limit))
			i++;
		cnt = i - start;
		if (oldk < m->nleaf)
			mblk = m->leaf[oldk].mblk;
		if (cnt == 0 && oldk < m->nleaf) {
			rc = alloc_free_mblk(a, op, mblk);
			if (rc)
				goto out;
			oldk++;
			continue;
		}
		while (done < cnt) {
			size_t part = cnt - done;

			if (part > CSVFS_EXTBLK_MAX)
				part = LEAF_SPLIT < part ? LEAF_SPLIT : part;
			if (nn == CSVFS_EXTBLK_INDEX_MAX) {
				rc = -EFBIG;
				goto out;
			}
			if (!mblk) {
				rc = alloc_mblk(a, op, &mblk);
				if (rc)
					goto out;
				fresh = 1;
			}
			rc = leaf_write(op, ino, mblk, fresh,
					&m->e[start + done], part);
			if (rc)
				goto out;
			nl[nn].first = nn == 0 ? 0 : m->e[start + done].lblk;
			nl[nn].mblk = mblk;
			nn++;
			done += part;
			mblk = 0;
		}
		oldk++;
	}
	memset(in->body, 0, sizeof(in->body));
	for (k = 0; k < nn; k++) {
		od_put64(in->body + k * 16, nl[k].first);
		od_put64(in->body + k * 16 + 8, nl[k].mblk);
	}
	in->flags |= CSVFS_IFL_EXTBLOCKS;
	in->nextents = (uint32_t)nn;
	free(m->leaf);
	m->leaf = nl;
	m->nleaf = nn;
	return 0;
out:
	free(nl);
	return rc;
}
