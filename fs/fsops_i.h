/*
 * fsops internals shared by fsops.c (session, names, attributes, xattrs)
 * and fsops_file.c (files and directories). Not for other modules.
 */
#ifndef CSVFS_FS_FSOPS_I_H
#define CSVFS_FS_FSOPS_I_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdint.h>

#include "csvfs/proto.h"
#include "fs/itab.h"

struct fsops_ctx {
	struct mdc *mdc;
	struct data *data;
	uint64_t root_ino;
	uint32_t block_shift;
	double entry_timeout, attr_timeout, negative_timeout;
	uint32_t max_write;
	int shared;
	uint32_t node_id;
	struct fuse_session *se;	/* for cache invalidations */
	int (*ctl_get)(void *ctx, const char *name, char *buf, size_t size);
	int (*ctl_set)(void *ctx, const char *name, const char *val,
		       size_t len);
	void *ctl_ctx;
	pthread_mutex_t lookup_lock;
	struct itab lookups;		/* struct lookup_ent by csvfs ino */
	/*
	 * Cluster mode: open handles per ino (struct open_ent), so that a
	 * release can tell the coordinator it was this node's last
	 * (CSVFS_OPEN_LAST). Held across the open/release call, so an open
	 * racing the last close cannot lose its ownership.
	 */
	pthread_mutex_t open_lock;
	struct itab opens;
	struct lkc *lkc;		/* application locks (fs/lkc.h) */
};

/* Whether the CREATE this thread dispatches is an O_TMPFILE (fsops_io.c);
 * clears the mark. */
int fsops_io_tmpfile(void);

static inline struct fsops_ctx *fsops_ctx_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/*
 * FUSE_ROOT_ID <-> the volume's root. mblk 1 (the volume state block) is
 * never an inode, so swapping the two values is a bijection.
 */
static inline uint64_t fsops_to_ino(const struct fsops_ctx *c,
				    fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? c->root_ino : ino;
}

static inline fuse_ino_t fsops_to_fuse(const struct fsops_ctx *c,
				       uint64_t ino)
{
	return ino == c->root_ino ? FUSE_ROOT_ID : ino;
}

/* Replies 0 / -errno / -CSVFS_E* (mapped by csvfs_errno). */
void fsops_reply_err(fuse_req_t req, int rc);
/* -ENAMETOOLONG for a name the volume cannot store, else 0. */
int fsops_name_check(const char *name);
/* Counts one kernel reference to ino (not the root). 0 or -ENOMEM. */
int fsops_lookup_inc(struct fsops_ctx *c, uint64_t ino);
/* Drops n references; at 0 tells the coordinator (mdc_forget). */
void fsops_lookup_dec(struct fsops_ctx *c, uint64_t ino, uint64_t n);
/* Fills an entry reply from a (translated ino, timeouts, local size). */
int fsops_fill_entry(struct fsops_ctx *c, struct csvfs_attr *a,
		     struct fuse_entry_param *e);

/* Operations of fsops_file.c. */
void fsops_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fsops_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi);
void fsops_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fsops_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		 size_t size, off_t off, struct fuse_file_info *fi);
void fsops_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fsops_release_file(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi);
void fsops_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi);
void fsops_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		     off_t len, struct fuse_file_info *fi);
void fsops_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		 struct fuse_file_info *fi);
void fsops_opendir(fuse_req_t req, fuse_ino_t ino,
		   struct fuse_file_info *fi);
void fsops_releasedir(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi);
void fsops_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		    struct fuse_file_info *fi);
void fsops_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void fsops_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi);

/* fsops_space.c: the space xattrs of fsops.h. */
int fsops_is_space_xa(const char *name);
int fsops_space_xa_set(struct fsops_ctx *c, uint64_t ino, const char *name,
		       const char *value, size_t size);
/* Returns the length or -errno, as getxattr (size 0: length only). */
int fsops_space_xa_get(struct fsops_ctx *c, uint64_t ino, const char *name,
		       char *buf, size_t size);

/* fsops_lock.c: application locks. */
void fsops_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct flock *lock);
void fsops_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct flock *lock, int sleep);
void fsops_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 int op);
/* flush: the closing process's fcntl locks on ino go (POSIX). */
void fsops_lock_flush(struct fsops_ctx *c, uint64_t ino,
		      struct fuse_file_info *fi);
/* release: the handle's flock and OFD locks go. */
void fsops_lock_release(struct fsops_ctx *c, uint64_t ino,
			struct fuse_file_info *fi);
/* FSOPS_XA_LOCKS: length or -errno, as getxattr. */
int fsops_locks_xa_get(struct fsops_ctx *c, uint64_t ino, char *buf,
		       size_t size);

#endif /* CSVFS_FS_FSOPS_I_H */
