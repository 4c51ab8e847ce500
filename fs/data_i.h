/*
 * data_i: what fs/data.c and fs/data_map.c share (the file state and the
 * extent map). Private to the data module.
 */
#ifndef CSVFS_DATA_I_H
#define CSVFS_DATA_I_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "csvfs/proto.h"
#include "fs/fmap.h"
#include "fs/itab.h"
#include "fs/own.h"

struct mdc;
struct dev;

#define DATA_PENDING_MAX	64
/* Room for the extents of one GET_EXTENTS or ALLOC reply (its max). */
#define DATA_EXT_MAX		8192
#define DATA_MAX_FILE		((uint64_t)INT64_MAX)

struct data {
	struct mdc *mdc;
	struct dev *dev;
	uint32_t shift;
	uint64_t bsize;
	size_t max_io;
	unsigned pending_max;
	int shared;
	uint32_t node_id;
	int fenced;			/* atomic: no device writes at all */
	pthread_key_t buf_key;		/* struct data_buf of each thread */
	pthread_mutex_t lock;		/* files, data_file.refs */
	struct itab files;
};

struct data_buf {
	void *p;
	size_t cap;
};

struct data_file {
	struct itab_node node;		/* key: csvfs ino */
	unsigned refs;			/* d->lock */
	pthread_mutex_t lock;		/* every field below */
	pthread_mutex_t rmw_lock;	/* unaligned writes */
	pthread_mutex_t flush_lock;	/* one write_done at a time */
	int is_inline;
	int tail;			/* the coordinator holds the bytes past
					 * the sub-block run (CSVFS_IFL_TAIL) */
	int sub;			/* the map is a sub-block run: */
	uint64_t sub_phys;		/* its device offset */
	uint64_t sub_bytes;		/* and length */
	pthread_rwlock_t io_lock;	/* device I/O (rd) vs data moves (wr) */
	int map_valid;
	int map_stale;			/* atomic, no lock: another node
					 * changed the map (data_map_inval) */
	unsigned map_gen;		/* atomic: bumps with map_stale, so a
					 * read the change crossed is redone */
	struct fmap map;
	uint64_t size;			/* local view */
	int size_dirty;			/* size not reported yet */
	int mtime_dirty;
	struct timespec mtime;
	struct fmap_ranges pend;	/* written UNWRITTEN blocks */
	unsigned lost_seq;		/* bumps when the coordinator refused
					 * a report: the writes are lost
					 * (data_lost_check) */
	struct own_gate gate;		/* ownership recall (fs/own.h) */
	uint32_t mode;			/* from the coordinator (setuid) */
	int mode_stale;			/* atomic, no lock (data_map_inval runs
					 * on the client's reader thread): another
					 * node changed the file */
};

static inline uint64_t data_file_ino(const struct data_file *f)
{
	return f->node.ino;
}

/* ---- fs/data_map.c: the extent map (f->lock held) ---------------------- */

void data_map_drop(struct data_file *f);
/* Fetches the whole map from the coordinator. 0 or -errno. */
int data_map_load(struct data *d, struct data_file *f);
/* Loads the map if there is none, reloads it if another node changed it. */
int data_map_fresh(struct data *d, struct data_file *f);
/*
 * Where file offset pos is on the device: 1 and *phys if mapped, else 0;
 * *nbytes gets how far from pos that answer holds.
 */
int data_map_at(struct data *d, struct data_file *f, uint64_t pos,
		uint64_t *phys, uint64_t *nbytes);
/* Whether a file written up to end may stay in sub-blocks. */
int data_small_ok(const struct data *d, const struct data_file *f,
		  uint64_t end);
/* An ALLOC_SMALL reply that is the whole map: taken as the map, 1; else 0. */
int data_sub_reply(struct data_file *f, const struct csvfs_wext *ext,
		   uint32_t n, const struct csvfs_attr *a, uint64_t end);
/*
 * The allocation of a write to a small file (a sub-block run, or no block
 * yet); *done = 0 when the file is not small (large blocks as usual).
 */
int data_write_alloc_small(struct data *d, struct data_file *f,
			   uint64_t off, uint64_t end, int *done);

#endif /* CSVFS_DATA_I_H */
