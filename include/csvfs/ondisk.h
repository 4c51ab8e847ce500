/*
 * csvfs on-disk format.
 *
 * Everything csvfs writes to the shared device is declared here and nowhere
 * else. All fields are little-endian and fixed width; no struct here is ever
 * cast onto a raw block: meta/ondisk.c decodes raw bytes into these structs
 * after checking magic, block number, volume UUID and checksum, and encodes
 * them back field by field.
 *
 * Units:
 *   mblk  a 4 KiB metadata block, numbered from the start of the device.
 *   blk   a large data block (1, 2, 4 or 8 MiB, fixed at mkfs), numbered from
 *         the start of the device. Metadata blocks are carved out of large
 *         blocks ("meta chunks").
 *   ino   an inode number is the mblk number of the inode's block; the root
 *         directory's is recorded in the superblock.
 *
 * Layout (positions recorded in the superblock):
 *   mblk 0                      superblock
 *   mblk 1                      volume state block (journaled: orphan list)
 *   mblk 16 ..                  node heartbeat slots, one mblk per node
 *   last mblk of large block 0  backup superblock
 *   from large block 1          client table, one mblk per node (journaled
 *                               last request sequence + reply, for
 *                               retries), journal, allocation bitmap, each
 *                               a whole number of large blocks
 *   then                        data: file data and meta chunks (the first
 *                               chunk holds the root directory inode)
 *
 * Stale data: every free large block reads as zeroes on the device. mkfs
 * zeroes the data area (a punched hole on an image file, BLKZEROOUT on a
 * block device), and the coordinator zeroes a block, and waits for that to
 * be durable, before the transaction that frees it commits. A block handed
 * to a file therefore never shows another file's bytes, even after a crash
 * at any point; the UNWRITTEN extent flag only lets readers skip the device.
 *
 * Space (no format change, meaning written down with issue 6): the volume
 * holds back, for every regular file, max(0, reserve_blocks - nblocks)
 * large blocks; vstate.reserved_blocks is their sum, journaled with every
 * change of either field. The bitmap bits past total_blocks are set at
 * mkfs; an online grow clears those the volume grows into before it
 * writes the superblock, so after a crash they may be clear (still past
 * the end, unused).
 *
 * Sub-blocks (format 2): a regular file whose data fits in
 * CSVFS_SUB_MAX(block_shift) bytes lives in one run of 4 KiB sub-blocks
 * carved from a "sub chunk", a large block given over to small-file data
 * (unit 0 is the csvfs_chunk header with magic CSVFS_MAGIC_SUBCHUNK, bit i
 * of used[] says whether 4 KiB unit i is taken). Such a file has exactly
 * one extent, flagged CSVFS_EXT_SUB, whose pblk is the mblk number of its
 * first unit and len the number of units; it maps bytes [0, len * 4 KiB).
 * Sub chunks form a list from vstate.sub_head. Stale data: a free unit
 * reads as zeroes unless its dirty[] bit is set; a unit is freed with its
 * dirty bit set in the very transaction that takes it from its file (so a
 * file moving to new blocks gives up its old run atomically, with no
 * zeroing before the switch is durable), and the coordinator zeroes dirty
 * units, durably, before the transaction that hands them out commits.
 * A unit handed to a file thus never shows another file's bytes. A meta or sub
 * chunk that becomes empty is given back to the bitmap; vstate.release_blk
 * names a chunk taken off its list whose bit is still set (see
 * meta/subblk.h for why the release is done in two steps).
 *
 * Format changelog:
 *   1.0  first format.
 *   1.1  ownership for QEMU's live migration (issue 11): readers may hold
 *        a file beside its writer (own_holders in CSVFS_OWN_WRITER mode),
 *        inode flags CSVFS_IFL_STRICT and CSVFS_IFL_HANDOFF. A 1.0 volume
 *        reads the same; a 1.0 fsck would clear the two flags.
 *   1.2  long symlinks and large xattrs (issue 14): blob blocks
 *        (CSVFS_MAGIC_BLOB, struct csvfs_blob) hold a symlink target
 *        longer than the inode body (CSVFS_IFL_LONGLINK) and an inode's
 *        xattr records once they outgrow its xattr area
 *        (CSVFS_IFL_XBLOB); xattr records carry a third value length
 *        byte (values up to 64 KiB). CSVFS_IFL_TMPFILE marks an
 *        O_TMPFILE file (an orphan) that may still get a first name.
 *        Volumes without such inodes read the same; older code misreads
 *        those inodes.
 *   2.0  sub-blocks (CSVFS_EXT_SUB, sub chunks, vstate.sub_head and
 *        vstate.release_blk); empty meta chunks return to the bitmap;
 *        tails of sub-block files in the inode (CSVFS_IFL_TAIL);
 *        inline files without xattrs up to 3840 bytes (xattr[] too).
 *        Keeps the 1.1 and 1.2 inode flags and blob chains (blob
 *        blocks are metadata blocks, never sub-blocks). 1.x volumes are
 *        refused by mount and fsck (no migration tool yet).
 */
#ifndef CSVFS_ONDISK_H
#define CSVFS_ONDISK_H

#include <stdint.h>

#define CSVFS_VERSION_MAJOR	2	/* incompatible changes bump this */
#define CSVFS_VERSION_MINOR	0	/* compatible additions bump this */

#define CSVFS_MBLK_SIZE		4096u
#define CSVFS_MBLK_SHIFT	12
#define CSVFS_MIN_BLOCK_SHIFT	20	/* 1 MiB */
#define CSVFS_MAX_BLOCK_SHIFT	23	/* 8 MiB */
#define CSVFS_NAME_MAX		255
#define CSVFS_LABEL_MAX		64
#define CSVFS_UUID_SIZE		16
#define CSVFS_MAX_NODES_LIMIT	128
#define CSVFS_DEFAULT_NODES	64

#define CSVFS_SB_MBLK		0
#define CSVFS_STATE_MBLK	1
#define CSVFS_HB_MBLK		16	/* first heartbeat slot */

/* Magic numbers, one per block type. */
#define CSVFS_MAGIC_SUPER	0x53565343u	/* "CSVS" */
#define CSVFS_MAGIC_STATE	0x54535643u	/* "CVST" */
#define CSVFS_MAGIC_HB		0x42485643u	/* "CVHB" */
#define CSVFS_MAGIC_CLIENT	0x4c435643u	/* "CVCL" */
#define CSVFS_MAGIC_JSB		0x534a5643u	/* "CVJS" journal superblock */
#define CSVFS_MAGIC_JDESC	0x444a5643u	/* "CVJD" journal descriptor */
#define CSVFS_MAGIC_JCOMMIT	0x434a5643u	/* "CVJC" journal commit */
#define CSVFS_MAGIC_BITMAP	0x4d425643u	/* "CVBM" */
#define CSVFS_MAGIC_CHUNK	0x48435643u	/* "CVCH" meta chunk header */
#define CSVFS_MAGIC_INODE	0x4e495643u	/* "CVIN" */
#define CSVFS_MAGIC_EXTENT	0x58455643u	/* "CVEX" extent overflow block */
#define CSVFS_MAGIC_DINDEX	0x49445643u	/* "CVDI" directory hash index */
#define CSVFS_MAGIC_DBUCKET	0x42445643u	/* "CVDB" directory bucket */
#define CSVFS_MAGIC_SUBCHUNK	0x42535643u	/* "CVSB" sub chunk header */
#define CSVFS_MAGIC_BLOB	0x4c425643u	/* "CVBL" blob (long symlink
						 * target, xattr records) */

/*
 * Common header of every metadata block (64 bytes).
 * The checksum is CRC-32 (zlib) over the whole 4 KiB block with the
 * checksum field taken as zero.
 */
struct csvfs_mhdr {
	uint32_t magic;		/* 0x00 block type magic */
	uint32_t checksum;	/* 0x04 crc32 of the block, this field zero */
	uint64_t mblk;		/* 0x08 this block's own mblk number */
	uint8_t  uuid[16];	/* 0x10 volume UUID */
	uint64_t tid;		/* 0x20 transaction that last wrote it */
	uint16_t version;	/* 0x28 format major version */
	uint16_t reserved0;	/* 0x2a */
	uint32_t reserved1;	/* 0x2c */
	uint8_t  reserved2[16];	/* 0x30 */
};				/* 0x40 */
#define CSVFS_MHDR_SIZE		64
_Static_assert(sizeof(struct csvfs_mhdr) == CSVFS_MHDR_SIZE, "mhdr size");

/* Volume states (superblock "state"). */
#define CSVFS_STATE_CLEAN	1	/* unmounted cleanly, journal empty */
#define CSVFS_STATE_MOUNTED	2	/* in use or crashed: replay first */

/* Superblock (mblk 0, backup copy at backup_mblk). Never journaled. */
struct csvfs_super {
	struct csvfs_mhdr hdr;	/* 0x000 */
	uint16_t vmajor;	/* 0x040 format major version */
	uint16_t vminor;	/* 0x042 format minor version */
	uint32_t block_shift;	/* 0x044 log2 of the large block size */
	uint64_t total_blocks;	/* 0x048 large blocks on the volume */
	uint64_t data_start;	/* 0x050 first large block of the data area */
	uint32_t max_nodes;	/* 0x058 heartbeat slots / client slots */
	uint32_t state;		/* 0x05c CSVFS_STATE_* */
	uint64_t hb_mblk;	/* 0x060 first heartbeat slot */
	uint64_t client_mblk;	/* 0x068 first client table slot */
	uint64_t backup_mblk;	/* 0x070 backup superblock */
	uint64_t journal_mblk;	/* 0x078 journal superblock */
	uint64_t journal_len;	/* 0x080 journal length in mblks */
	uint64_t bitmap_mblk;	/* 0x088 first allocation bitmap block */
	uint64_t bitmap_len;	/* 0x090 bitmap length in mblks */
	uint64_t root_ino;	/* 0x098 root directory inode */
	uint64_t first_chunk;	/* 0x0a0 first meta chunk (large block) */
	uint64_t coord_epoch;	/* 0x0a8 epoch of the current coordinator */
	uint32_t coord_node;	/* 0x0b0 node id of that coordinator */
	uint32_t flags;		/* 0x0b4 reserved, zero */
	uint64_t hash_seed;	/* 0x0b8 seed of the directory name hash */
	uint64_t mkfs_time;	/* 0x0c0 seconds since the epoch */
	uint64_t mount_time;	/* 0x0c8 last coordinator start */
	char     label[64];	/* 0x0d0 NUL-padded volume label */
	uint8_t  reserved[3824];/* 0x110 zero */
};				/* 0x1000 */
_Static_assert(sizeof(struct csvfs_super) == CSVFS_MBLK_SIZE, "super size");

/* Volume state block (mblk 1), journaled. */
struct csvfs_vstate {
	struct csvfs_mhdr hdr;	/* 0x000 */
	uint64_t orphan_head;	/* 0x040 first orphan inode, 0 if none */
	uint64_t next_generation;/* 0x048 next inode generation number */
	uint64_t reserved_blocks;/* 0x050 sum of per-file reservations */
	uint64_t sub_head;	/* 0x058 first sub chunk (large block), 0 */
	uint64_t release_blk;	/* 0x060 chunk being given back, 0 = none */
	uint8_t  reserved[3992];/* 0x068 */
};				/* 0x1000 */
_Static_assert(sizeof(struct csvfs_vstate) == CSVFS_MBLK_SIZE, "vstate size");

/* Node heartbeat slot: written only by its node, read by all. */
struct csvfs_hb {
	struct csvfs_mhdr hdr;	/* 0x000 */
	uint32_t node_id;	/* 0x040 corosync node id, 0 = slot unused */
	uint32_t state;		/* 0x044 CSVFS_HB_* */
	uint64_t incarnation;	/* 0x048 changes on every mount */
	uint64_t counter;	/* 0x050 advances on every heartbeat */
	uint64_t timestamp_ns;	/* 0x058 writer's CLOCK_REALTIME, for humans */
	char     hostname[64];	/* 0x060 */
	uint8_t  reserved[3936];/* 0x0a0 */
};				/* 0x1000 */
_Static_assert(sizeof(struct csvfs_hb) == CSVFS_MBLK_SIZE, "hb size");
#define CSVFS_HB_FREE		0
#define CSVFS_HB_STANDALONE	1	/* a standalone mount is live */
#define CSVFS_HB_CLUSTER	2	/* a cluster member is live */
#define CSVFS_HB_LEFT		3	/* unmounted cleanly */
#define CSVFS_HB_INTERVAL_MS	1000	/* a live node stamps this often */
#define CSVFS_HB_DEAD_MS	5000	/* not advanced this long: dead */

/*
 * Client table slot: the latest completed requests of one node (journaled
 * with each request's own changes), so that a request retried after a lost
 * connection or a coordinator change is answered as the first time instead
 * of running twice (include/csvfs/proto.h, CSVFS_MSG_RECORDED). A ring:
 * rec[next] is overwritten next. Records of another incarnation (an
 * earlier mount of that node) are stale.
 */
#define CSVFS_CLIENT_RECS	16
#define CSVFS_CLIENT_REPLY_MAX	232
#define CSVFS_CREC_LONG		0x1	/* the reply did not fit: not kept, the
					 * request (idempotent) runs again */
struct csvfs_client_rec {
	uint64_t seq;		/* 0x00 request sequence, 0 = unused */
	uint16_t reply_len;	/* 0x08 bytes of reply[] in use */
	uint16_t flags;		/* 0x0a CSVFS_CREC_* */
	uint32_t type;		/* 0x0c request type */
	uint8_t  reply[CSVFS_CLIENT_REPLY_MAX];	/* 0x10 encoded reply */
};				/* 0xf8 */
_Static_assert(sizeof(struct csvfs_client_rec) == 248, "client rec size");

struct csvfs_client {
	struct csvfs_mhdr hdr;	/* 0x000 */
	uint32_t node_id;	/* 0x040 0 = never used */
	uint32_t next;		/* 0x044 ring position written next */
	uint64_t incarnation;	/* 0x048 the node's mount the records are of */
	uint8_t  reserved[48];	/* 0x050 */
	struct csvfs_client_rec rec[CSVFS_CLIENT_RECS];	/* 0x080 */
};				/* 0x1000 */
_Static_assert(sizeof(struct csvfs_client) == CSVFS_MBLK_SIZE, "client size");

/* Journal superblock (first journal mblk). */
struct csvfs_jsb {
	struct csvfs_mhdr hdr;	/* 0x000 */
	uint64_t start;		/* 0x040 mblk offset (from journal_mblk) of
				 *       the oldest transaction to replay */
	uint64_t start_tid;	/* 0x048 its transaction id */
	uint8_t  reserved[4016];/* 0x050 */
};				/* 0x1000 */
_Static_assert(sizeof(struct csvfs_jsb) == CSVFS_MBLK_SIZE, "jsb size");

/*
 * A transaction in the journal: one descriptor, then nblocks block images
 * in the order of targets[], then one commit block. A transaction never
 * wraps: if it does not fit before the journal's end it starts right after
 * the journal superblock.
 */
#define CSVFS_JDESC_MAX		((CSVFS_MBLK_SIZE - 0x50) / 8)
struct csvfs_jdesc {
	struct csvfs_mhdr hdr;	/* 0x000 hdr.tid is the transaction id */
	uint32_t nblocks;	/* 0x040 block images that follow */
	uint32_t reserved0;	/* 0x044 */
	uint64_t reserved1;	/* 0x048 */
	uint64_t targets[CSVFS_JDESC_MAX]; /* 0x050 mblk of each image */
};				/* 0x1000 */
_Static_assert(sizeof(struct csvfs_jdesc) == CSVFS_MBLK_SIZE, "jdesc size");

struct csvfs_jcommit {
	struct csvfs_mhdr hdr;	/* 0x000 hdr.tid is the transaction id */
	uint32_t nblocks;	/* 0x040 must match the descriptor */
	uint32_t data_crc;	/* 0x044 crc32 over descriptor + images */
	uint64_t commit_ns;	/* 0x048 CLOCK_REALTIME at commit */
	uint8_t  reserved[4016];/* 0x050 */
};				/* 0x1000 */
_Static_assert(sizeof(struct csvfs_jcommit) == CSVFS_MBLK_SIZE, "jcommit size");

/*
 * Allocation bitmap block: one bit per large block, bit set = in use.
 * Block b is bit i = b % CSVFS_BITMAP_BITS of bitmap block
 * b / CSVFS_BITMAP_BITS; bit i is byte i / 8, mask 1 << (i % 8) (the same
 * bit order holds for the chunk used[] map).
 */
#define CSVFS_BITMAP_BYTES	(CSVFS_MBLK_SIZE - CSVFS_MHDR_SIZE)
#define CSVFS_BITMAP_BITS	(CSVFS_BITMAP_BYTES * 8)
struct csvfs_bitmap {
	struct csvfs_mhdr hdr;			/* 0x000 */
	uint8_t bits[CSVFS_BITMAP_BYTES];	/* 0x040 */
};						/* 0x1000 */
_Static_assert(sizeof(struct csvfs_bitmap) == CSVFS_MBLK_SIZE, "bitmap size");

/*
 * Meta chunk: a large block given over to metadata blocks. Its first mblk is
 * this header; bit i of used[] says whether mblk i of the chunk is in use
 * (bit 0, the header itself, is always set). Chunks form a list from the
 * superblock's first_chunk.
 */
#define CSVFS_CHUNK_MAX_MBLKS	2048	/* 8 MiB / 4 KiB */
struct csvfs_chunk {
	struct csvfs_mhdr hdr;	/* 0x000 */
	uint64_t blk;		/* 0x040 this chunk's large block */
	uint64_t next;		/* 0x048 next chunk's large block, 0 = end */
	uint32_t nmblks;	/* 0x050 mblks in this chunk */
	uint32_t nused;		/* 0x054 bits set in used[] */
	uint64_t reserved0;	/* 0x058 */
	uint8_t  used[CSVFS_CHUNK_MAX_MBLKS / 8]; /* 0x060 */
	uint8_t  dirty[CSVFS_CHUNK_MAX_MBLKS / 8]; /* 0x160 sub chunks: free
				 *       unit that may hold old bytes (zeroed
				 *       before it is handed out); meta: 0 */
	uint8_t  reserved[3488];/* 0x260 */
};				/* 0x1000 */
_Static_assert(sizeof(struct csvfs_chunk) == CSVFS_MBLK_SIZE, "chunk size");

/*
 * Sub-blocks: the unit is one mblk (4 KiB, the data path's alignment, so
 * direct I/O needs no new rules and a file wastes less than 4 KiB). A file
 * stays in sub-blocks while its data fits in CSVFS_SUB_MAX bytes: half a
 * large block, below 1 MiB (so a first write of 1 MiB, as a VM image
 * gets, takes a large block at once; see meta/subblk.h for the figures).
 */
#define CSVFS_SUB_UNIT		CSVFS_MBLK_SIZE
#define CSVFS_SUB_MAX(shift)	((shift) >= 21 ? (1u << 20) - CSVFS_SUB_UNIT : \
				 (1u << ((shift) - 1)))

/*
 * Tails (format 2.0). A file in sub-blocks whose last 4 KiB unit would be
 * partly empty keeps those last bytes in its inode instead, so that a
 * small file costs its inode and its whole 4 KiB units only (on a tree
 * of headers the space used falls from about 1.44x to about 1.30x of the
 * apparent size, 1.27x with the larger inline files below). A
 * CSVFS_IFL_TAIL inode:
 *   - has its one CSVFS_EXT_SUB extent at body[0] (nextents 1, len >= 1
 *     units) mapping bytes [0, len * 4 KiB);
 *   - holds bytes [len * 4 KiB, size) -- the tail, 1 to CSVFS_TAIL_MAX
 *     bytes -- in the tail area: xattr[] first (CSVFS_TAIL_XATTR_PART
 *     bytes), then body[] after the extent record; the rest of the area
 *     is zero;
 *   - has no xattr records (xattr_len 0, no XBLOB): setting one moves the
 *     tail back into a unit first, as does any write, a size change up,
 *     a hole punched in it, promotion to a large block or multi-writer.
 * The coordinator packs the tail at a file's last close (nobody has it
 * open, so no node holds its map) in one transaction that frees the last
 * unit (dirty, like every unit taken from a file). Nodes read the tail
 * with INLINE_READ at file offsets (EAGAIN: no tail).
 */
#define CSVFS_TAIL_XATTR_PART	CSVFS_INODE_XATTR_SIZE		/* 1024 */
#define CSVFS_TAIL_BODY_OFF	24	/* after the extent record */
#define CSVFS_TAIL_MAX		(CSVFS_TAIL_XATTR_PART + \
				 CSVFS_INODE_BODY_SIZE - CSVFS_TAIL_BODY_OFF)

/* Extent: a run of large blocks of a file. */
#define CSVFS_EXT_UNWRITTEN	0x1	/* allocated, never written: zeroes */
#define CSVFS_EXT_AHEAD		0x2	/* allocated ahead of a sequential
					 * writer (with UNWRITTEN); given back
					 * at last close when beyond EOF */
#define CSVFS_EXT_SUB		0x4	/* sub-block run: pblk is an mblk
					 * number, len counts 4 KiB units,
					 * lblk is 0; the file's only extent */
struct csvfs_extent {
	uint64_t lblk;		/* 0x00 first logical large block */
	uint64_t pblk;		/* 0x08 first physical large block */
	uint32_t len;		/* 0x10 number of large blocks */
	uint32_t flags;		/* 0x14 CSVFS_EXT_* */
};				/* 0x18 */
_Static_assert(sizeof(struct csvfs_extent) == 24, "extent size");

/* Inode flags. */
#define CSVFS_IFL_INLINE	0x1	/* regular file data is in body[]
					 * (2.0: and xattr[], see below) */
#define CSVFS_IFL_EXTBLOCKS	0x2	/* body[] holds extent block index */
#define CSVFS_IFL_MULTIWRITER	0x4	/* admin allows writers on many hosts */
#define CSVFS_IFL_PINNED	0x8	/* ownership kept after last close */
#define CSVFS_IFL_ORPHAN	0x10	/* on the orphan list */
#define CSVFS_IFL_LONGLINK	0x20	/* symlink (1.2): the target is in a
					 * blob chain; body[] holds le64 the
					 * chain's first mblk */
#define CSVFS_IFL_XBLOB		0x40	/* (1.2) the xattr records, xattr_len
					 * bytes, are in a blob chain; xattr[]
					 * holds le64 its first mblk */
#define CSVFS_IFL_TMPFILE	0x80	/* (1.2) made by O_TMPFILE and never
					 * linked: LINK may give it a name */
/* Ownership flags (format 1.1, lockd/lockd.h): */
#define CSVFS_IFL_STRICT	0x100	/* admin: while a node writes, no
					 * other node may even read */
#define CSVFS_IFL_HANDOFF	0x200	/* the writer got the file by a
					 * handoff and has not opened it for
					 * writing yet (its reservation) */
#define CSVFS_IFL_TAIL		0x400	/* (2.0) regular file in sub-blocks
					 * whose last partial 4 KiB is in the
					 * inode (see "Tails" below) */

/*
 * File ownership modes (inode own_mode; the rules are lockd/lockd.h's).
 * own_node is the writer in CSVFS_OWN_WRITER mode; own_holders the other
 * nodes that hold the file (readers, or multi-writer holders), own_count
 * their number. Format 1.0 named mode 1 "exclusive" (no reader beside the
 * writer) and mode 2 "shared-read"; 1.1 lets readers join a writer.
 */
#define CSVFS_OWN_NONE		0
#define CSVFS_OWN_WRITER	1	/* one writer node (+ readers) */
#define CSVFS_OWN_READERS	2	/* readers only */
#define CSVFS_OWN_MULTI		3	/* multi-writer holders */

#define CSVFS_INODE_XATTR_OFF	0x100
#define CSVFS_INODE_XATTR_SIZE	1024
#define CSVFS_INODE_BODY_OFF	0x500
#define CSVFS_INODE_BODY_SIZE	(CSVFS_MBLK_SIZE - CSVFS_INODE_BODY_OFF)
#define CSVFS_INLINE_MAX	CSVFS_INODE_BODY_SIZE	/* 2816 */
/* (2.0) an inline file without xattr records also fills xattr[] */
#define CSVFS_INLINE_XMAX	(CSVFS_INODE_BODY_SIZE + \
				 CSVFS_INODE_XATTR_SIZE)	/* 3840 */
#define CSVFS_SYMLINK_INLINE_MAX (CSVFS_INODE_BODY_SIZE - 1)	/* 2815 */
#define CSVFS_SYMLINK_MAX	4095	/* PATH_MAX - 1; longer than the
					 * inline limit: CSVFS_IFL_LONGLINK */
#define CSVFS_XATTR_VALUE_MAX	65536	/* Linux's XATTR_SIZE_MAX */
#define CSVFS_XATTR_TOTAL_MAX	(256u * 1024)	/* all records of an inode */
#define CSVFS_INLINE_EXTENTS	(CSVFS_INODE_BODY_SIZE / 24)	/* 117 */
#define CSVFS_EXTBLK_INDEX_MAX	(CSVFS_INODE_BODY_SIZE / 16)	/* 176 */

/*
 * Inode block. Body by file type:
 *   regular, INLINE:      size bytes of data; (2.0) with no xattr
 *                         records (xattr_len 0, no XBLOB) up to
 *                         CSVFS_INLINE_XMAX: bytes 2816.. in xattr[];
 *                         bytes past size are zero in both
 *   regular, !EXTBLOCKS:  nextents csvfs_extent records, sorted by lblk
 *   regular, EXTBLOCKS:   nextents pairs {le64 first lblk, le64 mblk} of
 *                         extent blocks, sorted
 *   directory:            le32 global depth, le32 nindex, then nindex le64
 *                         mblks of directory index blocks
 *   symlink:              the target, size bytes, no NUL
 *   symlink, LONGLINK:    le64 first mblk of the blob chain holding the
 *                         target (size bytes, no NUL)
 * xattr area: records {u8 name_len, u8 value_len bits 16..23 (1.2; 0
 * before), le16 value_len bits 0..15, name, value}, packed, xattr_len
 * bytes in use. Names carry their namespace prefix ("user.",
 * "trusted."). With XBLOB the same records are in a blob chain (up to
 * CSVFS_XATTR_TOTAL_MAX bytes) and the area holds le64 its first mblk;
 * records that fit in the area are always kept there.
 */
struct csvfs_inode {
	struct csvfs_mhdr hdr;	/* 0x000 */
	uint32_t mode;		/* 0x040 type and permission bits */
	uint32_t uid;		/* 0x044 */
	uint32_t gid;		/* 0x048 */
	uint32_t nlink;		/* 0x04c */
	uint64_t size;		/* 0x050 bytes */
	uint64_t nblocks;	/* 0x058 large blocks allocated */
	uint64_t atime_sec;	/* 0x060 */
	uint64_t mtime_sec;	/* 0x068 */
	uint64_t ctime_sec;	/* 0x070 */
	uint64_t btime_sec;	/* 0x078 creation time */
	uint32_t atime_nsec;	/* 0x080 */
	uint32_t mtime_nsec;	/* 0x084 */
	uint32_t ctime_nsec;	/* 0x088 */
	uint32_t btime_nsec;	/* 0x08c */
	uint64_t generation;	/* 0x090 changes when the mblk is reused */
	uint64_t rdev;		/* 0x098 device number for char/block nodes */
	uint64_t parent;	/* 0x0a0 directories: parent inode */
	uint32_t flags;		/* 0x0a8 CSVFS_IFL_* */
	uint32_t nextents;	/* 0x0ac records in body[] (see above) */
	uint32_t xattr_len;	/* 0x0b0 bytes used in xattr[] */
	uint32_t own_node;	/* 0x0b4 writer node id, 0 = none */
	uint32_t own_mode;	/* 0x0b8 CSVFS_OWN_* */
	uint32_t own_count;	/* 0x0bc nodes in own_holders */
	uint64_t own_epoch;	/* 0x0c0 ownership epoch, bumps on change */
	uint64_t own_since_ns;	/* 0x0c8 when the owner got it */
	uint64_t next_orphan;	/* 0x0d0 orphan list link */
	uint64_t reserve_blocks;/* 0x0d8 guaranteed large blocks */
	uint64_t own_holders;	/* 0x0e0 readers/multi holders: node bitmap
				 *       word index 0 (nodes 1..64) */
	uint8_t  reserved[24];	/* 0x0e8 */
	uint8_t  xattr[CSVFS_INODE_XATTR_SIZE];	/* 0x100 */
	uint8_t  body[CSVFS_INODE_BODY_SIZE];	/* 0x500 */
};				/* 0x1000 */
_Static_assert(sizeof(struct csvfs_inode) == CSVFS_MBLK_SIZE, "inode size");
_Static_assert(CSVFS_TAIL_MAX == 3816, "tail area: xattr[] + body[24..]");
_Static_assert(CSVFS_INLINE_XMAX == 3840 &&
	       CSVFS_INLINE_XMAX < CSVFS_SUB_UNIT, "inline: body[] + xattr[]");
_Static_assert(CSVFS_TAIL_MAX < CSVFS_SUB_UNIT, "a tail is a partial unit");
_Static_assert(CSVFS_TAIL_BODY_OFF == sizeof(struct csvfs_extent),
	       "the tail follows the one extent record");
_Static_assert(CSVFS_INODE_XATTR_OFF + CSVFS_INODE_XATTR_SIZE ==
	       CSVFS_INODE_BODY_OFF, "xattr[] and body[] are adjacent");

/* Extent overflow block: sorted extents of one file. */
#define CSVFS_EXTBLK_MAX	((CSVFS_MBLK_SIZE - 0x50) / 24)	/* 167 */
struct csvfs_extblk {
	struct csvfs_mhdr hdr;	/* 0x000 */
	uint64_t ino;		/* 0x040 owning inode */
	uint32_t count;		/* 0x048 extents in use */
	uint32_t reserved0;	/* 0x04c */
	struct csvfs_extent ext[CSVFS_EXTBLK_MAX]; /* 0x050 */
	uint8_t  reserved[8];	/* 0xff8 */
};				/* 0x1000 */
_Static_assert(sizeof(struct csvfs_extblk) == CSVFS_MBLK_SIZE, "extblk size");

/*
 * Blob block (1.2): a chain of these holds bytes an inode cannot keep in
 * itself, a long symlink target or the xattr records (kind says which).
 * The chain is written whole when its bytes change (a new chain, the old
 * one freed, in one transaction), block k holding bytes
 * [k * CSVFS_BLOB_DATA, ...) of the value.
 */
#define CSVFS_BLOB_SYMLINK	1
#define CSVFS_BLOB_XATTR	2
#define CSVFS_BLOB_DATA		(CSVFS_MBLK_SIZE - 0x60)	/* 4000 */
#define CSVFS_BLOB_MAX_CHAIN	((CSVFS_XATTR_TOTAL_MAX + CSVFS_BLOB_DATA - \
				  1) / CSVFS_BLOB_DATA)		/* 66 */
struct csvfs_blob {
	struct csvfs_mhdr hdr;	/* 0x000 */
	uint64_t ino;		/* 0x040 owning inode */
	uint64_t next;		/* 0x048 next block of the chain, 0 = last */
	uint32_t kind;		/* 0x050 CSVFS_BLOB_* */
	uint32_t len;		/* 0x054 bytes of data[] in use */
	uint32_t seq;		/* 0x058 position in the chain, from 0 */
	uint32_t reserved0;	/* 0x05c zero */
	uint8_t  data[CSVFS_BLOB_DATA];	/* 0x060 */
};				/* 0x1000 */
_Static_assert(sizeof(struct csvfs_blob) == CSVFS_MBLK_SIZE, "blob size");
_Static_assert(CSVFS_SYMLINK_MAX <= 2 * CSVFS_BLOB_DATA, "symlink chain");

/*
 * Directories are extendible hash tables. The 62-bit name hash's top
 * "depth" bits index the table; the table is the concatenation of the
 * directory's index blocks; each slot holds a bucket mblk. A bucket with
 * local depth d covers 2^(depth-d) consecutive slots.
 */
#define CSVFS_DINDEX_SLOTS	((CSVFS_MBLK_SIZE - 0x50) / 8)	/* 502 */
#define CSVFS_DIR_MAX_INDEX	((CSVFS_INODE_BODY_SIZE - 8) / 8)	/* 351 */
struct csvfs_dindex {
	struct csvfs_mhdr hdr;	/* 0x000 */
	uint64_t ino;		/* 0x040 owning directory */
	uint32_t first_slot;	/* 0x048 table slot of slots[0] */
	uint32_t nslots;	/* 0x04c slots in use here */
	uint64_t slots[CSVFS_DINDEX_SLOTS]; /* 0x050 bucket mblks */
};				/* 0x1000 */
_Static_assert(sizeof(struct csvfs_dindex) == CSVFS_MBLK_SIZE, "dindex size");

/*
 * Directory bucket. Entries are packed from 0x50 in hash order:
 * {le64 hash, le64 ino, le16 rec_len, u8 name_len, u8 type, name},
 * rec_len = 20 + name_len rounded up to 8.
 */
#define CSVFS_DBUCKET_SPACE	(CSVFS_MBLK_SIZE - 0x50)
#define CSVFS_DIRENT_HDR	20
struct csvfs_dbucket {
	struct csvfs_mhdr hdr;	/* 0x000 */
	uint64_t ino;		/* 0x040 owning directory */
	uint32_t local_depth;	/* 0x048 */
	uint16_t nentries;	/* 0x04c */
	uint16_t used;		/* 0x04e bytes of entries[] in use */
	uint8_t  entries[CSVFS_DBUCKET_SPACE]; /* 0x050 */
};				/* 0x1000 */
_Static_assert(sizeof(struct csvfs_dbucket) == CSVFS_MBLK_SIZE, "dbucket size");

/* Directory entry types (as DT_* in <dirent.h>). */
#define CSVFS_DT_UNKNOWN	0
#define CSVFS_DT_FIFO		1
#define CSVFS_DT_CHR		2
#define CSVFS_DT_DIR		4
#define CSVFS_DT_BLK		6
#define CSVFS_DT_REG		8
#define CSVFS_DT_LNK		10
#define CSVFS_DT_SOCK		12

#endif /* CSVFS_ONDISK_H */
