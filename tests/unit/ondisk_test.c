/*
 * ondisk_test: the on-disk and wire layouts against their spec, and the
 * meta/ondisk.c codecs and block checks, and include/csvfs/errors.h.
 *
 *   offsets   every field of include/csvfs/ondisk.h and of the proto.h
 *             structs at the offset its hex comment gives, no padding
 *   codec     encode/decode round trip of every record with every byte of
 *             every field set; encoders write all bytes, zeroes in reserved
 *             areas, little-endian whatever the host
 *   check     od_seal/od_check: every single-byte corruption is caught, and
 *             each failure gets its own error code, in the documented order
 *   errors    csvfs_strerror never NULL, csvfs_errno as documented
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include <CUnit/Basic.h>

#include "csvfs/errors.h"
#include "csvfs/ondisk.h"
#include "csvfs/proto.h"
#include "meta/ondisk.h"
#include "meta/subblk.h"

/* ---- helpers ------------------------------------------------------------ */

/* Deterministic non-trivial bytes: every field gets distinct byte values. */
static void fill_pattern(void *p, size_t n, uint32_t seed)
{
	uint8_t *b = p;
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (uint8_t)(x >> 24);
	}
}

/* First differing byte of two areas, or -1. */
static long first_diff(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return (long)i;
	return -1;
}

/* True when raw[off..off+width) holds v in little-endian byte order. */
static int is_le(const uint8_t *raw, size_t off, uint64_t v, int width)
{
	for (int i = 0; i < width; i++)
		if (raw[off + i] != (uint8_t)(v >> (8 * i)))
			return 0;
	return 1;
}

static const uint8_t test_uuid[CSVFS_UUID_SIZE] = {
	0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
	0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f,
};

/* ---- (a) offsets -------------------------------------------------------- */

struct off_case {
	const char *type;
	const char *field;	/* NULL: the struct's total size */
	size_t got;		/* offsetof, or sizeof for the end */
	size_t size;		/* sizeof the field */
	size_t want;		/* the header's hex comment */
};

#define OFF(t, f, o) \
	{ #t, #f, offsetof(struct t, f), sizeof(((struct t *)0)->f), o }
#define END(t, o) { #t, NULL, sizeof(struct t), 0, o }

/* Transcribed from the hex comments of include/csvfs/ondisk.h. */
static const struct off_case ondisk_offsets[] = {
	OFF(csvfs_mhdr, magic, 0x00),
	OFF(csvfs_mhdr, checksum, 0x04),
	OFF(csvfs_mhdr, mblk, 0x08),
	OFF(csvfs_mhdr, uuid, 0x10),
	OFF(csvfs_mhdr, tid, 0x20),
	OFF(csvfs_mhdr, version, 0x28),
	OFF(csvfs_mhdr, reserved0, 0x2a),
	OFF(csvfs_mhdr, reserved1, 0x2c),
	OFF(csvfs_mhdr, reserved2, 0x30),
	END(csvfs_mhdr, 0x40),

	OFF(csvfs_super, hdr, 0x000),
	OFF(csvfs_super, vmajor, 0x040),
	OFF(csvfs_super, vminor, 0x042),
	OFF(csvfs_super, block_shift, 0x044),
	OFF(csvfs_super, total_blocks, 0x048),
	OFF(csvfs_super, data_start, 0x050),
	OFF(csvfs_super, max_nodes, 0x058),
	OFF(csvfs_super, state, 0x05c),
	OFF(csvfs_super, hb_mblk, 0x060),
	OFF(csvfs_super, client_mblk, 0x068),
	OFF(csvfs_super, backup_mblk, 0x070),
	OFF(csvfs_super, journal_mblk, 0x078),
	OFF(csvfs_super, journal_len, 0x080),
	OFF(csvfs_super, bitmap_mblk, 0x088),
	OFF(csvfs_super, bitmap_len, 0x090),
	OFF(csvfs_super, root_ino, 0x098),
	OFF(csvfs_super, first_chunk, 0x0a0),
	OFF(csvfs_super, coord_epoch, 0x0a8),
	OFF(csvfs_super, coord_node, 0x0b0),
	OFF(csvfs_super, flags, 0x0b4),
	OFF(csvfs_super, hash_seed, 0x0b8),
	OFF(csvfs_super, mkfs_time, 0x0c0),
	OFF(csvfs_super, mount_time, 0x0c8),
	OFF(csvfs_super, label, 0x0d0),
	OFF(csvfs_super, reserved, 0x110),
	END(csvfs_super, 0x1000),

	OFF(csvfs_vstate, hdr, 0x000),
	OFF(csvfs_vstate, orphan_head, 0x040),
	OFF(csvfs_vstate, next_generation, 0x048),
	OFF(csvfs_vstate, reserved_blocks, 0x050),
	OFF(csvfs_vstate, sub_head, 0x058),
	OFF(csvfs_vstate, release_blk, 0x060),
	OFF(csvfs_vstate, reserved, 0x068),
	END(csvfs_vstate, 0x1000),

	OFF(csvfs_hb, hdr, 0x000),
	OFF(csvfs_hb, node_id, 0x040),
	OFF(csvfs_hb, state, 0x044),
	OFF(csvfs_hb, incarnation, 0x048),
	OFF(csvfs_hb, counter, 0x050),
	OFF(csvfs_hb, timestamp_ns, 0x058),
	OFF(csvfs_hb, hostname, 0x060),
	OFF(csvfs_hb, reserved, 0x0a0),
	END(csvfs_hb, 0x1000),

	OFF(csvfs_client, hdr, 0x000),
	OFF(csvfs_client, node_id, 0x040),
	OFF(csvfs_client, next, 0x044),
	OFF(csvfs_client, incarnation, 0x048),
	OFF(csvfs_client, reserved, 0x050),
	OFF(csvfs_client, rec, 0x080),
	END(csvfs_client, 0x1000),
	OFF(csvfs_client_rec, seq, 0x00),
	OFF(csvfs_client_rec, reply_len, 0x08),
	OFF(csvfs_client_rec, flags, 0x0a),
	OFF(csvfs_client_rec, type, 0x0c),
	OFF(csvfs_client_rec, reply, 0x10),
	END(csvfs_client_rec, 0xf8),

	OFF(csvfs_jsb, hdr, 0x000),
	OFF(csvfs_jsb, start, 0x040),
	OFF(csvfs_jsb, start_tid, 0x048),
	OFF(csvfs_jsb, reserved, 0x050),
	END(csvfs_jsb, 0x1000),

	OFF(csvfs_jdesc, hdr, 0x000),
	OFF(csvfs_jdesc, nblocks, 0x040),
	OFF(csvfs_jdesc, reserved0, 0x044),
	OFF(csvfs_jdesc, reserved1, 0x048),
	OFF(csvfs_jdesc, targets, 0x050),
	END(csvfs_jdesc, 0x1000),

	OFF(csvfs_jcommit, hdr, 0x000),
	OFF(csvfs_jcommit, nblocks, 0x040),
	OFF(csvfs_jcommit, data_crc, 0x044),
	OFF(csvfs_jcommit, commit_ns, 0x048),
	OFF(csvfs_jcommit, reserved, 0x050),
	END(csvfs_jcommit, 0x1000),

	OFF(csvfs_bitmap, hdr, 0x000),
	OFF(csvfs_bitmap, bits, 0x040),
	END(csvfs_bitmap, 0x1000),

	OFF(csvfs_chunk, hdr, 0x000),
	OFF(csvfs_chunk, blk, 0x040),
	OFF(csvfs_chunk, next, 0x048),
	OFF(csvfs_chunk, nmblks, 0x050),
	OFF(csvfs_chunk, nused, 0x054),
	OFF(csvfs_chunk, reserved0, 0x058),
	OFF(csvfs_chunk, used, 0x060),
	OFF(csvfs_chunk, dirty, 0x160),
	OFF(csvfs_chunk, reserved, 0x260),
	END(csvfs_chunk, 0x1000),

	OFF(csvfs_extent, lblk, 0x00),
	OFF(csvfs_extent, pblk, 0x08),
	OFF(csvfs_extent, len, 0x10),
	OFF(csvfs_extent, flags, 0x14),
	END(csvfs_extent, 0x18),

	OFF(csvfs_inode, hdr, 0x000),
	OFF(csvfs_inode, mode, 0x040),
	OFF(csvfs_inode, uid, 0x044),
	OFF(csvfs_inode, gid, 0x048),
	OFF(csvfs_inode, nlink, 0x04c),
	OFF(csvfs_inode, size, 0x050),
	OFF(csvfs_inode, nblocks, 0x058),
	OFF(csvfs_inode, atime_sec, 0x060),
	OFF(csvfs_inode, mtime_sec, 0x068),
	OFF(csvfs_inode, ctime_sec, 0x070),
	OFF(csvfs_inode, btime_sec, 0x078),
	OFF(csvfs_inode, atime_nsec, 0x080),
	OFF(csvfs_inode, mtime_nsec, 0x084),
	OFF(csvfs_inode, ctime_nsec, 0x088),
	OFF(csvfs_inode, btime_nsec, 0x08c),
	OFF(csvfs_inode, generation, 0x090),
	OFF(csvfs_inode, rdev, 0x098),
	OFF(csvfs_inode, parent, 0x0a0),
	OFF(csvfs_inode, flags, 0x0a8),
	OFF(csvfs_inode, nextents, 0x0ac),
	OFF(csvfs_inode, xattr_len, 0x0b0),
	OFF(csvfs_inode, own_node, 0x0b4),
	OFF(csvfs_inode, own_mode, 0x0b8),
	OFF(csvfs_inode, own_count, 0x0bc),
	OFF(csvfs_inode, own_epoch, 0x0c0),
	OFF(csvfs_inode, own_since_ns, 0x0c8),
	OFF(csvfs_inode, next_orphan, 0x0d0),
	OFF(csvfs_inode, reserve_blocks, 0x0d8),
	OFF(csvfs_inode, own_holders, 0x0e0),
	OFF(csvfs_inode, reserved, 0x0e8),
	OFF(csvfs_inode, xattr, 0x100),
	OFF(csvfs_inode, body, 0x500),
	END(csvfs_inode, 0x1000),

	OFF(csvfs_extblk, hdr, 0x000),
	OFF(csvfs_extblk, ino, 0x040),
	OFF(csvfs_extblk, count, 0x048),
	OFF(csvfs_extblk, reserved0, 0x04c),
	OFF(csvfs_extblk, ext, 0x050),
	OFF(csvfs_extblk, reserved, 0xff8),
	END(csvfs_extblk, 0x1000),
	OFF(csvfs_blob, hdr, 0x000),
	OFF(csvfs_blob, ino, 0x040),
	OFF(csvfs_blob, next, 0x048),
	OFF(csvfs_blob, kind, 0x050),
	OFF(csvfs_blob, len, 0x054),
	OFF(csvfs_blob, seq, 0x058),
	OFF(csvfs_blob, reserved0, 0x05c),
	OFF(csvfs_blob, data, 0x060),
	END(csvfs_blob, 0x1000),

	OFF(csvfs_dindex, hdr, 0x000),
	OFF(csvfs_dindex, ino, 0x040),
	OFF(csvfs_dindex, first_slot, 0x048),
	OFF(csvfs_dindex, nslots, 0x04c),
	OFF(csvfs_dindex, slots, 0x050),
	END(csvfs_dindex, 0x1000),

	OFF(csvfs_dbucket, hdr, 0x000),
	OFF(csvfs_dbucket, ino, 0x040),
	OFF(csvfs_dbucket, local_depth, 0x048),
	OFF(csvfs_dbucket, nentries, 0x04c),
	OFF(csvfs_dbucket, used, 0x04e),
	OFF(csvfs_dbucket, entries, 0x050),
	END(csvfs_dbucket, 0x1000),
};

/* Transcribed from the hex comments of include/csvfs/proto.h. */
static const struct off_case proto_offsets[] = {
	OFF(csvfs_msg_hdr, magic, 0x00),
	OFF(csvfs_msg_hdr, version, 0x04),
	OFF(csvfs_msg_hdr, type, 0x06),
	OFF(csvfs_msg_hdr, length, 0x08),
	OFF(csvfs_msg_hdr, flags, 0x0c),
	OFF(csvfs_msg_hdr, req_id, 0x10),
	OFF(csvfs_msg_hdr, epoch, 0x18),
	OFF(csvfs_msg_hdr, node_id, 0x20),
	OFF(csvfs_msg_hdr, status, 0x24),
	OFF(csvfs_msg_hdr, incarnation, 0x28),
	OFF(csvfs_msg_hdr, seq, 0x30),
	OFF(csvfs_msg_hdr, reserved, 0x38),
	END(csvfs_msg_hdr, 0x40),

	OFF(csvfs_attr, ino, 0x00),
	OFF(csvfs_attr, generation, 0x08),
	OFF(csvfs_attr, mode, 0x10),
	OFF(csvfs_attr, nlink, 0x14),
	OFF(csvfs_attr, uid, 0x18),
	OFF(csvfs_attr, gid, 0x1c),
	OFF(csvfs_attr, size, 0x20),
	OFF(csvfs_attr, alloc_bytes, 0x28),
	OFF(csvfs_attr, rdev, 0x30),
	OFF(csvfs_attr, atime_sec, 0x38),
	OFF(csvfs_attr, mtime_sec, 0x40),
	OFF(csvfs_attr, ctime_sec, 0x48),
	OFF(csvfs_attr, atime_nsec, 0x50),
	OFF(csvfs_attr, mtime_nsec, 0x54),
	OFF(csvfs_attr, ctime_nsec, 0x58),
	OFF(csvfs_attr, flags, 0x5c),
	OFF(csvfs_attr, own_node, 0x60),
	OFF(csvfs_attr, own_mode, 0x64),
	OFF(csvfs_attr, own_epoch, 0x68),
	OFF(csvfs_attr, own_since_ns, 0x70),
	OFF(csvfs_attr, blksize, 0x78),
	OFF(csvfs_attr, own_count, 0x7c),
	OFF(csvfs_attr, reserve_bytes, 0x80),
	END(csvfs_attr, 0x88),

	OFF(csvfs_wext, lblk, 0x00),
	OFF(csvfs_wext, pblk, 0x08),
	OFF(csvfs_wext, len, 0x10),
	OFF(csvfs_wext, flags, 0x14),
	END(csvfs_wext, 0x18),

	OFF(csvfs_wlock, node, 0x00),
	OFF(csvfs_wlock, pid, 0x04),
	OFF(csvfs_wlock, owner, 0x08),
	OFF(csvfs_wlock, type, 0x10),
	OFF(csvfs_wlock, cls, 0x14),
	OFF(csvfs_wlock, start, 0x18),
	OFF(csvfs_wlock, end, 0x20),
	END(csvfs_wlock, 0x28),
};

/*
 * Each field at its documented offset, each starting where the previous one
 * ends (so there is no padding, and memcmp of two structs compares exactly
 * their fields), and the struct ending at its documented size.
 */
static void check_offsets(const struct off_case *c, size_t n)
{
	size_t next = 0;

	for (size_t i = 0; i < n; i++) {
		const char *what = c[i].field ? c[i].field : "(size)";

		if (i == 0 || strcmp(c[i].type, c[i - 1].type) != 0)
			next = 0;
		if (c[i].got != c[i].want)
			printf("\n  struct %s %s: at 0x%zx, spec says 0x%zx",
			       c[i].type, what, c[i].got, c[i].want);
		CU_ASSERT_EQUAL(c[i].got, c[i].want);
		if (c[i].got != next)
			printf("\n  struct %s %s: gap or overlap before it",
			       c[i].type, what);
		CU_ASSERT_EQUAL(c[i].got, next);
		next = c[i].got + c[i].size;
	}
}

static void test_ondisk_fields_at_spec_offsets(void)
{
	check_offsets(ondisk_offsets,
		      sizeof(ondisk_offsets) / sizeof(ondisk_offsets[0]));
}

static void test_proto_fields_at_spec_offsets(void)
{
	check_offsets(proto_offsets,
		      sizeof(proto_offsets) / sizeof(proto_offsets[0]));
}

/* The derived capacities in the header comments. */
static void test_format_capacities_match_comments(void)
{
	CU_ASSERT_EQUAL(CSVFS_INODE_BODY_SIZE, 2816);
	CU_ASSERT_EQUAL(CSVFS_INLINE_EXTENTS, 117);
	CU_ASSERT_EQUAL(CSVFS_EXTBLK_INDEX_MAX, 176);
	CU_ASSERT_EQUAL(CSVFS_EXTBLK_MAX, 167);
	CU_ASSERT_EQUAL(CSVFS_BLOB_DATA, 4000);
	CU_ASSERT_EQUAL(CSVFS_BLOB_MAX_CHAIN, 66);
	CU_ASSERT_EQUAL(CSVFS_SYMLINK_INLINE_MAX, 2815);
	CU_ASSERT_EQUAL(CSVFS_DINDEX_SLOTS, 502);
	CU_ASSERT_EQUAL(CSVFS_DIR_MAX_INDEX, 351);
	CU_ASSERT_EQUAL(CSVFS_JDESC_MAX, 502);
	CU_ASSERT_EQUAL(CSVFS_BITMAP_BITS, 4032 * 8);
	CU_ASSERT_EQUAL(sizeof(((struct csvfs_chunk *)0)->used) * 8,
			CSVFS_CHUNK_MAX_MBLKS);
	CU_ASSERT_EQUAL(CSVFS_CHUNK_MAX_MBLKS,
			(1u << CSVFS_MAX_BLOCK_SHIFT) / CSVFS_MBLK_SIZE);
}

/* Each magic reads as its four-letter name in the little-endian block. */
static void test_magics_spell_their_names(void)
{
	static const struct {
		uint32_t magic;
		const char *name;
	} m[] = {
		{ CSVFS_MAGIC_SUPER, "CSVS" },   { CSVFS_MAGIC_STATE, "CVST" },
		{ CSVFS_MAGIC_HB, "CVHB" },      { CSVFS_MAGIC_CLIENT, "CVCL" },
		{ CSVFS_MAGIC_JSB, "CVJS" },     { CSVFS_MAGIC_JDESC, "CVJD" },
		{ CSVFS_MAGIC_JCOMMIT, "CVJC" }, { CSVFS_MAGIC_BITMAP, "CVBM" },
		{ CSVFS_MAGIC_CHUNK, "CVCH" },   { CSVFS_MAGIC_INODE, "CVIN" },
		{ CSVFS_MAGIC_EXTENT, "CVEX" },  { CSVFS_MAGIC_DINDEX, "CVDI" },
		{ CSVFS_MAGIC_DBUCKET, "CVDB" }, { CSVFS_MSG_MAGIC, "CVMS" },
		{ CSVFS_MAGIC_BLOB, "CVBL" },
	};
	uint8_t b[4];

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		od_put32(b, m[i].magic);
		CU_ASSERT_EQUAL(memcmp(b, m[i].name, 4), 0);
	}
}

/* ---- (b) codec round trips ---------------------------------------------- */

/*
 * One record type: its size, codec (through void * wrappers so one driver
 * serves all), and what encode must write as zero (reserved areas).
 */
struct rec {
	const char *name;
	size_t size;
	void (*encode)(const void *cpu, void *raw);
	void (*decode)(const void *raw, void *cpu);
	void (*clear_reserved)(void *cpu);
};

#define CODEC(name, type)						\
static void enc_##name(const void *cpu, void *raw)			\
{									\
	od_##name##_encode((const struct type *)cpu, raw);		\
}									\
static void dec_##name(const void *raw, void *cpu)			\
{									\
	od_##name##_decode(raw, (struct type *)cpu);			\
}

CODEC(mhdr, csvfs_mhdr)
CODEC(super, csvfs_super)
CODEC(vstate, csvfs_vstate)
CODEC(hb, csvfs_hb)
CODEC(client, csvfs_client)
CODEC(jsb, csvfs_jsb)
CODEC(jdesc, csvfs_jdesc)
CODEC(jcommit, csvfs_jcommit)
CODEC(bitmap, csvfs_bitmap)
CODEC(chunk, csvfs_chunk)
CODEC(inode, csvfs_inode)
CODEC(extent, csvfs_extent)
CODEC(extblk, csvfs_extblk)
CODEC(blob, csvfs_blob)
CODEC(dindex, csvfs_dindex)
CODEC(dbucket, csvfs_dbucket)

static void clr_mhdr_fields(struct csvfs_mhdr *h)
{
	h->reserved0 = 0;
	h->reserved1 = 0;
	memset(h->reserved2, 0, sizeof(h->reserved2));
}

static void clr_mhdr(void *cpu)
{
	clr_mhdr_fields(cpu);
}

static void clr_super(void *cpu)
{
	struct csvfs_super *s = cpu;

	clr_mhdr_fields(&s->hdr);
	memset(s->reserved, 0, sizeof(s->reserved));
}

static void clr_vstate(void *cpu)
{
	struct csvfs_vstate *s = cpu;

	clr_mhdr_fields(&s->hdr);
	memset(s->reserved, 0, sizeof(s->reserved));
}

static void clr_hb(void *cpu)
{
	struct csvfs_hb *h = cpu;

	clr_mhdr_fields(&h->hdr);
	memset(h->reserved, 0, sizeof(h->reserved));
}

static void clr_client(void *cpu)
{
	struct csvfs_client *c = cpu;

	clr_mhdr_fields(&c->hdr);
	memset(c->reserved, 0, sizeof(c->reserved));
}

static void clr_jsb(void *cpu)
{
	struct csvfs_jsb *j = cpu;

	clr_mhdr_fields(&j->hdr);
	memset(j->reserved, 0, sizeof(j->reserved));
}

static void clr_jdesc(void *cpu)
{
	struct csvfs_jdesc *d = cpu;

	clr_mhdr_fields(&d->hdr);
	d->reserved0 = 0;
	d->reserved1 = 0;
}

static void clr_jcommit(void *cpu)
{
	struct csvfs_jcommit *c = cpu;

	clr_mhdr_fields(&c->hdr);
	memset(c->reserved, 0, sizeof(c->reserved));
}

static void clr_bitmap(void *cpu)
{
	struct csvfs_bitmap *b = cpu;

	clr_mhdr_fields(&b->hdr);
}

static void clr_chunk(void *cpu)
{
	struct csvfs_chunk *c = cpu;

	clr_mhdr_fields(&c->hdr);
	c->reserved0 = 0;
	memset(c->reserved, 0, sizeof(c->reserved));
}

static void clr_inode(void *cpu)
{
	struct csvfs_inode *i = cpu;

	clr_mhdr_fields(&i->hdr);
	memset(i->reserved, 0, sizeof(i->reserved));
}

static void clr_extent(void *cpu)
{
	(void)cpu;
}

static void clr_extblk(void *cpu)
{
	struct csvfs_extblk *x = cpu;

	clr_mhdr_fields(&x->hdr);
	x->reserved0 = 0;
	memset(x->reserved, 0, sizeof(x->reserved));
}

static void clr_blob(void *cpu)
{
	struct csvfs_blob *b = cpu;

	clr_mhdr_fields(&b->hdr);
	b->reserved0 = 0;
}

static void clr_dindex(void *cpu)
{
	struct csvfs_dindex *d = cpu;

	clr_mhdr_fields(&d->hdr);
}

static void clr_dbucket(void *cpu)
{
	struct csvfs_dbucket *b = cpu;

	clr_mhdr_fields(&b->hdr);
}

#define REC(name, type) \
	{ #name, sizeof(struct type), enc_##name, dec_##name, clr_##name }

static const struct rec rec_mhdr = REC(mhdr, csvfs_mhdr);
static const struct rec rec_super = REC(super, csvfs_super);
static const struct rec rec_vstate = REC(vstate, csvfs_vstate);
static const struct rec rec_hb = REC(hb, csvfs_hb);
static const struct rec rec_client = REC(client, csvfs_client);
static const struct rec rec_jsb = REC(jsb, csvfs_jsb);
static const struct rec rec_jdesc = REC(jdesc, csvfs_jdesc);
static const struct rec rec_jcommit = REC(jcommit, csvfs_jcommit);
static const struct rec rec_bitmap = REC(bitmap, csvfs_bitmap);
static const struct rec rec_chunk = REC(chunk, csvfs_chunk);
static const struct rec rec_inode = REC(inode, csvfs_inode);
static const struct rec rec_extent = REC(extent, csvfs_extent);
static const struct rec rec_extblk = REC(extblk, csvfs_extblk);
static const struct rec rec_blob = REC(blob, csvfs_blob);
static const struct rec rec_dindex = REC(dindex, csvfs_dindex);
static const struct rec rec_dbucket = REC(dbucket, csvfs_dbucket);

#define GUARD 64

/* Storage for any record, seen as its struct or as bytes. */
union any_rec {
	struct csvfs_mhdr mhdr;
	struct csvfs_super super;
	struct csvfs_vstate vstate;
	struct csvfs_hb hb;
	struct csvfs_client client;
	struct csvfs_jsb jsb;
	struct csvfs_jdesc jdesc;
	struct csvfs_jcommit jcommit;
	struct csvfs_bitmap bitmap;
	struct csvfs_chunk chunk;
	struct csvfs_inode inode;
	struct csvfs_extent extent;
	struct csvfs_extblk extblk;
	struct csvfs_blob blob;
	struct csvfs_dindex dindex;
	struct csvfs_dbucket dbucket;
	uint8_t b[CSVFS_MBLK_SIZE];
};

/*
 * Fills a record with pattern bytes (every field, every array element),
 * then checks:
 *  - encode writes exactly size bytes, all of them: the result does not
 *    depend on what the buffer held, and the bytes after it are untouched;
 *  - on a little-endian host the encoded block is byte for byte the
 *    struct with its reserved areas zeroed (the layout is the spec's);
 *  - decode gives back every field (memcmp is exact: no padding, checked
 *    by the offsets tests).
 */
static void round_trip(const struct rec *r, uint32_t seed)
{
	static union any_rec in, want, out;
	static uint8_t raw0[CSVFS_MBLK_SIZE + GUARD];
	static uint8_t raw1[CSVFS_MBLK_SIZE + GUARD];
	long d;

	fill_pattern(in.b, r->size, seed);
	memcpy(want.b, in.b, r->size);
	r->clear_reserved(want.b);

	memset(raw0, 0x00, sizeof(raw0));
	memset(raw1, 0xff, sizeof(raw1));
	r->encode(in.b, raw0);
	r->encode(in.b, raw1);
	d = first_diff(raw0, raw1, r->size);
	if (d >= 0)
		printf("\n  %s: encode leaves byte 0x%lx unwritten", r->name, d);
	CU_ASSERT_EQUAL(d, -1);
	for (size_t i = r->size; i < r->size + GUARD; i++) {
		CU_ASSERT_EQUAL_FATAL(raw0[i], 0x00);
		CU_ASSERT_EQUAL_FATAL(raw1[i], 0xff);
	}

#if __BYTE_ORDER == __LITTLE_ENDIAN
	d = first_diff(raw0, want.b, r->size);
	if (d >= 0)
		printf("\n  %s: encoded byte 0x%lx differs from the layout",
		       r->name, d);
	CU_ASSERT_EQUAL(d, -1);
#endif

	memset(out.b, 0xcc, sizeof(out.b));
	r->decode(raw0, out.b);
	d = first_diff(out.b, want.b, r->size);
	if (d >= 0)
		printf("\n  %s: decoded field at 0x%lx differs", r->name, d);
	CU_ASSERT_EQUAL(d, -1);
}

static void test_mhdr_round_trip(void)    { round_trip(&rec_mhdr, 1); }
static void test_super_round_trip(void)   { round_trip(&rec_super, 2); }
static void test_vstate_round_trip(void)  { round_trip(&rec_vstate, 3); }
static void test_hb_round_trip(void)      { round_trip(&rec_hb, 4); }
static void test_client_round_trip(void)  { round_trip(&rec_client, 5); }
static void test_jsb_round_trip(void)     { round_trip(&rec_jsb, 6); }
static void test_jdesc_round_trip(void)   { round_trip(&rec_jdesc, 7); }
static void test_jcommit_round_trip(void) { round_trip(&rec_jcommit, 8); }
static void test_bitmap_round_trip(void)  { round_trip(&rec_bitmap, 9); }
static void test_chunk_round_trip(void)   { round_trip(&rec_chunk, 10); }
static void test_inode_round_trip(void)   { round_trip(&rec_inode, 11); }
static void test_extent_round_trip(void)  { round_trip(&rec_extent, 12); }
static void test_extblk_round_trip(void)  { round_trip(&rec_extblk, 13); }
static void test_dindex_round_trip(void)  { round_trip(&rec_dindex, 14); }
static void test_dbucket_round_trip(void) { round_trip(&rec_dbucket, 15); }
static void test_blob_round_trip(void)    { round_trip(&rec_blob, 16); }

/* Reserved bytes found on disk are decoded (fsck sees them), not dropped. */
static void test_decode_keeps_reserved_bytes(void)
{
	static uint8_t raw[CSVFS_MBLK_SIZE];
	static struct csvfs_super s;

	memset(raw, 0, sizeof(raw));
	raw[0x2a] = 0x11;
	raw[0x110] = 0x22;
	raw[0xfff] = 0x33;
	od_super_decode(raw, &s);
	CU_ASSERT_EQUAL(s.hdr.reserved0, 0x11);
	CU_ASSERT_EQUAL(s.reserved[0], 0x22);
	CU_ASSERT_EQUAL(s.reserved[sizeof(s.reserved) - 1], 0x33);
}

/* ---- (c) little-endian on disk, whatever the host ----------------------- */

static void test_super_encodes_little_endian(void)
{
	static struct csvfs_super s;
	static uint8_t raw[CSVFS_MBLK_SIZE];

	memset(&s, 0, sizeof(s));
	s.block_shift = 0x01020304;
	s.total_blocks = 0x1122334455667788ull;
	s.vmajor = 0xa1b2;
	od_super_encode(&s, raw);
	CU_ASSERT_EQUAL(raw[0x44], 0x04);
	CU_ASSERT_EQUAL(raw[0x45], 0x03);
	CU_ASSERT_EQUAL(raw[0x46], 0x02);
	CU_ASSERT_EQUAL(raw[0x47], 0x01);
	CU_ASSERT(is_le(raw, 0x48, s.total_blocks, 8));
	CU_ASSERT(is_le(raw, 0x40, s.vmajor, 2));
}

/* Array elements land at their spec offsets, little-endian. */
static void test_arrays_encode_at_spec_offsets(void)
{
	static struct csvfs_jdesc jd;
	static struct csvfs_extblk xb;
	static struct csvfs_dindex di;
	static uint8_t raw[CSVFS_MBLK_SIZE];
	const size_t last = CSVFS_EXTBLK_MAX - 1;

	memset(&jd, 0, sizeof(jd));
	jd.targets[1] = 0x0102030405060708ull;
	jd.targets[CSVFS_JDESC_MAX - 1] = 0xf1f2f3f4f5f6f7f8ull;
	od_jdesc_encode(&jd, raw);
	CU_ASSERT(is_le(raw, 0x58, jd.targets[1], 8));
	CU_ASSERT(is_le(raw, 0xff8, jd.targets[CSVFS_JDESC_MAX - 1], 8));

	memset(&xb, 0, sizeof(xb));
	xb.ext[1].lblk = 0x1111222233334444ull;
	xb.ext[1].pblk = 0x5555666677778888ull;
	xb.ext[1].len = 0x99aabbcc;
	xb.ext[1].flags = CSVFS_EXT_UNWRITTEN;
	xb.ext[last].pblk = 0xdeadbeefcafef00dull;
	od_extblk_encode(&xb, raw);
	CU_ASSERT(is_le(raw, 0x50 + 24, xb.ext[1].lblk, 8));
	CU_ASSERT(is_le(raw, 0x50 + 24 + 8, xb.ext[1].pblk, 8));
	CU_ASSERT(is_le(raw, 0x50 + 24 + 16, xb.ext[1].len, 4));
	CU_ASSERT(is_le(raw, 0x50 + 24 + 20, xb.ext[1].flags, 4));
	CU_ASSERT(is_le(raw, 0x50 + 24 * last + 8, xb.ext[last].pblk, 8));

	memset(&di, 0, sizeof(di));
	di.slots[CSVFS_DINDEX_SLOTS - 1] = 0x0a0b0c0d0e0f1011ull;
	od_dindex_encode(&di, raw);
	CU_ASSERT(is_le(raw, 0xff8, di.slots[CSVFS_DINDEX_SLOTS - 1], 8));
}

static void test_get_put_helpers_are_little_endian(void)
{
	uint8_t b[8];

	od_put16(b, 0x0102);
	CU_ASSERT(b[0] == 0x02 && b[1] == 0x01);
	CU_ASSERT_EQUAL(od_get16(b), 0x0102);
	od_put32(b, 0x01020304);
	CU_ASSERT(is_le(b, 0, 0x01020304, 4));
	CU_ASSERT_EQUAL(od_get32(b), 0x01020304);
	od_put64(b, 0x0102030405060708ull);
	CU_ASSERT(is_le(b, 0, 0x0102030405060708ull, 8));
	CU_ASSERT_EQUAL(od_get64(b), 0x0102030405060708ull);
}

/* ---- (d) seal and check ------------------------------------------------- */

/* A sealed, patterned inode block at mblk 1234 of volume test_uuid. */
static void make_inode_block(uint8_t *raw)
{
	static struct csvfs_inode ino;

	fill_pattern(&ino, sizeof(ino), 99);
	od_hdr_init(&ino.hdr, CSVFS_MAGIC_INODE, 1234, test_uuid);
	ino.hdr.tid = 77;
	od_inode_encode(&ino, raw);
	od_seal(raw);
}

static void test_hdr_init_sets_identity_and_zeroes_rest(void)
{
	struct csvfs_mhdr h;

	memset(&h, 0xee, sizeof(h));
	od_hdr_init(&h, CSVFS_MAGIC_HB, 42, test_uuid);
	CU_ASSERT_EQUAL(h.magic, CSVFS_MAGIC_HB);
	CU_ASSERT_EQUAL(h.checksum, 0);
	CU_ASSERT_EQUAL(h.mblk, 42);
	CU_ASSERT_EQUAL(memcmp(h.uuid, test_uuid, CSVFS_UUID_SIZE), 0);
	CU_ASSERT_EQUAL(h.tid, 0);
	CU_ASSERT_EQUAL(h.version, CSVFS_VERSION_MAJOR);
	CU_ASSERT_EQUAL(h.reserved0, 0);
	CU_ASSERT_EQUAL(h.reserved1, 0);
	for (size_t i = 0; i < sizeof(h.reserved2); i++)
		CU_ASSERT_EQUAL(h.reserved2[i], 0);
}

/* The heartbeat slot pair: what encode writes at a block decodes there. */
static void test_hb_slot_round_trip_and_checks(void)
{
	static uint8_t raw[CSVFS_MBLK_SIZE];
	static const uint8_t other[CSVFS_UUID_SIZE] = { 9 };
	struct csvfs_hb in, out;

	memset(&in, 0, sizeof(in));
	in.node_id = 7;
	in.state = CSVFS_HB_CLUSTER;
	in.incarnation = 0x1122334455667788ull;
	in.counter = 99;
	in.timestamp_ns = 123456789;
	strcpy(in.hostname, "node7");
	memset(raw, 0xaa, sizeof(raw));
	od_hb_slot_encode(&in, 12, test_uuid, raw);
	CU_ASSERT_EQUAL(in.hdr.magic, CSVFS_MAGIC_HB);
	memset(&out, 0, sizeof(out));
	CU_ASSERT_EQUAL(od_hb_slot_decode(raw, 12, test_uuid, &out), 0);
	CU_ASSERT_EQUAL(out.node_id, 7);
	CU_ASSERT_EQUAL(out.state, CSVFS_HB_CLUSTER);
	CU_ASSERT_EQUAL(out.incarnation, in.incarnation);
	CU_ASSERT_EQUAL(out.counter, 99);
	CU_ASSERT_EQUAL(out.timestamp_ns, 123456789);
	CU_ASSERT_STRING_EQUAL(out.hostname, "node7");
	CU_ASSERT_EQUAL(od_hb_slot_decode(raw, 12, NULL, &out), 0);
	CU_ASSERT_EQUAL(od_hb_slot_decode(raw, 13, test_uuid, &out),
			-CSVFS_EBADBLK);
	CU_ASSERT_EQUAL(od_hb_slot_decode(raw, 12, other, &out),
			-CSVFS_EFOREIGN);
	raw[100] ^= 1;
	CU_ASSERT_EQUAL(od_hb_slot_decode(raw, 12, test_uuid, &out),
			-CSVFS_EBADCRC);
}

/* The checksum is zlib crc32 of the block with bytes 4..7 as zero. */
static void test_block_crc_is_crc32_with_field_zero(void)
{
	static uint8_t raw[CSVFS_MBLK_SIZE], copy[CSVFS_MBLK_SIZE];

	make_inode_block(raw);
	memcpy(copy, raw, sizeof(copy));
	memset(copy + 4, 0, 4);
	CU_ASSERT_EQUAL(od_block_crc(raw),
			(uint32_t)crc32(0L, copy, CSVFS_MBLK_SIZE));
	CU_ASSERT_EQUAL(od_get32(raw + 4), od_block_crc(raw));
	/* The stored checksum does not feed into itself. */
	raw[4] ^= 0xff;
	CU_ASSERT_EQUAL(od_block_crc(raw), od_block_crc(copy));
}

static void test_sealed_block_checks_ok(void)
{
	static uint8_t raw[CSVFS_MBLK_SIZE];

	make_inode_block(raw);
	CU_ASSERT_EQUAL(od_check(raw, CSVFS_MAGIC_INODE, 1234, test_uuid), 0);
	CU_ASSERT_EQUAL(od_check(raw, CSVFS_MAGIC_INODE, 1234, NULL), 0);
}

/*
 * Every byte, each corrupted two ways (all bits, one bit): bytes 0..3 give
 * a bad magic, all others a bad checksum. CRC-32 catches every error burst
 * of up to 32 bits, so no position may slip through.
 */
static void test_any_corrupted_byte_fails_check(void)
{
	static uint8_t raw[CSVFS_MBLK_SIZE];
	int missed = 0;

	make_inode_block(raw);
	for (size_t i = 0; i < CSVFS_MBLK_SIZE; i++) {
		const uint8_t masks[2] = { 0xff, (uint8_t)(1u << (i % 8)) };
		int want = i < 4 ? -CSVFS_EBADMAGIC : -CSVFS_EBADCRC;

		for (int m = 0; m < 2; m++) {
			int rc;

			raw[i] ^= masks[m];
			rc = od_check(raw, CSVFS_MAGIC_INODE, 1234, test_uuid);
			raw[i] ^= masks[m];
			if (rc != want) {
				if (missed++ < 10)
					printf("\n  byte 0x%zx mask 0x%02x: "
					       "rc %d, want %d", i, masks[m],
					       rc, want);
			}
		}
	}
	CU_ASSERT_EQUAL(missed, 0);
	CU_ASSERT_EQUAL(od_check(raw, CSVFS_MAGIC_INODE, 1234, test_uuid), 0);
}

static void test_wrong_magic_expected_is_badmagic(void)
{
	static uint8_t raw[CSVFS_MBLK_SIZE];

	make_inode_block(raw);
	CU_ASSERT_EQUAL(od_check(raw, CSVFS_MAGIC_DBUCKET, 1234, test_uuid),
			-CSVFS_EBADMAGIC);
}

static void test_wrong_mblk_is_badblk(void)
{
	static uint8_t raw[CSVFS_MBLK_SIZE];

	make_inode_block(raw);
	CU_ASSERT_EQUAL(od_check(raw, CSVFS_MAGIC_INODE, 1235, test_uuid),
			-CSVFS_EBADBLK);
	CU_ASSERT_EQUAL(od_check(raw, CSVFS_MAGIC_INODE, 1234ull | 1ull << 40,
				 NULL), -CSVFS_EBADBLK);
}

static void test_wrong_uuid_is_foreign(void)
{
	static uint8_t raw[CSVFS_MBLK_SIZE];
	uint8_t other[CSVFS_UUID_SIZE];

	make_inode_block(raw);
	memcpy(other, test_uuid, sizeof(other));
	other[15] ^= 1;
	CU_ASSERT_EQUAL(od_check(raw, CSVFS_MAGIC_INODE, 1234, other),
			-CSVFS_EFOREIGN);
}

/* The sub-block threshold documented in ondisk.h and meta/subblk.h. */
static void test_sub_max_is_half_a_block_at_most_1mib(void)
{
	CU_ASSERT_EQUAL(CSVFS_VERSION_MAJOR, 2);
	CU_ASSERT_EQUAL(CSVFS_SUB_UNIT, 4096);
	CU_ASSERT_EQUAL(CSVFS_SUB_MAX(20), 512u << 10);
	CU_ASSERT_EQUAL(CSVFS_SUB_MAX(21), (1u << 20) - 4096);
	CU_ASSERT_EQUAL(CSVFS_SUB_MAX(22), (1u << 20) - 4096);
	CU_ASSERT_EQUAL(CSVFS_SUB_MAX(23), (1u << 20) - 4096);
	CU_ASSERT(CSVFS_EXT_SUB != CSVFS_EXT_UNWRITTEN &&
		  CSVFS_EXT_SUB != CSVFS_EXT_AHEAD);
}

/*
 * The tail area (ondisk.h "Tails"): xattr[] (0x100..0x500), then body[]
 * past the extent record (0x518..0x1000); a byte of the tail at offset k
 * is at inode byte 0x100 + k, or 0x518 + (k - 1024).
 */
static void test_tail_area_is_xattr_then_body_past_the_extent(void)
{
	static struct csvfs_inode in;
	static uint8_t src[CSVFS_TAIL_MAX], back[CSVFS_TAIL_MAX];
	const uint8_t *raw = (const uint8_t *)&in;
	size_t k;

	CU_ASSERT_EQUAL(CSVFS_TAIL_MAX, 3816);
	CU_ASSERT_EQUAL(CSVFS_IFL_TAIL, 0x400);
	CU_ASSERT_EQUAL(offsetof(struct csvfs_inode, xattr), 0x100);
	CU_ASSERT_EQUAL(offsetof(struct csvfs_inode, body) +
			CSVFS_TAIL_BODY_OFF, 0x518);
	for (k = 0; k < sizeof(src); k++)
		src[k] = (uint8_t)(k * 7 + 1);
	memset(&in, 0xee, sizeof(in));
	subblk_tail_clear(&in);
	/* the extent record and everything before the area untouched */
	CU_ASSERT_EQUAL(raw[0x0ff], 0xee);
	CU_ASSERT_EQUAL(raw[0x500], 0xee);
	CU_ASSERT_EQUAL(raw[0x517], 0xee);
	CU_ASSERT_EQUAL(raw[0x100], 0);
	CU_ASSERT_EQUAL(raw[0xfff], 0);
	subblk_tail_write(&in, 0, src, sizeof(src));
	CU_ASSERT_EQUAL(raw[0x100], src[0]);
	CU_ASSERT_EQUAL(raw[0x4ff], src[1023]);
	CU_ASSERT_EQUAL(raw[0x518], src[1024]);
	CU_ASSERT_EQUAL(raw[0xfff], src[CSVFS_TAIL_MAX - 1]);
	CU_ASSERT_EQUAL(raw[0x517], 0xee);
	/* a piece across the seam reads back where it was put */
	subblk_tail_read(&in, 1000, back, 100);
	CU_ASSERT(memcmp(back, src + 1000, 100) == 0);
	subblk_tail_read(&in, 0, back, sizeof(back));
	CU_ASSERT(memcmp(back, src, sizeof(src)) == 0);
}

static void test_other_major_version_is_eversion(void)
{
	static uint8_t raw[CSVFS_MBLK_SIZE];

	make_inode_block(raw);
	od_put16(raw + 0x28, CSVFS_VERSION_MAJOR + 1);
	od_seal(raw);
	CU_ASSERT_EQUAL(od_check(raw, CSVFS_MAGIC_INODE, 1234, test_uuid),
			-CSVFS_EVERSION);
	/* format 1 (before sub-blocks) is refused too */
	od_put16(raw + 0x28, 1);
	od_seal(raw);
	CU_ASSERT_EQUAL(od_check(raw, CSVFS_MAGIC_INODE, 1234, test_uuid),
			-CSVFS_EVERSION);
	od_put16(raw + 0x28, 0);
	od_seal(raw);
	CU_ASSERT_EQUAL(od_check(raw, CSVFS_MAGIC_INODE, 1234, test_uuid),
			-CSVFS_EVERSION);
}

/* magic, then checksum, then version, then mblk, then uuid. */
static void test_check_order_is_magic_crc_version_mblk_uuid(void)
{
	static uint8_t raw[CSVFS_MBLK_SIZE];
	uint8_t other[CSVFS_UUID_SIZE] = { 0 };

	make_inode_block(raw);
	raw[100] ^= 1;		/* bad checksum */
	CU_ASSERT_EQUAL(od_check(raw, CSVFS_MAGIC_CHUNK, 1, other),
			-CSVFS_EBADMAGIC);
	CU_ASSERT_EQUAL(od_check(raw, CSVFS_MAGIC_INODE, 1, other),
			-CSVFS_EBADCRC);

	make_inode_block(raw);
	od_put16(raw + 0x28, CSVFS_VERSION_MAJOR + 1);
	od_seal(raw);		/* sealed, other version */
	CU_ASSERT_EQUAL(od_check(raw, CSVFS_MAGIC_INODE, 1, other),
			-CSVFS_EVERSION);

	make_inode_block(raw);
	CU_ASSERT_EQUAL(od_check(raw, CSVFS_MAGIC_INODE, 1, other),
			-CSVFS_EBADBLK);
}

/* ---- (e) errors --------------------------------------------------------- */

static void test_strerror_never_null(void)
{
	for (int e = -1; e >= -200; e--) {
		const char *s = csvfs_strerror(e);

		CU_ASSERT_PTR_NOT_NULL(s);
		CU_ASSERT(s && s[0] != '\0');
	}
	for (int e = -CSVFS_EBASE; e >= -(CSVFS_EMAX); e--) {
		const char *s = csvfs_strerror(e);

		CU_ASSERT_PTR_NOT_NULL(s);
		CU_ASSERT(s && s[0] != '\0');
	}
	CU_ASSERT_PTR_NOT_NULL(csvfs_strerror(0));
	CU_ASSERT_PTR_NOT_NULL(csvfs_strerror(EIO));
	CU_ASSERT_PTR_NOT_NULL(csvfs_strerror(-100000));
	CU_ASSERT_PTR_NOT_NULL(csvfs_strerror(-2147483647 - 1));
}

static void test_strerror_names_domain_errors(void)
{
	CU_ASSERT_STRING_EQUAL(csvfs_strerror(-CSVFS_EBADCRC), "bad checksum");
	CU_ASSERT_STRING_EQUAL(csvfs_strerror(-CSVFS_ENOTCSVFS),
			       "not a csvfs volume");
	CU_ASSERT_STRING_EQUAL(csvfs_strerror(-CSVFS_ETOOSMALL),
			       "device too small");
	CU_ASSERT_STRING_EQUAL(csvfs_strerror(-CSVFS_ESTALEEPOCH),
			       "stale coordinator epoch");
	CU_ASSERT_STRING_EQUAL(csvfs_strerror(-CSVFS_ELEASE),
			       "file ownership lost");
	CU_ASSERT_STRING_EQUAL(csvfs_strerror(-ENOENT),
			       "No such file or directory");
	/* Each assigned domain error has its own text. */
	for (int a = CSVFS_EBADMAGIC; a <= CSVFS_ELIVE; a++)
		for (int b = a + 1; b <= CSVFS_ELIVE; b++)
			CU_ASSERT(strcmp(csvfs_strerror(-a),
					 csvfs_strerror(-b)) != 0);
}

static void test_errno_maps_as_documented(void)
{
	CU_ASSERT_EQUAL(csvfs_errno(-CSVFS_EBADMAGIC), -EIO);
	CU_ASSERT_EQUAL(csvfs_errno(-CSVFS_EBADBLK), -EIO);
	CU_ASSERT_EQUAL(csvfs_errno(-CSVFS_EFOREIGN), -EIO);
	CU_ASSERT_EQUAL(csvfs_errno(-CSVFS_EVERSION), -EINVAL);
	CU_ASSERT_EQUAL(csvfs_errno(-CSVFS_EBADCRC), -EUCLEAN);
	CU_ASSERT_EQUAL(csvfs_errno(-CSVFS_ECORRUPT), -EUCLEAN);
	CU_ASSERT_EQUAL(csvfs_errno(-CSVFS_ESTALEEPOCH), -ESTALE);
	CU_ASSERT_EQUAL(csvfs_errno(-CSVFS_ELEASE), -EIO);
	CU_ASSERT_EQUAL(csvfs_errno(-CSVFS_ENOTCSVFS), -EINVAL);
	CU_ASSERT_EQUAL(csvfs_errno(-CSVFS_ETOOSMALL), -ENOSPC);
	CU_ASSERT_EQUAL(csvfs_errno(-CSVFS_EJOURNAL), -EIO);
	CU_ASSERT_EQUAL(csvfs_errno(-CSVFS_ELIVE), -EBUSY);
	/* Unassigned domain codes fail safe. */
	CU_ASSERT_EQUAL(csvfs_errno(-(CSVFS_ELIVE + 1)), -EIO);
	CU_ASSERT_EQUAL(csvfs_errno(-CSVFS_EMAX), -EIO);
	/* Plain errnos and success pass through. */
	CU_ASSERT_EQUAL(csvfs_errno(0), 0);
	CU_ASSERT_EQUAL(csvfs_errno(-ENOENT), -ENOENT);
	CU_ASSERT_EQUAL(csvfs_errno(-ENOSPC), -ENOSPC);
	CU_ASSERT_EQUAL(csvfs_errno(-(CSVFS_EMAX + 1)), -(CSVFS_EMAX + 1));
	/* Every domain code maps to a real errno, never a domain code. */
	for (int e = CSVFS_EBASE; e <= CSVFS_EMAX; e++) {
		int m = csvfs_errno(-e);

		CU_ASSERT(m < 0 && m > -CSVFS_EBASE);
	}
}

/* ---- runner ------------------------------------------------------------- */

struct test_def {
	const char *name;
	CU_TestFunc fn;
};

#define T(fn) { #fn, fn }

static const struct test_def offsets_tests[] = {
	T(test_ondisk_fields_at_spec_offsets),
	T(test_proto_fields_at_spec_offsets),
	T(test_format_capacities_match_comments),
	T(test_magics_spell_their_names),
};

static const struct test_def codec_tests[] = {
	T(test_mhdr_round_trip),
	T(test_super_round_trip),
	T(test_vstate_round_trip),
	T(test_hb_round_trip),
	T(test_client_round_trip),
	T(test_jsb_round_trip),
	T(test_jdesc_round_trip),
	T(test_jcommit_round_trip),
	T(test_bitmap_round_trip),
	T(test_chunk_round_trip),
	T(test_inode_round_trip),
	T(test_extent_round_trip),
	T(test_extblk_round_trip),
	T(test_dindex_round_trip),
	T(test_dbucket_round_trip),
	T(test_blob_round_trip),
	T(test_decode_keeps_reserved_bytes),
	T(test_super_encodes_little_endian),
	T(test_arrays_encode_at_spec_offsets),
	T(test_get_put_helpers_are_little_endian),
};

static const struct test_def check_tests[] = {
	T(test_hdr_init_sets_identity_and_zeroes_rest),
	T(test_hb_slot_round_trip_and_checks),
	T(test_block_crc_is_crc32_with_field_zero),
	T(test_sealed_block_checks_ok),
	T(test_any_corrupted_byte_fails_check),
	T(test_wrong_magic_expected_is_badmagic),
	T(test_wrong_mblk_is_badblk),
	T(test_wrong_uuid_is_foreign),
	T(test_other_major_version_is_eversion),
	T(test_sub_max_is_half_a_block_at_most_1mib),
	T(test_tail_area_is_xattr_then_body_past_the_extent),
	T(test_check_order_is_magic_crc_version_mblk_uuid),
};

static const struct test_def errors_tests[] = {
	T(test_strerror_never_null),
	T(test_strerror_names_domain_errors),
	T(test_errno_maps_as_documented),
};

static int add_suite(const char *name, const struct test_def *t, size_t n)
{
	CU_pSuite s = CU_add_suite(name, NULL, NULL);

	if (!s)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!CU_add_test(s, t[i].name, t[i].fn))
			return -1;
	return 0;
}

#define ADD_SUITE(name, tab) \
	add_suite(name, tab, sizeof(tab) / sizeof(tab[0]))

int main(void)
{
	unsigned failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (ADD_SUITE("offsets", offsets_tests) ||
	    ADD_SUITE("codec", codec_tests) ||
	    ADD_SUITE("check", check_tests) ||
	    ADD_SUITE("errors", errors_tests)) {
		fprintf(stderr, "ondisk_test: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
