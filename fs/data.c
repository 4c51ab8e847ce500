/*
 * data: the direct I/O data path.
 *
 * Alignment. The device is open with O_DIRECT: offsets, lengths and buffer
 * addresses must be DEV_ALIGN multiples. FUSE (libfuse 3.14) hands write
 * payloads right after an 80-byte header, so every write is copied into a
 * per-thread aligned bounce buffer (sized for the largest request, grown on
 * demand, freed when the worker thread exits). Reads go into the same
 * buffer, covering the request rounded out to DEV_ALIGN, and the reply
 * points into it: no second copy, aligned or not.
 *
 * Read-modify-write. A write whose ends are not DEV_ALIGN-aligned must
 * first read the 4 KiB edge blocks. Two such writes into the same 4 KiB
 * would each read the old block and the later write would undo the
 * earlier; so edge reads, the write and the size update run under the
 * inode's rmw_lock. Aligned writes take no such lock and run in parallel
 * (the guests we serve write aligned and never overlap in-flight writes).
 * An edge block wholly at or past EOF is not read: past EOF the device
 * holds zeroes (ondisk.h: free blocks are zero; the coordinator zeroes the
 * tail of a block on truncate).
 *
 * Reporting. Allocation is synchronous (mdc_alloc, one call per unmapped
 * run, ahead of sequential writers) but the rest is batched: a new size,
 * a dirty mtime and the ranges of UNWRITTEN blocks we wrote wait in the
 * file state and go out in one mdc_write_done on flush, fsync, release,
 * before getattr/setattr/lseek of the inode, or when more than
 * pending_max ranges piled up. Until then data_fix_attr makes every reply
 * show the local size. Reads never look at UNWRITTEN: the device returns
 * zeroes for blocks nobody wrote.
 *
 * Sub-blocks (meta/subblk.h). A small file's map is one run of 4 KiB
 * units (CSVFS_EXT_SUB), kept apart from the large-block map (sub_phys,
 * sub_bytes). A write past the run asks for an ALLOC_SMALL while the file
 * stays within CSVFS_SUB_MAX, else for large blocks; either may move the
 * file's data on the device (the coordinator copies it), so such a write
 * holds io_lock for writing while it asks, and every device I/O holds it
 * for reading: no I/O of this node is in flight on the old place while
 * the data moves. The map is fetched again afterwards.
 *
 * Locks, in order: flush_lock or rmw_lock, then io_lock, then f->lock;
 * d->lock (the table) is never held while waiting for another lock.
 * f->lock is held across coordinator calls that change the map (alloc,
 * inline writes, map loads) but never across device I/O; so what runs on
 * the client's reader thread (data_map_inval), which must read those
 * calls' replies, never takes it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "csvfs/ondisk.h"
#include "fs/data.h"
#include "fs/data_i.h"
#include "fs/fmap.h"
#include "fs/itab.h"
#include "fs/own.h"
#include "meta/dev.h"
#include "net/mdc.h"

/* ---- per-thread bounce buffers ---------------------------------------- */

static void buf_destroy(void *p)
{
	struct data_buf *b = p;

	if (b) {
		free(b->p);
		free(b);
	}
}

/* This thread's aligned buffer of at least len bytes, or NULL. */
static char *tbuf(struct data *d, size_t len)
{
	struct data_buf *b = pthread_getspecific(d->buf_key);
	size_t cap;
	void *p;

	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		if (pthread_setspecific(d->buf_key, b)) {
			free(b);
			return NULL;
		}
	}
	if (b->cap < len) {
		cap = d->max_io + 2 * DEV_ALIGN;
		if (cap < len)
			cap = len;
		cap = (cap + DEV_ALIGN - 1) & ~(size_t)(DEV_ALIGN - 1);
		p = dev_alloc_buf(cap);
		if (!p)
			return NULL;
		free(b->p);
		b->p = p;
		b->cap = cap;
	}
	return b->p;
}

/* ---- file state table ---------------------------------------------------- */

static struct data_file *file_get(struct data *d, uint64_t ino)
{
	struct itab_node *n;
	struct data_file *f = NULL;

	pthread_mutex_lock(&d->lock);
	n = itab_get(&d->files, ino);
	if (n) {
		f = (struct data_file *)n;
		f->refs++;
	}
	pthread_mutex_unlock(&d->lock);
	return f;
}

static void file_destroy(struct data_file *f)
{
	pthread_rwlock_destroy(&f->io_lock);
	own_gate_destroy(&f->gate);
	pthread_mutex_destroy(&f->lock);
	pthread_mutex_destroy(&f->rmw_lock);
	pthread_mutex_destroy(&f->flush_lock);
	fmap_release(&f->map);
	fmap_ranges_release(&f->pend);
	free(f);
}

static void file_put(struct data *d, struct data_file *f)
{
	int last;

	pthread_mutex_lock(&d->lock);
	last = --f->refs == 0;
	if (last)
		itab_del(&d->files, &f->node);
	pthread_mutex_unlock(&d->lock);
	if (!last)
		return;
	if (f->pend.n || f->size_dirty)
		log_ino(data_file_ino(f), "closed with unreported writes: size "
			"%llu and %u written ranges lost from the metadata",
			(unsigned long long)f->size, f->pend.n);
	file_destroy(f);
}

int data_open(struct data *d, uint64_t ino, const struct csvfs_attr *a,
	      struct data_file **out)
{
	struct data_file *f, *nf;
	struct itab_node *n;
	int rc;

	nf = calloc(1, sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	nf->node.ino = ino;
	nf->refs = 1;
	nf->size = a->size;
	nf->is_inline = !!(a->flags & CSVFS_IFL_INLINE);
	nf->tail = !!(a->flags & CSVFS_IFL_TAIL);
	nf->mode = a->mode;
	pthread_mutex_init(&nf->lock, NULL);
	pthread_mutex_init(&nf->rmw_lock, NULL);
	pthread_mutex_init(&nf->flush_lock, NULL);
	pthread_rwlock_init(&nf->io_lock, NULL);
	own_gate_init(&nf->gate);

	pthread_mutex_lock(&d->lock);
	n = itab_get(&d->files, ino);
	if (n) {
		f = (struct data_file *)n;
		f->refs++;
	} else {
		rc = itab_put(&d->files, &nf->node);
		if (rc) {
			pthread_mutex_unlock(&d->lock);
			file_destroy(nf);
			return rc;
		}
		f = nf;
		nf = NULL;
	}
	pthread_mutex_unlock(&d->lock);
	if (nf) {
		/* Existing state: only a larger size can be news. */
		pthread_mutex_lock(&f->lock);
		if (a->size > f->size)
			f->size = a->size;
		/* Packed at a last close that raced with this open: the
		 * run lost its last unit, the map we hold is old. */
		if ((a->flags & CSVFS_IFL_TAIL) && !f->tail) {
			f->tail = 1;
			data_map_drop(f);
		}
		f->mode = a->mode;
		__atomic_store_n(&f->mode_stale, 0, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&f->lock);
		file_destroy(nf);
	}
	*out = f;
	return 0;
}

int data_close(struct data *d, struct data_file *f)
{
	int rc = data_flush(d, f);

	file_put(d, f);
	return rc;
}

/* ---- device I/O ---------------------------------------------------------- */

static int io_range_locked(struct data *d, struct data_file *f, int wr,
			   char *buf, uint64_t pos, size_t len);

/* Rereads of one piece that invalidations kept crossing, before the
 * last answer is taken as it is. */
#define DATA_REREAD_MAX	64

/*
 * Reads or writes len bytes of the file at pos (both DEV_ALIGN multiples)
 * from/to buf, one device call per extent piece. Holes read as zeroes;
 * a write into a hole is a bug of the caller (it allocates first).
 */
static int io_range(struct data *d, struct data_file *f, int wr, char *buf,
		    uint64_t pos, size_t len)
{
	int rc;

	pthread_rwlock_rdlock(&f->io_lock);
	rc = io_range_locked(d, f, wr, buf, pos, len);
	pthread_rwlock_unlock(&f->io_lock);
	return rc;
}

static int io_range_locked(struct data *d, struct data_file *f, int wr,
			   char *buf, uint64_t pos, size_t len)
{
	int rc = 0, refreshed = 0, rereads = 0;

	while (len) {
		uint64_t phys = 0, seg = len, nbytes;
		unsigned gen;
		int mapped;

		/*
		 * A reader beside another node's writer: the writer may free
		 * a block (truncate, punch) once this node acknowledged the
		 * invalidation, and the block may then go to another file. A
		 * read that the invalidation crossed could return that
		 * file's bytes, so it is redone with the new map.
		 */
		gen = __atomic_load_n(&f->map_gen, __ATOMIC_ACQUIRE);
		pthread_mutex_lock(&f->lock);
		rc = data_map_fresh(d, f);
		if (rc) {
			pthread_mutex_unlock(&f->lock);
			return rc;
		}
		mapped = data_map_at(d, f, pos, &phys, &nbytes);
		if (!mapped && !wr && d->shared && !refreshed) {
			/* Another node may have allocated it since. */
			refreshed = 1;
			data_map_drop(f);
			rc = data_map_load(d, f);
			if (rc) {
				pthread_mutex_unlock(&f->lock);
				return rc;
			}
			mapped = data_map_at(d, f, pos, &phys, &nbytes);
		}
		pthread_mutex_unlock(&f->lock);
		if (nbytes < seg)
			seg = nbytes;

		if (!mapped && wr) {
			log_ino(data_file_ino(f), "write at offset %llu found no "
				"allocated block", (unsigned long long)pos);
			return -EIO;
		}
		if (!mapped)
			memset(buf, 0, seg);
		else if (wr && __atomic_load_n(&d->fenced, __ATOMIC_ACQUIRE))
			return -EIO;	/* fenced: logged by data_fence */
		else if (wr)
			rc = dev_pwrite(d->dev, buf, seg, phys);
		else
			rc = dev_pread(d->dev, buf, seg, phys);
		if (!rc && !wr && mapped && rereads < DATA_REREAD_MAX &&
		    __atomic_load_n(&f->map_gen, __ATOMIC_ACQUIRE) != gen) {
			rereads++;
			continue;
		}
		if (rc) {
			log_ino(data_file_ino(f), "device %s of %llu bytes at file "
				"offset %llu (device offset %llu) failed: %s",
				wr ? "write" : "read", (unsigned long long)seg,
				(unsigned long long)pos,
				(unsigned long long)phys, csvfs_strerror(rc));
			return -EIO;
		}
		buf += seg;
		pos += seg;
		len -= seg;
	}
	return 0;
}

/*
 * A read of [a0, end) of a file with a tail (buf holds it from a0):
 * [a0, from) from the run on the device (from is the run's end, 4 KiB
 * aligned, when above a0), [from, end) from the inode (INLINE_READ).
 * -EAGAIN: the file has no tail any more (written meanwhile); f->tail is
 * cleared and the map dropped.
 */
static int read_tail(struct data *d, struct data_file *f, char *buf,
		     uint64_t a0, uint64_t from, uint64_t end)
{
	int rc = 0;

	if (from > a0)
		rc = io_range(d, f, 0, buf, a0, (size_t)(from - a0));
	if (!rc)
		rc = mdc_inline_read(d->mdc, data_file_ino(f), from,
				     buf + (from - a0), (uint32_t)(end - from));
	if (rc == -EAGAIN) {
		pthread_mutex_lock(&f->lock);
		f->tail = 0;
		data_map_drop(f);
		pthread_mutex_unlock(&f->lock);
		return rc;
	}
	if (rc < 0)
		return rc;
	/* Short: the file shrank meanwhile; past EOF reads zeroes. */
	if ((uint64_t)rc < end - from)
		memset(buf + (from - a0) + rc, 0, (size_t)(end - from) - rc);
	return 0;
}

int data_read(struct data *d, struct data_file *f, uint64_t off, size_t len,
	      const void **buf, size_t *n)
{
	uint64_t a0, a1, size, tail_from;
	char *b;
	int rc;

again:
	*n = 0;
	*buf = NULL;
	pthread_mutex_lock(&f->lock);
	size = f->size;
	if (d->shared && off + len > size && !f->size_dirty) {
		struct csvfs_attr a;

		/* The file may have grown on another node. */
		rc = mdc_getattr(d->mdc, data_file_ino(f), &a);
		if (rc) {
			pthread_mutex_unlock(&f->lock);
			return rc;
		}
		if (a.size != f->size) {
			f->size = size = a.size;
			f->is_inline = !!(a.flags & CSVFS_IFL_INLINE);
			f->tail = !!(a.flags & CSVFS_IFL_TAIL);
			data_map_drop(f);
		}
	}
	if (off >= size || !len) {
		pthread_mutex_unlock(&f->lock);
		return 0;
	}
	if (len > size - off)
		len = (size_t)(size - off);
	if (f->is_inline) {
		b = tbuf(d, len);
		rc = b ? mdc_inline_read(d->mdc, data_file_ino(f), off, b,
					 (uint32_t)len) : -ENOMEM;
		if (rc == -EAGAIN) {
			/* Converted behind our back: read the blocks. */
			f->is_inline = 0;
			data_map_drop(f);
		} else {
			pthread_mutex_unlock(&f->lock);
			if (rc < 0)
				return rc;
			*buf = b;
			*n = (size_t)rc;
			return 0;
		}
	}
	tail_from = UINT64_MAX;
	if (f->tail) {
		/* A tail: the bytes past the run are the coordinator's. */
		rc = data_map_fresh(d, f);
		if (rc) {
			pthread_mutex_unlock(&f->lock);
			return rc;
		}
		if (f->sub && off + len > f->sub_bytes)
			tail_from = f->sub_bytes > off ? f->sub_bytes : off;
	}
	pthread_mutex_unlock(&f->lock);

	a0 = off & ~(uint64_t)(DEV_ALIGN - 1);
	a1 = (off + len + DEV_ALIGN - 1) & ~(uint64_t)(DEV_ALIGN - 1);
	b = tbuf(d, (size_t)(a1 - a0));
	if (!b)
		return -ENOMEM;
	if (tail_from != UINT64_MAX) {
		rc = read_tail(d, f, b, a0, tail_from, off + len);
		if (rc == -EAGAIN)
			goto again;	/* no tail any more: the device */
		if (rc)
			return rc;
		*buf = b + (off - a0);
		*n = len;
		return 0;
	}
	rc = io_range(d, f, 0, b, a0, (size_t)(a1 - a0));
	if (rc)
		return rc;
	*buf = b + (off - a0);
	*n = len;
	return 0;
}

/* ---- writes -------------------------------------------------------------- */

/*
 * Inline file (f->lock held): small writes go to the inode. Sets *done
 * when the write was handled; otherwise the file has been converted to
 * extents (mdc_alloc does the conversion) and the caller continues on the
 * extent path.
 */
static int write_inline(struct data *d, struct data_file *f, uint64_t off,
			const void *buf, size_t len, int *done)
{
	uint64_t end = off + len, lb, le;
	struct csvfs_wext *ext;
	struct csvfs_attr a;
	uint32_t n;
	int rc;

	*done = 0;
	/* The coordinator says whether it fits (xattrs take room). */
	if (end <= CSVFS_INLINE_XMAX) {
		rc = mdc_inline_write(d->mdc, data_file_ino(f), off, buf,
				      (uint32_t)len, &a);
		if (rc)
			return rc;
		if (a.flags & CSVFS_IFL_INLINE) {
			if (a.size > f->size)
				f->size = a.size;
			*done = 1;
			return 0;
		}
		/* Did not fit (nothing written): convert and go on. */
	}
	lb = off >> d->shift;
	le = ((end - 1) >> d->shift) + 1;
	ext = malloc(DATA_EXT_MAX * sizeof(*ext));
	if (!ext)
		return -ENOMEM;
	if (data_small_ok(d, f, end))
		rc = mdc_alloc(d->mdc, data_file_ino(f), 0, end, CSVFS_ALLOC_SMALL,
			       &a, ext, DATA_EXT_MAX, &n);
	else
		rc = mdc_alloc(d->mdc, data_file_ino(f), lb, le - lb,
			       CSVFS_ALLOC_AHEAD, &a, ext, DATA_EXT_MAX, &n);
	if (!rc && !(a.flags & CSVFS_IFL_INLINE) &&
	    data_sub_reply(f, ext, n, &a, end)) {
		f->is_inline = 0;
		free(ext);
		return 0;
	}
	free(ext);
	if (rc)
		return rc;
	if (a.flags & CSVFS_IFL_INLINE) {
		log_ino(data_file_ino(f), "coordinator kept the file inline after "
			"an allocation at block %llu",
			(unsigned long long)lb);
		return -EIO;
	}
	f->is_inline = 0;
	if (a.size > f->size)
		f->size = a.size;
	/* The conversion may have mapped more than asked: fetch it all. */
	data_map_drop(f);
	return 0;
}

/*
 * Allocates every unmapped large block of [off, end) (f->lock held): one
 * mdc_alloc per contiguous unmapped run, flagged AHEAD when the run starts
 * at or past the end of the map (a sequential writer).
 */
static int write_alloc(struct data *d, struct data_file *f, uint64_t off,
		       uint64_t end)
{
	uint64_t l = off >> d->shift, le = ((end - 1) >> d->shift) + 1;
	struct csvfs_wext *ext = NULL;
	struct csvfs_attr a;
	uint32_t i, j, n, flags;
	uint64_t run_end;
	int rc = 0, small;

	rc = data_map_fresh(d, f);
	if (!rc)
		rc = data_write_alloc_small(d, f, off, end, &small);
	if (rc || small)
		return rc;
	while (l < le) {
		if (fmap_find(&f->map, l, &i)) {
			l = f->map.ext[i].lblk + f->map.ext[i].len;
			continue;
		}
		run_end = le;
		if (i < f->map.n && f->map.ext[i].lblk < run_end)
			run_end = f->map.ext[i].lblk;
		flags = l >= fmap_end(&f->map) ? CSVFS_ALLOC_AHEAD : 0;
		if (!ext) {
			ext = malloc(DATA_EXT_MAX * sizeof(*ext));
			if (!ext) {
				rc = -ENOMEM;
				goto out;
			}
		}
		rc = mdc_alloc(d->mdc, data_file_ino(f), l, run_end - l, flags, &a,
			       ext, DATA_EXT_MAX, &n);
		if (rc) {
			if (rc != -ENOSPC && rc != -EDQUOT)
				log_ino(data_file_ino(f), "allocating %llu blocks at "
					"block %llu failed: %s",
					(unsigned long long)(run_end - l),
					(unsigned long long)l,
					csvfs_strerror(rc));
			goto out;
		}
		for (j = 0; j < n && j < DATA_EXT_MAX; j++) {
			rc = fmap_insert(&f->map, &ext[j]);
			if (rc)
				goto out;
		}
		if (a.size > f->size)
			f->size = a.size;
		if (!fmap_find(&f->map, l, &i)) {
			log_ino(data_file_ino(f), "allocation at block %llu returned "
				"no extent covering it",
				(unsigned long long)l);
			rc = -EIO;
			goto out;
		}
	}
out:
	free(ext);
	return rc;
}

/*
 * Fills one DEV_ALIGN edge block of the bounce buffer with the file's
 * current bytes (rmw_lock held). Past EOF the device holds zeroes, so a
 * block wholly there is not read.
 */
static int edge_read(struct data *d, struct data_file *f, char *p,
		     uint64_t pos)
{
	uint64_t size;

	pthread_mutex_lock(&f->lock);
	size = f->size;
	pthread_mutex_unlock(&f->lock);
	if (pos >= size) {
		memset(p, 0, DEV_ALIGN);
		return 0;
	}
	return io_range(d, f, 0, p, pos, DEV_ALIGN);
}

/* Records a completed write (f->lock taken). Returns 1 if a report is due. */
static int write_account(struct data *d, struct data_file *f, uint64_t off,
			 uint64_t end)
{
	int rc, due;

	pthread_mutex_lock(&f->lock);
	if (end > f->size) {
		f->size = end;
		f->size_dirty = 1;
	}
	f->mtime_dirty = 1;
	clock_gettime(CLOCK_REALTIME, &f->mtime);
	rc = fmap_mark_written(&f->map, off >> d->shift,
				 ((end - 1) >> d->shift) + 1, &f->pend);
	due = f->pend.n > d->pending_max;
	pthread_mutex_unlock(&f->lock);
	return rc ? rc : due;
}

/* Owned again after a recall: what was cached then is stale (gate held). */
static void gate_restored(void *arg, const struct csvfs_attr *a)
{
	struct data_file *f = arg;

	pthread_mutex_lock(&f->lock);
	f->size = a->size;
	data_map_drop(f);
	pthread_mutex_unlock(&f->lock);
}

static int write_gated(struct data *d, struct data_file *f, uint64_t off,
		       const void *buf, size_t len);

int data_write(struct data *d, struct data_file *f, uint64_t off,
	       const void *buf, size_t len)
{
	int rc;

	if (!len)
		return 0;
	/* Fenced: fail at once, before anything waits for the network. */
	if (__atomic_load_n(&d->fenced, __ATOMIC_ACQUIRE))
		return -EIO;
	rc = own_gate_enter(&f->gate, d->mdc, data_file_ino(f), d->node_id,
			    gate_restored, f);
	if (rc)
		return rc;
	rc = write_gated(d, f, off, buf, len);
	own_gate_leave(&f->gate);
	return rc;
}

static int write_gated(struct data *d, struct data_file *f, uint64_t off,
		       const void *buf, size_t len)
{
	uint64_t end = off + len, a0, a1;
	int head, tail, done, excl, rc;
	size_t alen;
	char *b;

	if (!len)
		return 0;
	if (end < off || end > DATA_MAX_FILE)
		return -EFBIG;

	/* A write that may move a small file's data waits for our I/O. */
	pthread_mutex_lock(&f->lock);
	excl = f->is_inline || !f->map_valid || f->map.n == 0 ||
	       (f->sub && end > f->sub_bytes);
	pthread_mutex_unlock(&f->lock);
	if (excl)
		pthread_rwlock_wrlock(&f->io_lock);
	pthread_mutex_lock(&f->lock);
	rc = 0;
	done = 0;
	if (f->is_inline)
		rc = write_inline(d, f, off, buf, len, &done);
	if (!rc && !done)
		rc = write_alloc(d, f, off, end);
	pthread_mutex_unlock(&f->lock);
	if (excl)
		pthread_rwlock_unlock(&f->io_lock);
	if (rc || done)
		return rc;

	a0 = off & ~(uint64_t)(DEV_ALIGN - 1);
	a1 = (end + DEV_ALIGN - 1) & ~(uint64_t)(DEV_ALIGN - 1);
	alen = (size_t)(a1 - a0);
	b = tbuf(d, alen);
	if (!b)
		return -ENOMEM;
	head = off != a0;
	tail = end != a1;
	if (head || tail)
		pthread_mutex_lock(&f->rmw_lock);
	if (head)
		rc = edge_read(d, f, b, a0);
	if (!rc && tail && !(head && alen == DEV_ALIGN))
		rc = edge_read(d, f, b + alen - DEV_ALIGN, a1 - DEV_ALIGN);
	if (!rc) {
		memcpy(b + (off - a0), buf, len);
		rc = io_range(d, f, 1, b, a0, alen);
	}
	/* Account before another RMW may read the edge and judge EOF. */
	if (!rc)
		rc = write_account(d, f, off, end);
	if (head || tail)
		pthread_mutex_unlock(&f->rmw_lock);
	if (rc == 1) {
		/* A failed report stays pending; the write itself is done. */
		data_flush(d, f);
		rc = 0;
	}
	return rc;
}

/* ---- reporting ----------------------------------------------------------- */

int data_flush(struct data *d, struct data_file *f)
{
	struct mdc_range *r;
	struct csvfs_attr a;
	struct timespec mt;
	uint64_t size;
	uint32_t nr, i;
	int mtv, rc;

	pthread_mutex_lock(&f->flush_lock);
	pthread_mutex_lock(&f->lock);
	if (!f->size_dirty && !f->mtime_dirty && !f->pend.n) {
		pthread_mutex_unlock(&f->lock);
		pthread_mutex_unlock(&f->flush_lock);
		return 0;
	}
	size = f->size_dirty ? f->size : 0;
	mtv = f->mtime_dirty;
	mt = f->mtime;
	r = f->pend.r;
	nr = f->pend.n;
	fmap_ranges_init(&f->pend);
	f->size_dirty = f->mtime_dirty = 0;
	pthread_mutex_unlock(&f->lock);

	rc = mdc_write_done(d->mdc, data_file_ino(f), size, mtv, (int64_t)mt.tv_sec,
			    (uint32_t)mt.tv_nsec, r, nr, &a);
	if (rc == -CSVFS_ELEASE) {
		/*
		 * This node lost the file (handed off, or its hold broken
		 * while it was cut off) before the report arrived: another
		 * node may have written over these blocks, so the report
		 * can never be accepted. Drop it, and let every handle's
		 * next fsync or close say the writes were lost (as Linux
		 * reports a failed writeback once per open file).
		 */
		log_ino(data_file_ino(f), "written data (size %llu, %u ranges) "
			"lost: this node no longer owns the file",
			(unsigned long long)size, nr);
		pthread_mutex_lock(&f->lock);
		f->lost_seq++;
		pthread_mutex_unlock(&f->lock);
		rc = -EIO;
	} else if (rc) {
		log_ino(data_file_ino(f), "reporting written data (size %llu, %u "
			"ranges) failed: %s", (unsigned long long)size, nr,
			csvfs_strerror(rc));
		/* Keep it for the next report. */
		pthread_mutex_lock(&f->lock);
		if (size)
			f->size_dirty = 1;
		if (mtv && !f->mtime_dirty) {
			f->mtime_dirty = 1;
			f->mtime = mt;
		}
		for (i = 0; i < nr; i++)
			if (fmap_ranges_add(&f->pend, r[i].lblk,
					      r[i].count))
				break;
		pthread_mutex_unlock(&f->lock);
	}
	free(r);
	pthread_mutex_unlock(&f->flush_lock);
	return rc;
}

unsigned data_lost_seq(struct data_file *f)
{
	unsigned seq;

	pthread_mutex_lock(&f->lock);
	seq = f->lost_seq;
	pthread_mutex_unlock(&f->lock);
	return seq;
}

int data_lost_check(struct data_file *f, unsigned *seen)
{
	unsigned seq = data_lost_seq(f);

	if (seq == *seen)
		return 0;
	*seen = seq;
	return -EIO;
}

int data_fsync(struct data *d, struct data_file *f)
{
	int rc;

	/*
	 * Data first: the O_DIRECT writes are complete but may sit in a
	 * device cache; only then may the metadata that makes them part of
	 * the file (size, written ranges) be committed.
	 */
	rc = dev_flush(d->dev);
	if (rc) {
		log_ino(data_file_ino(f), "device flush failed: %s",
			csvfs_strerror(rc));
		return -EIO;
	}
	rc = data_flush(d, f);
	if (rc)
		return rc;
	return mdc_fsync(d->mdc, data_file_ino(f));
}

int data_recall(struct data *d, uint64_t ino)
{
	struct data_file *f = file_get(d, ino);
	int rc, rc2;

	/* Closed handles reported their writes; the device may still hold
	 * them in its volatile cache. */
	if (!f)
		return dev_flush(d->dev);
	own_gate_revoke(&f->gate);
	/* Data on the device first, then the report that makes it readable. */
	rc = dev_flush(d->dev);
	rc2 = data_flush(d, f);
	if (!rc)
		rc = rc2;
	pthread_mutex_lock(&f->lock);
	data_map_drop(f);
	pthread_mutex_unlock(&f->lock);
	file_put(d, f);
	return rc;
}

/*
 * Called on the metadata client's reader thread, which must not wait for
 * f->lock (its holder may wait for an RPC reply that thread delivers): it
 * only flags the map; map_fresh reloads it.
 */
static int revoke_one(struct itab_node *n, void *arg)
{
	struct data_file *f = (struct data_file *)n;

	(void)arg;
	own_gate_revoke(&f->gate);
	return 0;
}

void data_fence(struct data *d, int on)
{
	int was = __atomic_load_n(&d->fenced, __ATOMIC_ACQUIRE);

	if (on) {
		__atomic_store_n(&d->fenced, 1, __ATOMIC_RELEASE);
		if (!was)
			log_err("fenced: no writes to the device until the "
				"node is back in a quorate cluster");
		return;
	}
	if (!was)
		return;
	/*
	 * Our holds may have been broken meanwhile: every open file must
	 * prove it is still ours (own_gate_enter) before it writes again.
	 */
	pthread_mutex_lock(&d->lock);
	itab_each(&d->files, revoke_one, NULL);
	__atomic_store_n(&d->fenced, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&d->lock);
	log_info("unfenced: open files write again once the coordinator "
		 "confirms this node still owns them");
}

void data_map_inval(struct data *d, uint64_t ino)
{
	struct data_file *f = file_get(d, ino);

	if (!f)
		return;
	/*
	 * No f->lock here: we run on the client's reader thread, and a
	 * request of this node may hold f->lock while it waits for its
	 * reply (map_load), which this thread has to read. Taking the lock
	 * deadlocked both until the request timed out (120 s: t2800's
	 * sqlite, t2550's VM).
	 */
	__atomic_add_fetch(&f->map_gen, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&f->map_stale, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&f->mode_stale, 1, __ATOMIC_RELEASE);
	file_put(d, f);
}

void data_note_mode(struct data *d, uint64_t ino, uint32_t mode)
{
	struct data_file *f = file_get(d, ino);

	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->mode = mode;
	__atomic_store_n(&f->mode_stale, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&f->lock);
	file_put(d, f);
}

/*
 * The rule of the kernel's FUSE setattr (fs/fuse/dir.c): setuid always,
 * setgid only with group-execute (without it, setgid marks mandatory
 * locking, not privilege).
 */
static int mode_has_privs(uint32_t mode)
{
	return (mode & S_ISUID) ||
	       (mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP);
}

int data_has_privs(struct data *d, struct data_file *f)
{
	uint64_t ino = data_file_ino(f);
	struct csvfs_attr a;
	uint32_t mode;
	int stale, rc;

	stale = __atomic_exchange_n(&f->mode_stale, 0, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&f->lock);
	mode = f->mode;
	pthread_mutex_unlock(&f->lock);
	if (stale) {
		/* Rare: another node changed the file since we knew it. */
		rc = mdc_getattr(d->mdc, ino, &a);
		if (rc) {
			__atomic_store_n(&f->mode_stale, 1, __ATOMIC_RELEASE);
			return rc;
		}
		mode = a.mode;
		pthread_mutex_lock(&f->lock);
		f->mode = mode;
		pthread_mutex_unlock(&f->lock);
	}
	return S_ISREG(mode) && mode_has_privs(mode);
}

int data_kill_privs(struct data *d, struct data_file *f)
{
	uint64_t ino = data_file_ino(f);
	struct mdc_setattr sa;
	struct csvfs_attr a;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.valid = CSVFS_SA_KILL_SUIDGID;
	rc = mdc_setattr(d->mdc, ino, &sa, &a);
	if (rc) {
		log_ino(ino, "clearing setuid/setgid before a write failed: %s",
			csvfs_strerror(rc));
		return rc;
	}
	pthread_mutex_lock(&f->lock);
	f->mode = a.mode;
	pthread_mutex_unlock(&f->lock);
	return 1;
}

int data_flush_ino(struct data *d, uint64_t ino)
{
	struct data_file *f = file_get(d, ino);
	int rc;

	if (!f)
		return 0;
	rc = data_flush(d, f);
	file_put(d, f);
	return rc;
}

int data_set_iflags(struct data *d, uint64_t ino, uint32_t set,
		    uint32_t clear, struct csvfs_attr *a)
{
	struct data_file *f = file_get(d, ino);
	int rc;

	if (!f)
		return mdc_set_iflags(d->mdc, ino, set, clear, a);
	/*
	 * Multi-writer moves a file out of sub-blocks (the data of several
	 * writers must never move): what we wrote is reported first and no
	 * I/O of ours is in flight while the coordinator copies it.
	 */
	rc = data_flush(d, f);
	if (!rc) {
		pthread_rwlock_wrlock(&f->io_lock);
		rc = mdc_set_iflags(d->mdc, ino, set, clear, a);
		pthread_mutex_lock(&f->lock);
		data_map_drop(f);
		pthread_mutex_unlock(&f->lock);
		pthread_rwlock_unlock(&f->io_lock);
	}
	file_put(d, f);
	return rc;
}

struct collect {
	struct data_file **v;
	size_t n;
};

static int collect_one(struct itab_node *n, void *arg)
{
	struct collect *c = arg;
	struct data_file *f = (struct data_file *)n;

	f->refs++;
	c->v[c->n++] = f;
	return 0;
}

int data_flush_all(struct data *d)
{
	struct collect c = { NULL, 0 };
	size_t i;
	int rc = 0, rc2;

	pthread_mutex_lock(&d->lock);
	if (d->files.count) {
		c.v = calloc(d->files.count, sizeof(*c.v));
		if (!c.v) {
			pthread_mutex_unlock(&d->lock);
			return -ENOMEM;
		}
		itab_each(&d->files, collect_one, &c);
	}
	pthread_mutex_unlock(&d->lock);
	for (i = 0; i < c.n; i++) {
		rc2 = data_flush(d, c.v[i]);
		if (rc2 && !rc)
			rc = rc2;
		file_put(d, c.v[i]);
	}
	free(c.v);
	return rc;
}

void data_fix_attr(struct data *d, struct csvfs_attr *a)
{
	struct data_file *f = file_get(d, a->ino);

	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	if (f->size > a->size)
		a->size = f->size;
	if (f->mtime_dirty) {
		a->mtime_sec = f->mtime.tv_sec;
		a->mtime_nsec = (uint32_t)f->mtime.tv_nsec;
		a->ctime_sec = f->mtime.tv_sec;
		a->ctime_nsec = (uint32_t)f->mtime.tv_nsec;
	}
	pthread_mutex_unlock(&f->lock);
	file_put(d, f);
}

void data_attr_changed(struct data *d, uint64_t ino,
		       const struct csvfs_attr *a)
{
	struct data_file *f = file_get(d, ino);

	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->size = a->size;
	f->size_dirty = 0;
	f->is_inline = !!(a->flags & CSVFS_IFL_INLINE);
	f->tail = !!(a->flags & CSVFS_IFL_TAIL);
	data_map_drop(f);
	pthread_mutex_unlock(&f->lock);
	file_put(d, f);
}

/* ---- lifecycle ----------------------------------------------------------- */

int data_new(const struct data_opts *o, struct data **out)
{
	struct data *d;
	int rc;

	if (o->block_shift < CSVFS_MIN_BLOCK_SHIFT ||
	    o->block_shift > CSVFS_MAX_BLOCK_SHIFT)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->mdc = o->mdc;
	d->dev = o->dev;
	d->shift = o->block_shift;
	d->bsize = (uint64_t)1 << o->block_shift;
	d->max_io = o->max_io ? o->max_io : (1u << 20);
	d->pending_max = o->pending_max ? o->pending_max : DATA_PENDING_MAX;
	d->shared = o->shared;
	d->node_id = o->node_id;
	rc = -pthread_key_create(&d->buf_key, buf_destroy);
	if (rc) {
		free(d);
		return rc;
	}
	pthread_mutex_init(&d->lock, NULL);
	itab_init(&d->files);
	*out = d;
	return 0;
}

static int free_one(struct itab_node *n, void *arg)
{
	(void)arg;
	file_destroy((struct data_file *)n);
	return 0;
}

void data_free(struct data *d)
{
	if (!d)
		return;
	itab_each(&d->files, free_one, NULL);
	itab_release(&d->files);
	/* Worker threads freed theirs on exit; this is the caller's. */
	buf_destroy(pthread_getspecific(d->buf_key));
	pthread_setspecific(d->buf_key, NULL);
	pthread_key_delete(d->buf_key);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
