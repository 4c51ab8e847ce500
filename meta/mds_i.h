/*
 * mds_i.h: what the coordinator's source files (mds.c: lifecycle and
 * dispatch; mds_ns.c: namespace and attribute requests; mds_data.c:
 * extents, allocation, truncation and inline data) share. Not for use
 * outside meta/mds*.c.
 */
#ifndef CSVFS_MDS_I_H
#define CSVFS_MDS_I_H

#include <pthread.h>
#include <stdint.h>

#include "csvfs/ondisk.h"
#include "csvfs/proto.h"
#include "meta/extent.h"
#include "meta/mds.h"
#include "net/msg.h"

struct dev;
struct jrnl;
struct alloc;
struct jop;
struct mbuf;

/* Opens of one inode by one node. */
struct mds_open_node {
	uint32_t node;
	uint32_t nopen;
};

/*
 * Open state of one inode (in memory, under the metadata lock). After a
 * coordinator change it starts empty: ownership itself lives in the inode,
 * and a node tells with CSVFS_OPEN_LAST when its last handle closes.
 */
struct mds_open {
	uint64_t ino;
	uint32_t nopen;		/* opens on all nodes */
	uint32_t nwrite;	/* of which with write access */
	uint32_t nnodes;	/* entries used in per[] */
	uint32_t cap;		/* entries allocated in per[] */
	struct mds_open_node *per;	/* opens counted per node */
	uint32_t handoff_to;	/* a handoff to this node is waiting */
	struct mds_open *next;
};

#define MDS_OPEN_HASH 4096

/* A handoff waiting for the owner's RECALL_DONE (under recall_lock). */
struct mds_recall {
	uint64_t ino;
	uint32_t node;		/* the owner being recalled */
	int done;
	int status;
	struct mds_recall *next;
};

struct mds {
	struct dev *dev;
	struct csvfs_super sb;
	struct jrnl *j;
	struct alloc *a;
	struct mds_opts o;
	uint64_t bsize;
	uint64_t epoch;
	struct mds_open *open[MDS_OPEN_HASH];
	uint64_t provisioned;	/* sum of regular file sizes (recounted
				 * at start, see mds_space.c) */
	int lowspace;		/* below the low-space threshold now */
	int growing;		/* a GROW is running (metadata lock) */
	pthread_mutex_t recall_lock;
	pthread_cond_t recall_cond;
	struct mds_recall *recalls;
};

/* One request being handled. */
struct mds_req {
	struct mds *m;
	const struct csvfs_msg_hdr *hdr;
	struct msg_rd in;
	struct msg_wr out;
	struct jop *op;
	int sync;		/* reply only after the journal commit */
	int alloc_touched;	/* failed ops must resync the allocator */
	uint64_t wait_tid;	/* extra transaction to wait for, 0 = none */
	uint64_t reclaim_ino;	/* unlinked and closed: free after the op */
};

typedef int (*mds_handler)(struct mds_req *r);

/* mds.c */
struct lockd_state;
/* Ownership fields of an inode <-> the lockd state. */
void mds_own_decode(const struct csvfs_inode *in, struct lockd_state *s);
/*
 * Opens ino (decoded in *in, block mb) for the requesting node with
 * CSVFS_OPEN_* flags: ownership (cluster mode) and the open table.
 */
int mds_open_ino(struct mds_req *r, uint64_t ino, struct csvfs_inode *in,
		 struct mbuf *mb, uint32_t flags);
/*
 * Cluster mode: -EBUSY (logged) when the requesting node may not change
 * ino's size or blocks without an open because other nodes hold it.
 */
int mds_may_modify(struct mds_req *r, uint64_t ino,
		   const struct csvfs_inode *in);
void mds_own_encode(const struct lockd_state *s, struct csvfs_inode *in);
uint64_t mds_now_ns(void);
int mds_get(struct mds_req *r, uint64_t ino, struct csvfs_inode *in,
	    struct mbuf **mb);
void mds_attr(struct mds *m, uint64_t ino, const struct csvfs_inode *in,
	      struct csvfs_attr *a);
void mds_put_attr(struct mds_req *r, uint64_t ino,
		  const struct csvfs_inode *in);
struct mds_open *mds_open_find(struct mds *m, uint64_t ino, int create);
void mds_open_drop(struct mds *m, uint64_t ino);
int mds_orphan_add(struct mds_req *r, uint64_t ino, struct csvfs_inode *in);
int mds_orphan_del(struct mds_req *r, uint64_t ino, struct csvfs_inode *in);
/*
 * Zeroes the runs on the device and flushes (before the transaction that
 * frees them may commit).
 */
int mds_zero_runs(struct mds *m, const struct ext_run *runs, size_t n);
/* Zeroes bytes [off, off+len) of the file's blocks on the device. */
int mds_zero_file_range(struct mds *m, const struct extmap *em,
			uint64_t off, uint64_t len);
int mds_name_ok(const char *name, size_t len);

/* mds_data.c */
/* Frees blocks from lblk on (all if 0) and, for nlink 0, the inode. */
int mds_trim(struct mds_req *r, uint64_t ino, uint64_t from_lblk,
	     int free_inode);
/* Moves inline data to a block; the file stays empty of extents if 0. */
int mds_uninline(struct mds_req *r, uint64_t ino, struct csvfs_inode *in);
/* Sets a regular file's size (SETATTR size); ino's block is in *mb. */
int mds_set_size(struct mds_req *r, uint64_t ino, struct csvfs_inode *in,
		 struct mbuf *mb, uint64_t size);
/* Gives back blocks allocated ahead beyond EOF (last close). */
int mds_trim_ahead(struct mds_req *r, uint64_t ino);
/* Reclaims (or trims) every inode on the orphan list: startup recovery. */
int mds_orphans_recover(struct mds *m);
/* The last close of an unlinked file: frees it. */
int mds_reclaim(struct mds *m, uint64_t ino);

int mds_h_get_extents(struct mds_req *r);
int mds_h_alloc(struct mds_req *r);
int mds_h_write_done(struct mds_req *r);
int mds_h_fallocate(struct mds_req *r);
int mds_h_inline_read(struct mds_req *r);
int mds_h_inline_write(struct mds_req *r);
int mds_h_lseek(struct mds_req *r);
int mds_h_prealloc(struct mds_req *r);

/* mds_space.c */
/* The blocks a file's unused reservation holds back. */
uint64_t mds_resv_held(uint64_t reserve_blocks, uint64_t nblocks);
/*
 * Sets in->reserve_blocks and in->nblocks and moves the volume's held-back
 * sum (journaled in the state block, in r's operation) by the change of
 * the file's unused reservation. Every change of either goes through
 * here (the caller writes the inode).
 */
int mds_resv_update(struct mds_req *r, struct csvfs_inode *in,
		    uint64_t reserve_blocks, uint64_t nblocks);
/* mds_resv_update with the reservation unchanged. */
int mds_set_nblocks(struct mds_req *r, struct csvfs_inode *in,
		    uint64_t nblocks);
/* After an undone operation: the allocator's held-back count again. */
void mds_space_resync(struct mds *m, struct jop *op);
/* Logs once per crossing of the low-space threshold (metadata lock). */
void mds_space_check(struct mds *m);
/*
 * Start-up, right after replay: counts provisioned bytes and held-back
 * blocks from the inodes; corrects the state block if it disagrees.
 */
int mds_space_load(struct mds *m);
int mds_h_set_reserve(struct mds_req *r);
/* GROW: outside the table (it commits between its steps). */
int mds_grow(struct mds *m, const struct csvfs_msg_hdr *hdr,
	     const uint8_t *payload, uint8_t **reply, size_t *reply_len);

/* mds_ns.c */
int mds_h_lookup(struct mds_req *r);
int mds_h_getattr(struct mds_req *r);
int mds_h_setattr(struct mds_req *r);
int mds_h_mknod(struct mds_req *r);
int mds_h_create(struct mds_req *r);
int mds_h_mkdir(struct mds_req *r);
int mds_h_symlink(struct mds_req *r);
int mds_h_unlink(struct mds_req *r);
int mds_h_rmdir(struct mds_req *r);
int mds_h_rename(struct mds_req *r);
int mds_h_link(struct mds_req *r);
int mds_h_readlink(struct mds_req *r);
int mds_h_readdir(struct mds_req *r);
int mds_h_getxattr(struct mds_req *r);
int mds_h_setxattr(struct mds_req *r);
int mds_h_listxattr(struct mds_req *r);
int mds_h_removexattr(struct mds_req *r);

#endif /* CSVFS_MDS_I_H */
