/*
 * fmap: sorted arrays. Maps stay small (a sequentially written 1 TiB
 * image is a handful of extents; ranges are flushed at 64), so inserts
 * rebuild the array in O(n) and lookups binary-search it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/ondisk.h"
#include "fs/fmap.h"
#include "net/mdc.h"

void fmap_init(struct fmap *m)
{
	m->ext = NULL;
	m->n = m->cap = 0;
}

void fmap_release(struct fmap *m)
{
	free(m->ext);
	fmap_init(m);
}

int fmap_find(const struct fmap *m, uint64_t lblk, uint32_t *idx)
{
	uint32_t lo = 0, hi = m->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct csvfs_wext *e = &m->ext[mid];

		if (lblk < e->lblk) {
			hi = mid;
		} else if (lblk >= e->lblk + e->len) {
			lo = mid + 1;
		} else {
			*idx = mid;
			return 1;
		}
	}
	*idx = lo;
	return 0;
}

uint64_t fmap_end(const struct fmap *m)
{
	const struct csvfs_wext *e;

	if (!m->n)
		return 0;
	e = &m->ext[m->n - 1];
	return e->lblk + e->len;
}

/* Merges neighbours that continue each other on the device. */
static void fmap_coalesce(struct fmap *m)
{
	uint32_t i, k = 0;

	for (i = 0; i < m->n; i++) {
		struct csvfs_wext *p = k ? &m->ext[k - 1] : NULL;
		const struct csvfs_wext *e = &m->ext[i];

		if (p && p->lblk + p->len == e->lblk &&
		    p->pblk + p->len == e->pblk && p->flags == e->flags &&
		    (uint64_t)p->len + e->len <= UINT32_MAX) {
			p->len += e->len;
			continue;
		}
		m->ext[k++] = *e;
	}
	m->n = k;
}

int fmap_push(struct fmap *m, const struct csvfs_wext *e)
{
	struct csvfs_wext *tmp;
	uint32_t cap;

	if (m->n == m->cap) {
		cap = m->cap ? m->cap * 2 : 16;
		tmp = realloc(m->ext, (size_t)cap * sizeof(*tmp));
		if (!tmp)
			return -ENOMEM;
		m->ext = tmp;
		m->cap = cap;
	}
	m->ext[m->n++] = *e;
	/* Only the new tail can continue its predecessor. */
	if (m->n >= 2) {
		struct csvfs_wext *p = &m->ext[m->n - 2];

		if (p->lblk + p->len == e->lblk &&
		    p->pblk + p->len == e->pblk && p->flags == e->flags &&
		    (uint64_t)p->len + e->len <= UINT32_MAX) {
			p->len += e->len;
			m->n--;
		}
	}
	return 0;
}

int fmap_insert(struct fmap *m, const struct csvfs_wext *e)
{
	uint64_t ns = e->lblk, ne = e->lblk + e->len;
	uint32_t i, k = 0, cap = m->n + 2;
	struct csvfs_wext *out;
	int placed = 0;

	if (!e->len)
		return 0;
	/* At most one extent splits in two, plus e itself. */
	out = malloc((size_t)cap * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (i = 0; i < m->n; i++) {
		struct csvfs_wext x = m->ext[i];
		uint64_t xs = x.lblk, xe = x.lblk + x.len;

		if (xe <= ns || xs >= ne) {
			if (!placed && xs >= ne) {
				out[k++] = *e;
				placed = 1;
			}
			out[k++] = x;
			continue;
		}
		if (xs < ns) {
			out[k] = x;
			out[k++].len = (uint32_t)(ns - xs);
		}
		if (!placed) {
			out[k++] = *e;
			placed = 1;
		}
		if (xe > ne) {
			out[k].lblk = ne;
			out[k].pblk = x.pblk + (ne - xs);
			out[k].len = (uint32_t)(xe - ne);
			out[k++].flags = x.flags;
		}
	}
	if (!placed)
		out[k++] = *e;
	free(m->ext);
	m->ext = out;
	m->n = k;
	m->cap = cap;
	fmap_coalesce(m);
	return 0;
}

int fmap_mark_written(struct fmap *m, uint64_t lb, uint64_t le,
			struct fmap_ranges *pend)
{
	uint64_t l = lb;
	uint32_t i;
	int rc;

	while (l < le) {
		struct csvfs_wext x, mid;
		uint64_t s, t;

		if (!fmap_find(m, l, &i)) {
			if (i >= m->n)
				break;
			l = m->ext[i].lblk;
			continue;
		}
		x = m->ext[i];
		s = l;
		t = x.lblk + x.len < le ? x.lblk + x.len : le;
		l = t;
		if (!(x.flags & CSVFS_EXT_UNWRITTEN))
			continue;
		rc = fmap_ranges_add(pend, s, t - s);
		if (rc)
			return rc;
		mid.lblk = s;
		mid.pblk = x.pblk + (s - x.lblk);
		mid.len = (uint32_t)(t - s);
		mid.flags = x.flags & ~(uint32_t)CSVFS_EXT_UNWRITTEN;
		/* Failing to split only means the range is queued again. */
		if (fmap_insert(m, &mid))
			break;
	}
	return 0;
}

void fmap_ranges_init(struct fmap_ranges *s)
{
	s->r = NULL;
	s->n = s->cap = 0;
}

void fmap_ranges_release(struct fmap_ranges *s)
{
	free(s->r);
	fmap_ranges_init(s);
}

int fmap_ranges_add(struct fmap_ranges *s, uint64_t lblk,
		      uint64_t count)
{
	uint64_t end = lblk + count;
	struct mdc_range *tmp;
	uint32_t i, j, cap;

	if (!count)
		return 0;
	/* First range that ends at or after lblk. */
	for (i = 0; i < s->n; i++)
		if (s->r[i].lblk + s->r[i].count >= lblk)
			break;
	if (i < s->n && s->r[i].lblk <= end) {
		struct mdc_range *r = &s->r[i];
		uint64_t rend = r->lblk + r->count;

		if (lblk < r->lblk)
			r->lblk = lblk;
		if (end > rend)
			rend = end;
		/* Swallow the following ranges the union now reaches. */
		for (j = i + 1; j < s->n && s->r[j].lblk <= rend; j++)
			if (s->r[j].lblk + s->r[j].count > rend)
				rend = s->r[j].lblk + s->r[j].count;
		r->count = rend - r->lblk;
		memmove(&s->r[i + 1], &s->r[j], (s->n - j) * sizeof(*s->r));
		s->n -= j - (i + 1);
		return 0;
	}
	if (s->n == s->cap) {
		cap = s->cap ? s->cap * 2 : 16;
		tmp = realloc(s->r, (size_t)cap * sizeof(*tmp));
		if (!tmp)
			return -ENOMEM;
		s->r = tmp;
		s->cap = cap;
	}
	memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(*s->r));
	s->r[i].lblk = lblk;
	s->r[i].count = count;
	s->n++;
	return 0;
}
