/*
 * fsck_i.h: what the files of fsck share. Not for use elsewhere.
 *   fsck.c        driver, reporting, tables, heartbeats, pass 6, summary
 *   fsck_super.c  pass 0 (superblock, journal) and the dump
 *   fsck_pass.c   block helpers, pass 1, collecting ownership
 *   fsck_maps.c   ownership against the bitmaps, pass 5
 *   fsck_inode.c  pass 2 (inodes, rebuilds, blocks owned twice)
 *   fsck_tree.c   passes 3 and 4 (tree, lost+found, links, orphans)
 */
#ifndef CSVFS_FSCK_I_H
#define CSVFS_FSCK_I_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "csvfs/ondisk.h"
#include "meta/fsck/fsck.h"

struct dev;
struct jrnl;
struct jop;
struct alloc;
struct fsub;

/* One inode in use, as found by pass 1 and followed by the later passes. */
struct fino {
	uint64_t ino;
	uint64_t parent;	/* directories: the ".." stored in the inode */
	uint64_t found_parent;	/* directories: where pass 3 found them */
	uint64_t size;
	uint64_t resv;		/* regular files: reserve_blocks */
	uint64_t held;		/* its unused reservation (held back) */
	uint32_t mode, nlink;
	uint32_t links;		/* entries naming it (non-directories) */
	uint32_t subdirs;	/* directories: subdirectories found */
	uint32_t fl;		/* FI_* */
	uint32_t mark;		/* scratch for walks */
};
#define FI_REACHED	0x1	/* found in the tree */
#define FI_ORPHAN	0x2	/* on the orphan list */
#define FI_BAD		0x4	/* cleared or unusable: no inode now */
#define FI_BADCRC	0x8	/* bad checksum, sane contents (-n) */
#define FI_DIRBAD	0x10	/* directory structure failed dir_check */
#define FI_OFLAG	0x20	/* CSVFS_IFL_ORPHAN is set in the inode */
#define FI_NEW		0x40	/* fsck made it: links set quietly */

/* A run of large blocks and who owns it. */
struct frun {
	uint64_t pblk, len;
	uint64_t lblk;		/* file owners: first logical block */
	uint64_t owner;		/* an inode, or OWN_* */
};
#define OWN_SYSTEM	0	/* superblock .. bitmap (below data_start) */
#define OWN_CHUNK	1	/* a meta chunk */

/* A metadata block referenced by an inode (itself, leaves, dir blocks). */
struct fref {
	uint64_t mblk, owner;
};

/*
 * A directory block (bucket or index) in use seen in pass 1, with the
 * directory it names: what a rebuild salvages from and replaces.
 */
struct fbucket {
	uint64_t mblk, dir;
};

struct fsck {
	struct dev *d;
	const struct fsck_opts *o;
	struct fsck_report *r;
	FILE *out;
	const char *name;
	struct csvfs_super sb;
	uint64_t bsize, mpb;
	struct jrnl *j;
	struct alloc *a;	/* repairing modes, once it loads */
	int rw;			/* repairs allowed */
	int changed;		/* ownership changed: recollect in pass 5 */
	int opfail;		/* an operational error stopped the check */
	int checked;		/* the passes ran (counts are meaningful) */
	int restart;		/* chunks were relinked: check again */
	int free_leaks;		/* pass 5 may free what nothing owns */
	int quiet;		/* print no problem lines (dump) */
	unsigned since_commit;	/* operations since the last commit */

	char msg[640];		/* the problem being reported */

	struct fino *ino;	/* sorted by ino */
	size_t nino, capino;
	struct frun *run;
	size_t nrun, caprun;
	struct fref *ref;
	size_t nref, capref;
	struct fsub *sub;	/* sub chunks and runs (fsck_sub.c) */
	uint64_t *chunk;	/* meta chunks, in list order */
	size_t nchunk, capchunk;
	uint64_t *csort;	/* the same, sorted (fk_chunk_of) */
	size_t capcsort;
	int csorted;
	uint64_t *rel;		/* metadata blocks a rebuild replaced */
	size_t nrel, caprel;
	int relsorted;
	struct fbucket *bk;
	size_t nbk, capbk;
	uint64_t root, lost_found;
	uint64_t max_gen;
	uint64_t prog_ns;	/* last progress line */
};

/* A repair that needs the allocator when its maps could not be loaded. */
#define FK_ENOALLOC	(-ENOTRECOVERABLE)

/* ---- fsck.c: reporting --------------------------------------------------- */

/*
 * Reports a problem (counted as an error). Returns 1 when the caller is to
 * repair it now and then call fk_result; else the line is already printed
 * with "not fixed". preen_ok: -p may repair it.
 */
__attribute__((format(printf, 3, 4)))
int fk_problem(struct fsck *f, int preen_ok, const char *fmt, ...);
/* Ends a problem fk_problem said to repair: rc 0 = fixed. how may be NULL. */
__attribute__((format(printf, 3, 4)))
void fk_result(struct fsck *f, int rc, const char *how, ...);
/* A line that is not an error (recovery, notes). */
__attribute__((format(printf, 2, 3)))
void fk_info(struct fsck *f, const char *fmt, ...);
/* "Pass N: ..." (verbose or terminal). */
__attribute__((format(printf, 2, 3)))
void fk_pass(struct fsck *f, const char *fmt, ...);
/* Progress on stderr (terminal only), throttled. */
void fk_progress(struct fsck *f, const char *what, uint64_t done,
		 uint64_t total);
/* Commits the running transaction (repairing modes); 0 or an error. */
int fk_commit(struct fsck *f);
/* Commits when many operations have piled up. */
int fk_maybe_commit(struct fsck *f);

/* ---- fsck.c: helpers ----------------------------------------------------- */

/* Reads one mblk raw (no check) into an aligned 4 KiB buffer. */
int fk_pread(struct fsck *f, void *buf, uint64_t mblk);
/*
 * Reads block mblk checked against magic through the cache into raw (4 KiB).
 * A block whose only fault is its checksum (reported in pass 1, and left
 * so by -n or -p) is returned too, read raw, with -CSVFS_EBADCRC.
 */
int fk_read(struct fsck *f, struct jop *op, uint64_t mblk, uint32_t magic,
	    uint8_t *raw);
/* Reads and decodes an inode (see fk_read). */
int fk_read_inode(struct fsck *f, struct jop *op, uint64_t ino,
		  struct csvfs_inode *in);
/* Writes a decoded inode back in its block (repair operations). */
int fk_write_inode(struct fsck *f, struct jop *op,
		   const struct csvfs_inode *in);
const char *fk_type_name(uint32_t mode);
int fk_mode_valid(uint32_t mode);

/* ---- fsck.c: tables ------------------------------------------------------ */

struct fino *fk_ino(struct fsck *f, uint64_t ino);	/* NULL if absent */
/* Finds or inserts (sorted). */
struct fino *fk_ino_add(struct fsck *f, uint64_t ino);
/* Appends (pass 1; fk_ino_sort afterwards). */
struct fino *fk_ino_append(struct fsck *f, uint64_t ino);
void fk_ino_sort(struct fsck *f);
int fk_run_add(struct fsck *f, uint64_t pblk, uint64_t len, uint64_t lblk,
	       uint64_t owner);
int fk_ref_add(struct fsck *f, uint64_t mblk, uint64_t owner);
int fk_chunk_add(struct fsck *f, uint64_t blk);
int fk_bucket_add(struct fsck *f, uint64_t mblk, uint64_t dir);
int fk_rel_add(struct fsck *f, uint64_t mblk);
/* Whether mblk is one a rebuild replaced (sorts on first use). */
int fk_released(struct fsck *f, uint64_t mblk);
/* Index of the meta chunk holding mblk in f->chunk, or -1. */
long fk_chunk_of(struct fsck *f, uint64_t mblk);

/* ---- the passes ---------------------------------------------------------- */

int fk_pass1(struct fsck *f);
int fk_pass2(struct fsck *f);
int fk_pass3(struct fsck *f);
int fk_pass4(struct fsck *f);
int fk_pass5(struct fsck *f);
/* Structural sanity of a block whose checksum failed (reseal decision). */
int fk_inode_sane(const struct fsck *f, uint64_t mblk, const uint8_t *raw);

/* ---- shared between the pass files --------------------------------------- */

#define FK_PROG		"fsck.csvfs"
#define IFL_KNOWN	(CSVFS_IFL_INLINE | CSVFS_IFL_EXTBLOCKS | \
			 CSVFS_IFL_MULTIWRITER | CSVFS_IFL_PINNED | \
			 CSVFS_IFL_ORPHAN | CSVFS_IFL_STRICT | \
			 CSVFS_IFL_HANDOFF | CSVFS_IFL_LONGLINK | \
			 CSVFS_IFL_XBLOB | CSVFS_IFL_TMPFILE | CSVFS_IFL_TAIL)
#define EXT_KNOWN	(CSVFS_EXT_UNWRITTEN | CSVFS_EXT_AHEAD | CSVFS_EXT_SUB)

/* fsck_sub.c: the sub-block map */
int fk_sub_collect(struct fsck *f);	/* sub chunks, with the fixed runs */
int fk_sub_run_add(struct fsck *f, uint64_t ino, const struct csvfs_extent *e);
void fk_sub_reset_runs(struct fsck *f);
int fk_sub_check(struct fsck *f);	/* pass 5 */
void fk_sub_release(struct fsck *f);
#define DIR_DEPTH_MAX	17	/* dir.c's DIR_MAX_DEPTH */
#define LOST_FOUND	"lost+found"

/* dir_check callback context: references of one owner. */
struct refctx {
	struct fsck *f;
	uint64_t owner;
	int rc;
};

/* A repair pass 2 found and makes once the maps are protected. */
enum { T_DIR = 1, T_SALVAGE, T_OUTSIDE };

struct todo {
	uint64_t ino;
	int kind;
	char why[240];
};

struct todov {
	struct todo *t;
	size_t n, cap;
};

/* A directory entry, as read or salvaged. */
struct ent {
	uint64_t ino;
	uint8_t type, len;
	char name[CSVFS_NAME_MAX + 1];
};

struct entv {
	struct ent *e;
	size_t n, cap;
};

/* A directory entry parsed from a bucket. */
struct rent {
	uint64_t hash, ino;
	unsigned rec_len, name_len;
	uint8_t type;
	const char *name;
};

static inline int fk_bit(const uint8_t *map, uint64_t i)
{
	return (map[i / 8] >> (i % 8)) & 1;
}

static inline void fk_bit_put(uint8_t *map, uint64_t i, int v)
{
	if (v)
		map[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		map[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static inline uint32_t fk_popcount(const uint8_t *map, uint64_t nbits)
{
	uint64_t i;
	uint32_t n = 0;

	for (i = 0; i < nbits; i++)
		n += (uint32_t)fk_bit(map, i);
	return n;
}

/* fsck.c */
void fk_release(struct fsck *f);		/* frees the tables */
/* Rebuilds a directory from the entries its buckets still hold. */
int fk_dir_rebuild(struct fsck *f, uint64_t dir, size_t *added);

/* fsck_super.c: pass 0; both return 0 or an FSCK_EXIT_* code */
int fk_pass0_super(struct fsck *f);
int fk_pass0_journal(struct fsck *f);

/* fsck_pass.c: block and ownership helpers */
int fk_hdr_ok(const struct fsck *f, const uint8_t *raw, uint32_t magic,
	      uint64_t mblk);		/* magic, number, version, UUID */
int fk_ext_ok(const struct fsck *f, const struct csvfs_extent *e,
	      int in_area);		/* valid (inside the data area) */
const char *fk_owner_name(uint64_t owner, char *buf, size_t len);
const char *fk_range_str(uint64_t start, uint64_t len, char *buf, size_t n);
int fk_put_inode(struct fsck *f, const struct csvfs_inode *in);
/* Reloads the allocator counters after direct map edits. */
void fk_resync(struct fsck *f);
/* Sets (v 1) or clears count chunk map bits from mblk; recounts nused. */
int fk_chunk_bits(struct fsck *f, struct jop *op, uint64_t mblk,
		  uint64_t count, int v);
int fk_clear_inode(struct fsck *f, uint64_t ino);	/* mode 0, freed */
int fk_rent_at(const struct csvfs_dbucket *b, unsigned off, unsigned used,
	       struct rent *e);		/* 0, or -1 past a bad record */
int fk_rent_valid(const struct fsck *f, const struct rent *e);
void fk_ref_cb(void *ctx, uint64_t mblk);	/* dir_check cb, refctx */
/*
 * Checks inode ino's blob chains (long symlink target, xattr records)
 * and adds the blocks of each whole one as ino's references. Returns 0,
 * the CSVFS_BLOB_* kind of a broken chain (why says what is wrong; it
 * adds no reference), or -ENOMEM / -EIO.
 */
int fk_blob_refs(struct fsck *f, struct jop *op, uint64_t ino,
		 const struct csvfs_inode *in, char *why, size_t wlen);
/* The extents of a file that can still be read (malloc'd, sorted). */
int fk_collect_extents(struct fsck *f, uint64_t ino,
		       const struct csvfs_inode *in, struct csvfs_extent **e,
		       size_t *n);
int fk_collect_broken(struct fsck *f, uint64_t ino,
		      const struct csvfs_inode *in);
int fk_dir_refs_broken(struct fsck *f, uint64_t ino,
		       const struct csvfs_inode *in);
int fk_add_fixed_runs(struct fsck *f);	/* system area and chunks */
int fk_recollect(struct fsck *f);	/* all ownership again */
/* Whether large block b starts with a valid chunk header of ours. */
int fk_holds_chunk(struct fsck *f, uint64_t b);
/* Points chunk blk's header at next. */
int fk_chunk_link(struct fsck *f, uint64_t blk, uint64_t next);

/* fsck_maps.c: maps against ownership, owned-but-free always, leaks if
 * leaks (pass 5) */
int fk_cmp_run(const void *x, const void *y);
int fk_cmp_ref(const void *x, const void *y);
int fk_compare_blocks(struct fsck *f, int leaks);
int fk_compare_chunks(struct fsck *f, int leaks);

/* fsck_inode.c */
int fk_check_inode(struct fsck *f, struct todov *tv, size_t k);
int fk_dir_salvage(struct fsck *f, uint64_t dir, struct ent **out,
		   size_t *nout);
void fk_do_todo(struct fsck *f, const struct todo *t);

#endif /* CSVFS_FSCK_I_H */
