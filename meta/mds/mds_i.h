/*
 * mds_i.h: what the coordinator's source files (mds.c: lifecycle and
 * dispatch; mds_own.c: file ownership; mds_ns.c: namespace and attribute
 * requests; mds_data.c: extents, allocation, truncation and inline data)
 * share. Not for use outside meta/mds/.
 */
#ifndef CSVFS_MDS_I_H
#define CSVFS_MDS_I_H

#include <pthread.h>
#include <stdint.h>

#include "csvfs/ondisk.h"
#include "csvfs/proto.h"
#include "meta/extent.h"
#include "meta/mds/mds.h"
#include "net/msg.h"

struct dev;
struct jrnl;
struct alloc;
struct jop;
struct mbuf;
struct hb;
struct hb_watch;

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

/* Nodes as a bit mask (node n is bit n - 1). */
#define MDS_NODE_WORDS	((CSVFS_MAX_NODES_LIMIT + 63) / 64)
#define MDS_INTR_HASH	16384

/* Nodes that may cache an inode's attributes or a directory's entries. */
struct mds_intr {
	uint64_t ino;
	uint64_t mask[MDS_NODE_WORDS];
	struct mds_intr *next;
};

/* An INVAL waiting for acknowledgements (under inval_lock). */
struct mds_inval_wait {
	uint64_t id;
	uint64_t mask[MDS_NODE_WORDS];	/* nodes yet to acknowledge */
	struct mds_inval_wait *next;
};

/* An inode a request changed, and the nodes to tell. */
struct mds_inv {
	uint64_t ino;
	uint64_t mask[MDS_NODE_WORDS];
};
#define MDS_REQ_INVALS	16

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
	/* Client caches (mds_inval.c). intr: under the metadata lock. */
	struct mds_intr **intr;
	size_t nintr;
	pthread_mutex_t inval_lock;	/* waits, next_inval_id */
	pthread_cond_t inval_cond;	/* CLOCK_MONOTONIC */
	struct mds_inval_wait *waits;
	uint64_t next_inval_id;
	uint64_t serve_ns;		/* when this coordinator started */
	uint64_t last_req_ns[CSVFS_MAX_NODES_LIMIT + 1];
	struct hb *hb;			/* standalone: our heartbeat */
	struct hb_watch *watch;		/* cluster: everyone's */
	struct mds_locks *locks;	/* application locks (mds_lock.c) */
	uint64_t sweep_ns;		/* last mds_orphans_sweep (atomic) */
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
	/* Inodes changed, nodes to tell (mds_inval_collect). */
	struct mds_inv inv[MDS_REQ_INVALS];
	uint32_t ninv;
	uint64_t inv_all[MDS_NODE_WORDS];	/* nodes that drop all */
};

typedef int (*mds_handler)(struct mds_req *r);

/* mds_own.c: file ownership (the rules: lockd/lockd.c) */
struct lockd_state;
/* Ownership fields of an inode <-> the lockd state. */
void mds_own_decode(const struct csvfs_inode *in, struct lockd_state *s);
void mds_own_encode(const struct lockd_state *s, struct csvfs_inode *in);
/*
 * Opens ino (decoded in *in, block mb) for the requesting node with
 * CSVFS_OPEN_* flags: ownership (cluster mode) and the open table.
 */
int mds_open_ino(struct mds_req *r, uint64_t ino, struct csvfs_inode *in,
		 struct mbuf *mb, uint32_t flags);
/*
 * May the requesting node report writes (WRITE_DONE: size, written
 * ranges) to ino? Only while it holds the file: 0, or -CSVFS_ELEASE once
 * its hold was broken or handed off. Standalone: always.
 */
int mds_may_report(struct mds_req *r, uint64_t ino,
		   const struct csvfs_inode *in);
/*
 * Cluster mode: -EBUSY (logged) when the requesting node may not change
 * ino's size or blocks (frees: free some) because other nodes hold it
 * (lockd_may_modify).
 */
int mds_may_modify(struct mds_req *r, uint64_t ino,
		   const struct csvfs_inode *in, int frees);
/* Cluster mode: node left the membership and its heartbeat stopped. */
int mds_node_dead(struct mds *m, uint32_t node);
/* Forgets a dead node's opens of ino in the open table. */
void mds_open_drop_node(struct mds *m, uint64_t ino, uint32_t node);
/*
 * Breaks on *s every hold of a node that is dead (mds_node_dead), except
 * node except (the requester: alive by definition), and forgets its opens
 * of ino; MDS_BREAK_LOCKS also drops the dead node's application locks.
 * The caller journals *s. Returns the number of holds broken. Metadata
 * lock held.
 */
#define MDS_BREAK_LOCKS	0x1
int mds_own_break_dead(struct mds *m, uint64_t ino, struct lockd_state *s,
		       uint32_t except, unsigned flags);
int mds_h_open(struct mds_req *r);
int mds_h_release(struct mds_req *r);
int mds_h_recall_done(struct mds_req *r);
int mds_h_set_iflags(struct mds_req *r);
/* HANDOFF: outside the table (it waits for RECALL_DONE between steps). */
int mds_handoff(struct mds *m, const struct csvfs_msg_hdr *hdr,
		const uint8_t *payload, uint8_t **reply, size_t *reply_len);

/* mds.c */
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
/*
 * The last close of an unlinked file, or a shrinking truncate: trims
 * ino, and frees it when unlinked and not in use (mds_ino_busy).
 */
int mds_reclaim(struct mds *m, uint64_t ino);
/*
 * Whether ino may not be freed: open on some node (the open table), a
 * handoff pending, or (cluster mode) held by a node in the inode.
 */
int mds_ino_busy(struct mds *m, uint64_t ino, const struct csvfs_inode *in);
/*
 * Cluster mode, at most every dead_ms (called after requests): breaks the
 * holds dead nodes have on orphans (nobody can open an unlinked file, so
 * no open breaks them) and frees those nobody holds any more.
 */
void mds_orphans_sweep(struct mds *m);
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
int mds_h_tmpfile(struct mds_req *r);
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

/* mds_retry.c (under the metadata lock) */
/*
 * A retry of a recorded request (include/csvfs/proto.h): 1 with the
 * recorded reply in r->out; 0 when the request must run; or -ENOMEM.
 */
int mds_retry_find(struct mds_req *r);
/* Records r's successful reply in the node's client slot. 0 or -errno. */
int mds_retry_record(struct mds_req *r);

/* mds_inval.c */
int mds_inval_init(struct mds *m);
void mds_inval_free(struct mds *m);
/*
 * The requesting node may cache ino (its attributes; its entries if a
 * directory). Under the metadata lock. 0 or -ENOMEM.
 */
int mds_interest(struct mds_req *r, uint64_t ino);
/* FORGET: node dropped ino. Under the metadata lock. */
void mds_interest_forget(struct mds *m, uint32_t node, uint64_t ino);
/* Takes the nodes to tell about r's changes. Before jop_end. */
void mds_inval_collect(struct mds_req *r);
/* Tells them and waits (see mds_inval.c). After jop_end, before replying. */
void mds_inval_send(struct mds_req *r);
/* An INVAL_ACK request (handled outside the metadata lock). */
int mds_inval_ack(struct mds *m, const struct csvfs_msg_hdr *hdr,
		  const uint8_t *payload);
/* Every request: when the node was last heard of. */
void mds_note_request(struct mds *m, uint32_t node);

/* mds_space.c: STATFS, in 4 KiB units (sub-blocks count exactly). */
int mds_h_statfs(struct mds_req *r);

/* mds_sub.c: sub-block files (under the metadata lock unless said) */
/* Whether an ALLOC_SMALL up to byte end may keep the file in sub-blocks. */
int mds_sub_eligible(const struct mds *m, const struct csvfs_inode *in,
		     uint64_t end);
/* Gives the file a sub-block run covering [0, end) (inline data moved). */
int mds_sub_alloc(struct mds_req *r, struct csvfs_inode *in, uint64_t end);
/* A loaded map that is a sub-block run moves to one large block. */
int mds_sub_promote(struct mds_req *r, struct csvfs_inode *in,
		    struct extmap *em);
/*
 * A sub-block file moves to a large block now (before it becomes
 * multi-writer); -EBUSY while it is open on another node than the asking
 * one (a writer there could still write to the old run; the asking node
 * holds its own I/O back, fs/data.c data_set_iflags).
 */
int mds_sub_promote_inode(struct mds_req *r, uint64_t ino,
			  struct csvfs_inode *in);
/*
 * Tails (include/csvfs/ondisk.h). untail: the tail goes back into a unit
 * behind the run (the run moves if it cannot grow); 0 if none. tail_size:
 * a size change of a file with a tail, before in->size changes (a tail
 * cut or zeroed past the new size, or untailed when it outgrows the
 * inode). pack_tail: at last close, the last partial unit moves into the
 * inode; 1 when it did (the caller writes the inode), 0 when the file
 * does not qualify.
 */
int mds_sub_untail(struct mds_req *r, struct csvfs_inode *in);
int mds_sub_tail_size(struct mds_req *r, struct csvfs_inode *in,
		      uint64_t size);
int mds_sub_pack_tail(struct mds_req *r, struct csvfs_inode *in);
/*
 * Frees the run past EOF (all of it: free_all); zero_tail: zeroes the
 * bytes past EOF in the last unit (after a shrink; the writer never
 * writes past EOF, so the room ahead given back at last close is zero).
 */
int mds_sub_trim(struct mds_req *r, struct csvfs_inode *in, int free_all,
		 int zero_tail);
/* Zeroes bytes [off, off+len) of a sub-block run (not flushed). */
int mds_sub_zero(struct mds *m, const struct csvfs_extent *e, uint64_t off,
		 uint64_t len);
/*
 * Gives empty meta and sub chunks back, all: every one, else one spare of
 * each kind stays. Returns how many went back, or -errno. No metadata
 * lock held.
 */
int mds_chunks_release(struct mds *m, int all);
/* Start-up, after orphan recovery: finishes an interrupted release. */
int mds_sub_startup(struct mds *m);

/* mds_lock.c: application locks (own mutex; never the metadata lock) */
/* After the heartbeat watch started. 0 or -errno. */
int mds_lock_init(struct mds *m);
/* No request may be running. */
void mds_lock_free(struct mds *m);
/* LOCK_* requests (outside the table: no metadata operation). */
int mds_lock_dispatch(struct mds *m, const struct csvfs_msg_hdr *hdr,
		      const uint8_t *payload, uint8_t **reply,
		      size_t *reply_len);
/* node is dead (its ownership was broken): drop its locks, wake waiters. */
void mds_lock_node_dead(struct mds *m, uint32_t node);

#endif /* CSVFS_MDS_I_H */
