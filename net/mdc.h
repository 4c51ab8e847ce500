/*
 * mdc: the metadata client. Typed calls that encode one request of
 * include/csvfs/proto.h, send it through a transport, wait for the reply and
 * decode it. The FUSE daemon talks to the coordinator only through these.
 *
 * A transport is either the in-process coordinator (standalone mode: a direct
 * call into mds_dispatch) or a TLS connection to the coordinator node.
 *
 * All calls return 0 or a negative errno, are thread-safe, and may block.
 */
#ifndef CSVFS_MDC_H
#define CSVFS_MDC_H

#include <stddef.h>
#include <stdint.h>
#include "csvfs/proto.h"

struct msg_buf;

/*
 * Transport: send the encoded request (header + payload, already filled
 * except req_id/epoch/node fields the transport may set) and return the
 * reply. On success *reply is a malloc'd buffer holding reply payload
 * (freed by the caller) and the return value is the reply's status
 * (0 or -errno). A negative return without *reply means the transport
 * failed (-EIO, -ENOTCONN, -ETIMEDOUT...).
 */
struct mdc_transport {
	int (*call)(void *ctx, struct csvfs_msg_hdr *hdr, const void *payload,
		    uint8_t **reply, size_t *reply_len);
	void *ctx;
};

struct mdc;

int mdc_new(const struct mdc_transport *t, uint32_t node_id,
	    uint64_t incarnation, struct mdc **out);
void mdc_free(struct mdc *c);
struct mcache;
/*
 * Cluster mode: answer LOOKUP and GETATTR from mc and fill it from the
 * replies (net/mcache.h). Before the first call; mc outlives c.
 */
void mdc_set_cache(struct mdc *c, struct mcache *mc);

struct mdc_volinfo {
	uint64_t root_ino;
	uint32_t block_shift;
	uint64_t epoch;
	uint8_t uuid[16];
};

struct mdc_statfs {
	uint32_t bsize;
	uint64_t blocks, bfree, bavail, files, ffree;
	uint64_t reserved, provisioned;
};

struct mdc_setattr {
	uint32_t valid;		/* CSVFS_SA_* */
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t atime_sec, mtime_sec;
	uint32_t atime_nsec, mtime_nsec;
};

/* One directory entry of a READDIR reply. */
struct mdc_dirent {
	uint64_t ino;
	uint64_t next_cookie;	/* pass as cookie to continue after it */
	uint8_t type;		/* CSVFS_DT_* */
	char name[256];		/* NUL-terminated */
	struct csvfs_attr attr;	/* valid only for readdirplus */
};

struct mdc_range {
	uint64_t lblk, count;
};

int mdc_hello(struct mdc *c, const char *host, struct mdc_volinfo *vi);
int mdc_lookup(struct mdc *c, uint64_t parent, const char *name,
	       struct csvfs_attr *a);
int mdc_getattr(struct mdc *c, uint64_t ino, struct csvfs_attr *a);
int mdc_setattr(struct mdc *c, uint64_t ino, const struct mdc_setattr *sa,
		struct csvfs_attr *a);
int mdc_mknod(struct mdc *c, uint64_t parent, const char *name, uint32_t mode,
	      uint64_t rdev, uint32_t uid, uint32_t gid, struct csvfs_attr *a);
/* MKNOD of a regular file and OPEN (flags CSVFS_OPEN_*) in one call. */
int mdc_create(struct mdc *c, uint64_t parent, const char *name,
	       uint32_t mode, uint32_t uid, uint32_t gid, uint32_t open_flags,
	       struct csvfs_attr *a);
/* O_TMPFILE: a regular file without a name in parent's volume, opened
 * with open_flags; mdc_link gives it a name, its last close frees it. */
int mdc_tmpfile(struct mdc *c, uint64_t parent, uint32_t mode, uint32_t uid,
		uint32_t gid, uint32_t open_flags, struct csvfs_attr *a);
int mdc_mkdir(struct mdc *c, uint64_t parent, const char *name, uint32_t mode,
	      uint32_t uid, uint32_t gid, struct csvfs_attr *a);
int mdc_symlink(struct mdc *c, uint64_t parent, const char *name,
		const char *target, uint32_t uid, uint32_t gid,
		struct csvfs_attr *a);
int mdc_unlink(struct mdc *c, uint64_t parent, const char *name);
int mdc_rmdir(struct mdc *c, uint64_t parent, const char *name);
int mdc_rename(struct mdc *c, uint64_t parent, const char *name,
	       uint64_t newparent, const char *newname, uint32_t flags);
/* RENAME with CSVFS_RENAME_WHITEOUT: the whiteout belongs to uid:gid. */
int mdc_rename_wo(struct mdc *c, uint64_t parent, const char *name,
		  uint64_t newparent, const char *newname, uint32_t flags,
		  uint32_t uid, uint32_t gid);
int mdc_link(struct mdc *c, uint64_t ino, uint64_t newparent,
	     const char *newname, struct csvfs_attr *a);
/* target: buffer of size bytes; NUL-terminated on success. */
int mdc_readlink(struct mdc *c, uint64_t ino, char *target, size_t size);
/*
 * Reads entries from cookie on (0 = first) into ents[0..max-1]; *n gets the
 * count, *eof is set when the directory has no more entries.
 */
int mdc_readdir(struct mdc *c, uint64_t ino, uint64_t cookie, int plus,
		struct mdc_dirent *ents, uint32_t max, uint32_t *n, int *eof);
int mdc_statfs(struct mdc *c, struct mdc_statfs *st);
int mdc_open(struct mdc *c, uint64_t ino, uint32_t flags,
	     struct csvfs_attr *a);
int mdc_release(struct mdc *c, uint64_t ino, uint32_t flags);
/*
 * Moves exclusive ownership of ino from node "from" (the caller's view of
 * the owner, 0 = none) to node "to"; *a gets the attributes after the
 * committed move. -ENOLCK: from is not the owner; -EHOSTUNREACH: to is not
 * a member; -EBUSY: shared mode or another handoff running; -ETIMEDOUT:
 * the owner did not finish its recall (nothing changed).
 */
int mdc_handoff(struct mdc *c, uint64_t ino, uint32_t from, uint32_t to,
		struct csvfs_attr *a);
/* Tells the coordinator this node finished the recall of ino. */
int mdc_recall_done(struct mdc *c, uint64_t ino, int status);
/* Sets and clears CSVFS_IFL_MULTIWRITER / CSVFS_IFL_PINNED of ino. */
int mdc_set_iflags(struct mdc *c, uint64_t ino, uint32_t set, uint32_t clear,
		   struct csvfs_attr *a);
/* ext: caller's array of max entries; *n gets how many were filled. */
int mdc_get_extents(struct mdc *c, uint64_t ino, uint64_t lblk,
		    uint64_t count, struct csvfs_wext *ext, uint32_t max,
		    uint32_t *n);
int mdc_alloc(struct mdc *c, uint64_t ino, uint64_t lblk, uint64_t count,
	      uint32_t flags, struct csvfs_attr *a, struct csvfs_wext *ext,
	      uint32_t max, uint32_t *n);
/* size: new size if larger than the current one (0 = unchanged). */
int mdc_write_done(struct mdc *c, uint64_t ino, uint64_t size,
		   int mtime_valid, int64_t mtime_sec, uint32_t mtime_nsec,
		   const struct mdc_range *r, uint32_t nr,
		   struct csvfs_attr *a);
int mdc_fallocate(struct mdc *c, uint64_t ino, uint32_t mode, uint64_t off,
		  uint64_t len, struct csvfs_attr *a);
/* Returns bytes read (>= 0) or -errno. */
int mdc_inline_read(struct mdc *c, uint64_t ino, uint64_t off, void *buf,
		    uint32_t len);
int mdc_inline_write(struct mdc *c, uint64_t ino, uint64_t off,
		     const void *buf, uint32_t len, struct csvfs_attr *a);
/* Returns the value length (>= 0) or -errno; size 0 asks for the length. */
int mdc_getxattr(struct mdc *c, uint64_t ino, const char *name, void *value,
		 size_t size);
int mdc_setxattr(struct mdc *c, uint64_t ino, const char *name,
		 const void *value, size_t size, uint32_t flags);
/* Returns the list length (>= 0) or -errno; size 0 asks for the length. */
int mdc_listxattr(struct mdc *c, uint64_t ino, char *list, size_t size);
int mdc_removexattr(struct mdc *c, uint64_t ino, const char *name);
int mdc_fsync(struct mdc *c, uint64_t ino);
int mdc_lseek(struct mdc *c, uint64_t ino, uint64_t off, int whence,
	      uint64_t *result);
int mdc_forget(struct mdc *c, uint64_t ino);
/* Acknowledges the INVAL push inval_id (cluster mode). */
int mdc_inval_ack(struct mdc *c, uint64_t inval_id);
/*
 * Sets ino's guaranteed space to bytes (rounded up to whole large blocks;
 * 0 removes it). -ENOSPC: the volume cannot hold that much back.
 */
int mdc_set_reserve(struct mdc *c, uint64_t ino, uint64_t bytes,
		    struct csvfs_attr *a);
/*
 * Allocates every block of [0, size) of ino as written (zeroes); size 0 =
 * the file's size, larger extends the file.
 */
int mdc_prealloc(struct mdc *c, uint64_t ino, uint64_t size,
		 struct csvfs_attr *a);
/* Grows the volume to the device's size; the sizes in large blocks. */
int mdc_grow(struct mdc *c, uint64_t *old_blocks, uint64_t *new_blocks);

/*
 * Application locks (include/csvfs/proto.h LOCK_*; l->node is ignored).
 * lock_set: 0 granted, -EAGAIN conflict, -EINPROGRESS queued as wait_id
 * (CSVFS_LK_WAIT: a LOCK_WAKE push follows), -EDEADLK, -ERESTART grace
 * period, -ENOLCK (a reclaim conflicts).
 */
int mdc_lock_set(struct mdc *c, uint64_t ino, const struct csvfs_wlock *l,
		 uint32_t flags, uint64_t wait_id);
/* F_GETLK: *found = 1 and *holder, or *found = 0. */
int mdc_lock_get(struct mdc *c, uint64_t ino, const struct csvfs_wlock *l,
		 int *found, struct csvfs_wlock *holder);
int mdc_lock_cancel(struct mdc *c, uint64_t ino, uint64_t wait_id);
int mdc_lock_reclaim_done(struct mdc *c);
/* The locks held on ino: up to max into out[], *n gets the total. */
int mdc_lock_list(struct mdc *c, uint64_t ino, struct csvfs_wlock *out,
		  uint32_t max, uint32_t *n);

#endif /* CSVFS_MDC_H */
