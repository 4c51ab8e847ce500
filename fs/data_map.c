/*
 * data_map: the extent map of an open file as the data path sees it
 * (fs/data.c): fetched from the coordinator, either large-block extents
 * or one sub-block run (meta/subblk.h), and the allocation of a write to
 * a small file, which may move its data (fs/data.c says how I/O waits).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "csvfs/ondisk.h"
#include "fs/data.h"
#include "fs/data_i.h"
#include "fs/fmap.h"
#include "net/mdc.h"

/* ---- extent map (f->lock held) ---------------------------------------- */

void data_map_drop(struct data_file *f)
{
	fmap_release(&f->map);
	f->map_valid = 0;
	f->sub = 0;
	f->sub_phys = f->sub_bytes = 0;
}

/*
 * Fetches the whole map from the coordinator. GET_EXTENTS may stop early,
 * so ask again from the end of the last extent until it returns none.
 */
int data_map_load(struct data *d, struct data_file *f)
{
	struct csvfs_wext *batch;
	struct fmap m;
	uint64_t lblk = 0;
	uint32_t n, i;
	int rc;

	fmap_init(&m);
	batch = malloc(DATA_EXT_MAX * sizeof(*batch));
	if (!batch)
		return -ENOMEM;
	for (;;) {
		rc = mdc_get_extents(d->mdc, data_file_ino(f), lblk,
				     UINT64_MAX - lblk, batch, DATA_EXT_MAX,
				     &n);
		if (rc) {
			log_ino(data_file_ino(f), "fetching the extent map from "
				"block %llu failed: %s",
				(unsigned long long)lblk, csvfs_strerror(rc));
			goto out;
		}
		if (!n)
			break;
		if (n == 1 && lblk == 0 && (batch[0].flags & CSVFS_EXT_SUB)) {
			/* A sub-block run: the file's only extent. */
			fmap_release(&f->map);
			fmap_release(&m);
			f->map_valid = 1;
			f->sub = 1;
			f->sub_phys = batch[0].pblk * CSVFS_SUB_UNIT;
			f->sub_bytes = (uint64_t)batch[0].len * CSVFS_SUB_UNIT;
			goto out;
		}
		for (i = 0; i < n && i < DATA_EXT_MAX; i++) {
			if (!batch[i].len || batch[i].lblk < lblk ||
			    (batch[i].flags & CSVFS_EXT_SUB)) {
				log_ino(data_file_ino(f), "coordinator returned an "
					"unsorted or empty extent at block "
					"%llu",
					(unsigned long long)batch[i].lblk);
				rc = -EIO;
				goto out;
			}
			rc = fmap_push(&m, &batch[i]);
			if (rc)
				goto out;
			lblk = batch[i].lblk + batch[i].len;
		}
	}
	fmap_release(&f->map);
	f->map = m;
	f->map_valid = 1;
	f->sub = 0;
	f->sub_phys = f->sub_bytes = 0;
	fmap_init(&m);
out:
	fmap_release(&m);
	free(batch);
	return rc;
}

/*
 * A usable map (f->lock held): loaded if there is none, reloaded if another
 * node changed it. A reload replaces the map only once the new one is
 * complete, so a write finishing meanwhile still finds its extent there.
 */
int data_map_fresh(struct data *d, struct data_file *f)
{
	int rc;

	if (f->map_valid &&
	    !__atomic_exchange_n(&f->map_stale, 0, __ATOMIC_ACQ_REL))
		return 0;
	rc = data_map_load(d, f);
	if (rc && f->map_valid)
		__atomic_store_n(&f->map_stale, 1, __ATOMIC_RELEASE);
	return rc;
}

/*
 * Where file offset pos is on the device (f->lock held): 1 and *phys if
 * mapped, else 0; *nbytes gets how far from pos that answer holds.
 */
int data_map_at(struct data *d, struct data_file *f, uint64_t pos,
		  uint64_t *phys, uint64_t *nbytes)
{
	uint64_t lblk = pos >> d->shift, inb = pos & (d->bsize - 1), nblk;
	int mapped;
	uint32_t i;

	if (f->sub) {
		if (pos < f->sub_bytes) {
			*phys = f->sub_phys + pos;
			*nbytes = f->sub_bytes - pos;
			return 1;
		}
		*nbytes = UINT64_MAX;
		return 0;
	}
	mapped = fmap_find(&f->map, lblk, &i);
	if (mapped) {
		const struct csvfs_wext *e = &f->map.ext[i];

		nblk = e->lblk + e->len - lblk;
		*phys = ((e->pblk + (lblk - e->lblk)) << d->shift) + inb;
	} else {
		nblk = i < f->map.n ? f->map.ext[i].lblk - lblk : UINT64_MAX;
	}
	*nbytes = nblk > (UINT64_MAX >> d->shift) ? UINT64_MAX :
		  (nblk << d->shift) - inb;
	return mapped;
}

/* Whether a file written up to end may stay in sub-blocks (f->lock). */
int data_small_ok(const struct data *d, const struct data_file *f,
		    uint64_t end)
{
	uint64_t max = CSVFS_SUB_MAX(d->shift);

	return end <= max && f->size <= max;
}

/*
 * An ALLOC_SMALL reply that is one sub-block run covering end is the
 * whole map (f->lock held): taken as the map, 1. Else 0: fetch the map.
 */
int data_sub_reply(struct data_file *f, const struct csvfs_wext *ext,
		     uint32_t n, const struct csvfs_attr *a, uint64_t end)
{
	if (n != 1 || !(ext[0].flags & CSVFS_EXT_SUB) ||
	    (uint64_t)ext[0].len * CSVFS_SUB_UNIT < end)
		return 0;
	fmap_release(&f->map);
	f->map_valid = 1;
	f->sub = 1;
	f->sub_phys = ext[0].pblk * CSVFS_SUB_UNIT;
	f->sub_bytes = (uint64_t)ext[0].len * CSVFS_SUB_UNIT;
	if (a->size > f->size)
		f->size = a->size;
	return 1;
}

/*
 * A small file (f->lock held): a sub-block run, or no block yet. A write
 * past the run asks for a longer run (ALLOC_SMALL) or, past the
 * threshold, for large blocks (the coordinator moves the run to a large
 * block first); the map is then fetched anew. Sets *done when the file
 * is not small (the caller allocates large blocks as usual).
 */
int data_write_alloc_small(struct data *d, struct data_file *f,
			     uint64_t off, uint64_t end, int *done)
{
	uint64_t l = off >> d->shift, le = ((end - 1) >> d->shift) + 1;
	struct csvfs_wext *ext;
	struct csvfs_attr a;
	uint64_t phys, nb;
	uint32_t n;
	int rc;

	*done = 0;
	if (!f->sub && (f->map.n || !data_small_ok(d, f, end)))
		return 0;
	*done = 1;
	if (f->sub && end <= f->sub_bytes)
		return 0;
	ext = malloc(DATA_EXT_MAX * sizeof(*ext));
	if (!ext)
		return -ENOMEM;
	if (data_small_ok(d, f, end))
		rc = mdc_alloc(d->mdc, data_file_ino(f), 0, end, CSVFS_ALLOC_SMALL,
			       &a, ext, DATA_EXT_MAX, &n);
	else
		rc = mdc_alloc(d->mdc, data_file_ino(f), l, le - l,
			       CSVFS_ALLOC_AHEAD, &a, ext, DATA_EXT_MAX, &n);
	/* An allocation took any tail back into the run. */
	if (!rc)
		f->tail = !!(a.flags & CSVFS_IFL_TAIL);
	if (!rc && data_sub_reply(f, ext, n, &a, end)) {
		free(ext);
		return 0;
	}
	free(ext);
	if (rc) {
		if (rc != -ENOSPC && rc != -EDQUOT)
			log_ino(data_file_ino(f), "allocating up to offset %llu of "
				"a small file failed: %s",
				(unsigned long long)end, csvfs_strerror(rc));
		return rc;
	}
	if (a.size > f->size)
		f->size = a.size;
	data_map_drop(f);
	rc = data_map_load(d, f);
	if (rc)
		return rc;
	if (!data_map_at(d, f, off, &phys, &nb) ||
	    !data_map_at(d, f, end - 1, &phys, &nb)) {
		log_ino(data_file_ino(f), "allocation up to offset %llu returned "
			"no extent covering it", (unsigned long long)end);
		return -EIO;
	}
	return 0;
}
