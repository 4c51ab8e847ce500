/*
 * ondisk: checksums, block checks and the encode/decode pair of every record
 * of include/csvfs/ondisk.h.
 *
 * A raw block is only ever a byte array here. Each field is read or written
 * with an explicit little-endian accessor at its offset; the offsets are
 * taken with offsetof() from the CPU structs, whose layout equals the
 * on-disk layout (pinned by the _Static_asserts of the format header and by
 * tests/unit/ondisk_test.c, which checks every offset against the spec).
 *
 * Encoders write all 4096 bytes of the block: every field, and zeroes over
 * every reserved area, so the same struct always gives the same bytes.
 * Decoders read every field, reserved ones included, so that fsck can see
 * what is on the disk.
 */
#include <endian.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "csvfs/errors.h"
#include "meta/ondisk.h"

/* Offset of the checksum field, which the checksum covers as zeroes. */
#define OD_CRC_OFF	offsetof(struct csvfs_mhdr, checksum)
#define OD_CRC_LEN	sizeof(uint32_t)

/*
 * Field accessors. "p" is the raw block (uint8_t *), "s" the CPU struct;
 * the field's width must match the accessor's, which is checked at compile
 * time so a header change cannot silently truncate a field.
 */
#define OD_DEC(bits, p, s, f) do {					\
	_Static_assert(sizeof((s)->f) == (bits) / 8, "width of " #f);	\
	(s)->f = od_get##bits((p) + offsetof(__typeof__(*(s)), f));	\
} while (0)

#define OD_ENC(bits, p, s, f) do {					\
	_Static_assert(sizeof((s)->f) == (bits) / 8, "width of " #f);	\
	od_put##bits((p) + offsetof(__typeof__(*(s)), f), (s)->f);	\
} while (0)

/* Byte arrays (labels, bitmaps, raw areas) are copied as they are. */
#define OD_DEC_BYTES(p, s, f) \
	memcpy((s)->f, (p) + offsetof(__typeof__(*(s)), f), sizeof((s)->f))
#define OD_ENC_BYTES(p, s, f) \
	memcpy((p) + offsetof(__typeof__(*(s)), f), (s)->f, sizeof((s)->f))

/* Reserved areas are always written as zeroes. */
#define OD_ENC_ZERO(p, s, f) \
	memset((p) + offsetof(__typeof__(*(s)), f), 0, sizeof((s)->f))

/* Arrays of le64 (journal targets, directory index slots). */
static void od_dec64_array(const uint8_t *p, uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = od_get64(p + 8 * i);
}

static void od_enc64_array(uint8_t *p, const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		od_put64(p + 8 * i, v[i]);
}

/* ---- checksum and block checks ------------------------------------------ */

uint32_t od_block_crc(const void *raw)
{
	static const uint8_t zero[OD_CRC_LEN];
	const uint8_t *p = raw;
	uLong crc = crc32(0L, Z_NULL, 0);

	/* The block is checksummed in place, its checksum field as zeroes. */
	crc = crc32(crc, p, OD_CRC_OFF);
	crc = crc32(crc, zero, OD_CRC_LEN);
	crc = crc32(crc, p + OD_CRC_OFF + OD_CRC_LEN,
		    CSVFS_MBLK_SIZE - OD_CRC_OFF - OD_CRC_LEN);
	return (uint32_t)crc;
}

void od_seal(void *raw)
{
	uint8_t *p = raw;

	od_put32(p + OD_CRC_OFF, od_block_crc(raw));
}

/*
 * The order matters. The magic says whether this is the kind of block asked
 * for at all (a wrong magic on an unformatted device is "not csvfs", not
 * corruption). The checksum comes next, on the raw bytes and before any
 * other field is trusted: a torn or bit-flipped block must read as a bad
 * checksum, not as a foreign or misplaced block. Only a block whose bytes
 * are intact is asked whether it is of our version, in its right place
 * (a misdirected write) and of our volume.
 */
int od_check(const void *raw, uint32_t magic, uint64_t mblk,
	     const uint8_t *uuid)
{
	const uint8_t *p = raw;

	if (od_get32(p + offsetof(struct csvfs_mhdr, magic)) != magic)
		return -CSVFS_EBADMAGIC;
	if (od_get32(p + OD_CRC_OFF) != od_block_crc(raw))
		return -CSVFS_EBADCRC;
	if (od_get16(p + offsetof(struct csvfs_mhdr, version)) !=
	    CSVFS_VERSION_MAJOR)
		return -CSVFS_EVERSION;
	if (od_get64(p + offsetof(struct csvfs_mhdr, mblk)) != mblk)
		return -CSVFS_EBADBLK;
	if (uuid && memcmp(p + offsetof(struct csvfs_mhdr, uuid), uuid,
			   CSVFS_UUID_SIZE) != 0)
		return -CSVFS_EFOREIGN;
	return 0;
}

/* A NULL uuid leaves the volume UUID zero (mkfs before it has chosen one). */
void od_hdr_init(struct csvfs_mhdr *h, uint32_t magic, uint64_t mblk,
		 const uint8_t *uuid)
{
	memset(h, 0, sizeof(*h));
	h->magic = magic;
	h->mblk = mblk;
	if (uuid)
		memcpy(h->uuid, uuid, sizeof(h->uuid));
	h->version = CSVFS_VERSION_MAJOR;
}

/* ---- common header ------------------------------------------------------ */

void od_mhdr_decode(const void *raw, struct csvfs_mhdr *h)
{
	const uint8_t *p = raw;

	OD_DEC(32, p, h, magic);
	OD_DEC(32, p, h, checksum);
	OD_DEC(64, p, h, mblk);
	OD_DEC_BYTES(p, h, uuid);
	OD_DEC(64, p, h, tid);
	OD_DEC(16, p, h, version);
	OD_DEC(16, p, h, reserved0);
	OD_DEC(32, p, h, reserved1);
	OD_DEC_BYTES(p, h, reserved2);
}

void od_mhdr_encode(const struct csvfs_mhdr *h, void *raw)
{
	uint8_t *p = raw;

	OD_ENC(32, p, h, magic);
	OD_ENC(32, p, h, checksum);
	OD_ENC(64, p, h, mblk);
	OD_ENC_BYTES(p, h, uuid);
	OD_ENC(64, p, h, tid);
	OD_ENC(16, p, h, version);
	OD_ENC_ZERO(p, h, reserved0);
	OD_ENC_ZERO(p, h, reserved1);
	OD_ENC_ZERO(p, h, reserved2);
}

/* ---- superblock --------------------------------------------------------- */

void od_super_decode(const void *raw, struct csvfs_super *s)
{
	const uint8_t *p = raw;

	od_mhdr_decode(p, &s->hdr);
	OD_DEC(16, p, s, vmajor);
	OD_DEC(16, p, s, vminor);
	OD_DEC(32, p, s, block_shift);
	OD_DEC(64, p, s, total_blocks);
	OD_DEC(64, p, s, data_start);
	OD_DEC(32, p, s, max_nodes);
	OD_DEC(32, p, s, state);
	OD_DEC(64, p, s, hb_mblk);
	OD_DEC(64, p, s, client_mblk);
	OD_DEC(64, p, s, backup_mblk);
	OD_DEC(64, p, s, journal_mblk);
	OD_DEC(64, p, s, journal_len);
	OD_DEC(64, p, s, bitmap_mblk);
	OD_DEC(64, p, s, bitmap_len);
	OD_DEC(64, p, s, root_ino);
	OD_DEC(64, p, s, first_chunk);
	OD_DEC(64, p, s, coord_epoch);
	OD_DEC(32, p, s, coord_node);
	OD_DEC(32, p, s, flags);
	OD_DEC(64, p, s, hash_seed);
	OD_DEC(64, p, s, mkfs_time);
	OD_DEC(64, p, s, mount_time);
	OD_DEC_BYTES(p, s, label);
	OD_DEC_BYTES(p, s, reserved);
}

void od_super_encode(const struct csvfs_super *s, void *raw)
{
	uint8_t *p = raw;

	od_mhdr_encode(&s->hdr, p);
	OD_ENC(16, p, s, vmajor);
	OD_ENC(16, p, s, vminor);
	OD_ENC(32, p, s, block_shift);
	OD_ENC(64, p, s, total_blocks);
	OD_ENC(64, p, s, data_start);
	OD_ENC(32, p, s, max_nodes);
	OD_ENC(32, p, s, state);
	OD_ENC(64, p, s, hb_mblk);
	OD_ENC(64, p, s, client_mblk);
	OD_ENC(64, p, s, backup_mblk);
	OD_ENC(64, p, s, journal_mblk);
	OD_ENC(64, p, s, journal_len);
	OD_ENC(64, p, s, bitmap_mblk);
	OD_ENC(64, p, s, bitmap_len);
	OD_ENC(64, p, s, root_ino);
	OD_ENC(64, p, s, first_chunk);
	OD_ENC(64, p, s, coord_epoch);
	OD_ENC(32, p, s, coord_node);
	OD_ENC(32, p, s, flags);
	OD_ENC(64, p, s, hash_seed);
	OD_ENC(64, p, s, mkfs_time);
	OD_ENC(64, p, s, mount_time);
	OD_ENC_BYTES(p, s, label);
	OD_ENC_ZERO(p, s, reserved);
}

/* ---- volume state ------------------------------------------------------- */

void od_vstate_decode(const void *raw, struct csvfs_vstate *s)
{
	const uint8_t *p = raw;

	od_mhdr_decode(p, &s->hdr);
	OD_DEC(64, p, s, orphan_head);
	OD_DEC(64, p, s, next_generation);
	OD_DEC(64, p, s, reserved_blocks);
	OD_DEC(64, p, s, sub_head);
	OD_DEC(64, p, s, release_blk);
	OD_DEC_BYTES(p, s, reserved);
}

void od_vstate_encode(const struct csvfs_vstate *s, void *raw)
{
	uint8_t *p = raw;

	od_mhdr_encode(&s->hdr, p);
	OD_ENC(64, p, s, orphan_head);
	OD_ENC(64, p, s, next_generation);
	OD_ENC(64, p, s, reserved_blocks);
	OD_ENC(64, p, s, sub_head);
	OD_ENC(64, p, s, release_blk);
	OD_ENC_ZERO(p, s, reserved);
}

/* ---- heartbeat slot ----------------------------------------------------- */

void od_hb_decode(const void *raw, struct csvfs_hb *h)
{
	const uint8_t *p = raw;

	od_mhdr_decode(p, &h->hdr);
	OD_DEC(32, p, h, node_id);
	OD_DEC(32, p, h, state);
	OD_DEC(64, p, h, incarnation);
	OD_DEC(64, p, h, counter);
	OD_DEC(64, p, h, timestamp_ns);
	OD_DEC_BYTES(p, h, hostname);
	OD_DEC_BYTES(p, h, reserved);
}

void od_hb_encode(const struct csvfs_hb *h, void *raw)
{
	uint8_t *p = raw;

	od_mhdr_encode(&h->hdr, p);
	OD_ENC(32, p, h, node_id);
	OD_ENC(32, p, h, state);
	OD_ENC(64, p, h, incarnation);
	OD_ENC(64, p, h, counter);
	OD_ENC(64, p, h, timestamp_ns);
	OD_ENC_BYTES(p, h, hostname);
	OD_ENC_ZERO(p, h, reserved);
}

int od_hb_slot_decode(const void *raw, uint64_t mblk, const uint8_t *uuid,
		      struct csvfs_hb *h)
{
	int rc = od_check(raw, CSVFS_MAGIC_HB, mblk, uuid);

	if (!rc)
		od_hb_decode(raw, h);
	return rc;
}

void od_hb_slot_encode(struct csvfs_hb *h, uint64_t mblk, const uint8_t *uuid,
		       void *raw)
{
	od_hdr_init(&h->hdr, CSVFS_MAGIC_HB, mblk, uuid);
	od_hb_encode(h, raw);
	od_seal(raw);
}

/* ---- client table slot -------------------------------------------------- */

void od_client_decode(const void *raw, struct csvfs_client *c)
{
	const uint8_t *p = raw;
	unsigned i;

	od_mhdr_decode(p, &c->hdr);
	OD_DEC(32, p, c, node_id);
	OD_DEC(32, p, c, next);
	OD_DEC(64, p, c, incarnation);
	OD_DEC_BYTES(p, c, reserved);
	for (i = 0; i < CSVFS_CLIENT_RECS; i++) {
		const uint8_t *q = p + offsetof(struct csvfs_client, rec) +
				   i * sizeof(c->rec[0]);
		struct csvfs_client_rec *r = &c->rec[i];

		OD_DEC(64, q, r, seq);
		OD_DEC(16, q, r, reply_len);
		OD_DEC(16, q, r, flags);
		OD_DEC(32, q, r, type);
		OD_DEC_BYTES(q, r, reply);
	}
}

void od_client_encode(const struct csvfs_client *c, void *raw)
{
	uint8_t *p = raw;
	unsigned i;

	od_mhdr_encode(&c->hdr, p);
	OD_ENC(32, p, c, node_id);
	OD_ENC(32, p, c, next);
	OD_ENC(64, p, c, incarnation);
	OD_ENC_ZERO(p, c, reserved);
	for (i = 0; i < CSVFS_CLIENT_RECS; i++) {
		uint8_t *q = p + offsetof(struct csvfs_client, rec) +
			     i * sizeof(c->rec[0]);
		const struct csvfs_client_rec *r = &c->rec[i];

		OD_ENC(64, q, r, seq);
		OD_ENC(16, q, r, reply_len);
		OD_ENC(16, q, r, flags);
		OD_ENC(32, q, r, type);
		OD_ENC_BYTES(q, r, reply);
	}
}

/* ---- journal ------------------------------------------------------------ */

void od_jsb_decode(const void *raw, struct csvfs_jsb *j)
{
	const uint8_t *p = raw;

	od_mhdr_decode(p, &j->hdr);
	OD_DEC(64, p, j, start);
	OD_DEC(64, p, j, start_tid);
	OD_DEC_BYTES(p, j, reserved);
}

void od_jsb_encode(const struct csvfs_jsb *j, void *raw)
{
	uint8_t *p = raw;

	od_mhdr_encode(&j->hdr, p);
	OD_ENC(64, p, j, start);
	OD_ENC(64, p, j, start_tid);
	OD_ENC_ZERO(p, j, reserved);
}

void od_jdesc_decode(const void *raw, struct csvfs_jdesc *d)
{
	const uint8_t *p = raw;

	od_mhdr_decode(p, &d->hdr);
	OD_DEC(32, p, d, nblocks);
	OD_DEC(32, p, d, reserved0);
	OD_DEC(64, p, d, reserved1);
	od_dec64_array(p + offsetof(struct csvfs_jdesc, targets), d->targets,
		       CSVFS_JDESC_MAX);
}

void od_jdesc_encode(const struct csvfs_jdesc *d, void *raw)
{
	uint8_t *p = raw;

	od_mhdr_encode(&d->hdr, p);
	OD_ENC(32, p, d, nblocks);
	OD_ENC_ZERO(p, d, reserved0);
	OD_ENC_ZERO(p, d, reserved1);
	od_enc64_array(p + offsetof(struct csvfs_jdesc, targets), d->targets,
		       CSVFS_JDESC_MAX);
}

void od_jcommit_decode(const void *raw, struct csvfs_jcommit *c)
{
	const uint8_t *p = raw;

	od_mhdr_decode(p, &c->hdr);
	OD_DEC(32, p, c, nblocks);
	OD_DEC(32, p, c, data_crc);
	OD_DEC(64, p, c, commit_ns);
	OD_DEC_BYTES(p, c, reserved);
}

void od_jcommit_encode(const struct csvfs_jcommit *c, void *raw)
{
	uint8_t *p = raw;

	od_mhdr_encode(&c->hdr, p);
	OD_ENC(32, p, c, nblocks);
	OD_ENC(32, p, c, data_crc);
	OD_ENC(64, p, c, commit_ns);
	OD_ENC_ZERO(p, c, reserved);
}

/* ---- allocation bitmap and meta chunks ---------------------------------- */

void od_bitmap_decode(const void *raw, struct csvfs_bitmap *b)
{
	const uint8_t *p = raw;

	od_mhdr_decode(p, &b->hdr);
	OD_DEC_BYTES(p, b, bits);
}

void od_bitmap_encode(const struct csvfs_bitmap *b, void *raw)
{
	uint8_t *p = raw;

	od_mhdr_encode(&b->hdr, p);
	OD_ENC_BYTES(p, b, bits);
}

void od_chunk_decode(const void *raw, struct csvfs_chunk *c)
{
	const uint8_t *p = raw;

	od_mhdr_decode(p, &c->hdr);
	OD_DEC(64, p, c, blk);
	OD_DEC(64, p, c, next);
	OD_DEC(32, p, c, nmblks);
	OD_DEC(32, p, c, nused);
	OD_DEC(64, p, c, reserved0);
	OD_DEC_BYTES(p, c, used);
	OD_DEC_BYTES(p, c, dirty);
	OD_DEC_BYTES(p, c, reserved);
}

void od_chunk_encode(const struct csvfs_chunk *c, void *raw)
{
	uint8_t *p = raw;

	od_mhdr_encode(&c->hdr, p);
	OD_ENC(64, p, c, blk);
	OD_ENC(64, p, c, next);
	OD_ENC(32, p, c, nmblks);
	OD_ENC(32, p, c, nused);
	OD_ENC_ZERO(p, c, reserved0);
	OD_ENC_BYTES(p, c, used);
	OD_ENC_BYTES(p, c, dirty);
	OD_ENC_ZERO(p, c, reserved);
}

/* ---- inodes ------------------------------------------------------------- */

/* xattr[] and body[] are raw byte areas: their own codecs interpret them. */
void od_inode_decode(const void *raw, struct csvfs_inode *i)
{
	const uint8_t *p = raw;

	od_mhdr_decode(p, &i->hdr);
	OD_DEC(32, p, i, mode);
	OD_DEC(32, p, i, uid);
	OD_DEC(32, p, i, gid);
	OD_DEC(32, p, i, nlink);
	OD_DEC(64, p, i, size);
	OD_DEC(64, p, i, nblocks);
	OD_DEC(64, p, i, atime_sec);
	OD_DEC(64, p, i, mtime_sec);
	OD_DEC(64, p, i, ctime_sec);
	OD_DEC(64, p, i, btime_sec);
	OD_DEC(32, p, i, atime_nsec);
	OD_DEC(32, p, i, mtime_nsec);
	OD_DEC(32, p, i, ctime_nsec);
	OD_DEC(32, p, i, btime_nsec);
	OD_DEC(64, p, i, generation);
	OD_DEC(64, p, i, rdev);
	OD_DEC(64, p, i, parent);
	OD_DEC(32, p, i, flags);
	OD_DEC(32, p, i, nextents);
	OD_DEC(32, p, i, xattr_len);
	OD_DEC(32, p, i, own_node);
	OD_DEC(32, p, i, own_mode);
	OD_DEC(32, p, i, own_count);
	OD_DEC(64, p, i, own_epoch);
	OD_DEC(64, p, i, own_since_ns);
	OD_DEC(64, p, i, next_orphan);
	OD_DEC(64, p, i, reserve_blocks);
	OD_DEC(64, p, i, own_holders);
	OD_DEC_BYTES(p, i, reserved);
	OD_DEC_BYTES(p, i, xattr);
	OD_DEC_BYTES(p, i, body);
}

void od_inode_encode(const struct csvfs_inode *i, void *raw)
{
	uint8_t *p = raw;

	od_mhdr_encode(&i->hdr, p);
	OD_ENC(32, p, i, mode);
	OD_ENC(32, p, i, uid);
	OD_ENC(32, p, i, gid);
	OD_ENC(32, p, i, nlink);
	OD_ENC(64, p, i, size);
	OD_ENC(64, p, i, nblocks);
	OD_ENC(64, p, i, atime_sec);
	OD_ENC(64, p, i, mtime_sec);
	OD_ENC(64, p, i, ctime_sec);
	OD_ENC(64, p, i, btime_sec);
	OD_ENC(32, p, i, atime_nsec);
	OD_ENC(32, p, i, mtime_nsec);
	OD_ENC(32, p, i, ctime_nsec);
	OD_ENC(32, p, i, btime_nsec);
	OD_ENC(64, p, i, generation);
	OD_ENC(64, p, i, rdev);
	OD_ENC(64, p, i, parent);
	OD_ENC(32, p, i, flags);
	OD_ENC(32, p, i, nextents);
	OD_ENC(32, p, i, xattr_len);
	OD_ENC(32, p, i, own_node);
	OD_ENC(32, p, i, own_mode);
	OD_ENC(32, p, i, own_count);
	OD_ENC(64, p, i, own_epoch);
	OD_ENC(64, p, i, own_since_ns);
	OD_ENC(64, p, i, next_orphan);
	OD_ENC(64, p, i, reserve_blocks);
	OD_ENC(64, p, i, own_holders);
	OD_ENC_ZERO(p, i, reserved);
	OD_ENC_BYTES(p, i, xattr);
	OD_ENC_BYTES(p, i, body);
}

/* ---- extents ------------------------------------------------------------ */

/* One 24-byte extent record at raw (inode body or extent block). */
void od_extent_decode(const void *raw, struct csvfs_extent *e)
{
	const uint8_t *p = raw;

	OD_DEC(64, p, e, lblk);
	OD_DEC(64, p, e, pblk);
	OD_DEC(32, p, e, len);
	OD_DEC(32, p, e, flags);
}

void od_extent_encode(const struct csvfs_extent *e, void *raw)
{
	uint8_t *p = raw;

	OD_ENC(64, p, e, lblk);
	OD_ENC(64, p, e, pblk);
	OD_ENC(32, p, e, len);
	OD_ENC(32, p, e, flags);
}

void od_extblk_decode(const void *raw, struct csvfs_extblk *x)
{
	const uint8_t *p = raw;
	const uint8_t *ext = p + offsetof(struct csvfs_extblk, ext);

	od_mhdr_decode(p, &x->hdr);
	OD_DEC(64, p, x, ino);
	OD_DEC(32, p, x, count);
	OD_DEC(32, p, x, reserved0);
	for (size_t n = 0; n < CSVFS_EXTBLK_MAX; n++)
		od_extent_decode(ext + n * sizeof(struct csvfs_extent),
				 &x->ext[n]);
	OD_DEC_BYTES(p, x, reserved);
}

void od_extblk_encode(const struct csvfs_extblk *x, void *raw)
{
	uint8_t *p = raw;
	uint8_t *ext = p + offsetof(struct csvfs_extblk, ext);

	od_mhdr_encode(&x->hdr, p);
	OD_ENC(64, p, x, ino);
	OD_ENC(32, p, x, count);
	OD_ENC_ZERO(p, x, reserved0);
	for (size_t n = 0; n < CSVFS_EXTBLK_MAX; n++)
		od_extent_encode(&x->ext[n],
				 ext + n * sizeof(struct csvfs_extent));
	OD_ENC_ZERO(p, x, reserved);
}

/* ---- blobs (1.2) ---------------------------------------------------------- */

void od_blob_decode(const void *raw, struct csvfs_blob *b)
{
	const uint8_t *p = raw;

	od_mhdr_decode(p, &b->hdr);
	OD_DEC(64, p, b, ino);
	OD_DEC(64, p, b, next);
	OD_DEC(32, p, b, kind);
	OD_DEC(32, p, b, len);
	OD_DEC(32, p, b, seq);
	OD_DEC(32, p, b, reserved0);
	OD_DEC_BYTES(p, b, data);
}

void od_blob_encode(const struct csvfs_blob *b, void *raw)
{
	uint8_t *p = raw;

	od_mhdr_encode(&b->hdr, p);
	OD_ENC(64, p, b, ino);
	OD_ENC(64, p, b, next);
	OD_ENC(32, p, b, kind);
	OD_ENC(32, p, b, len);
	OD_ENC(32, p, b, seq);
	OD_ENC_ZERO(p, b, reserved0);
	OD_ENC_BYTES(p, b, data);
}

/* ---- directories -------------------------------------------------------- */

void od_dindex_decode(const void *raw, struct csvfs_dindex *d)
{
	const uint8_t *p = raw;

	od_mhdr_decode(p, &d->hdr);
	OD_DEC(64, p, d, ino);
	OD_DEC(32, p, d, first_slot);
	OD_DEC(32, p, d, nslots);
	od_dec64_array(p + offsetof(struct csvfs_dindex, slots), d->slots,
		       CSVFS_DINDEX_SLOTS);
}

void od_dindex_encode(const struct csvfs_dindex *d, void *raw)
{
	uint8_t *p = raw;

	od_mhdr_encode(&d->hdr, p);
	OD_ENC(64, p, d, ino);
	OD_ENC(32, p, d, first_slot);
	OD_ENC(32, p, d, nslots);
	od_enc64_array(p + offsetof(struct csvfs_dindex, slots), d->slots,
		       CSVFS_DINDEX_SLOTS);
}

/* entries[] is packed variable records, decoded by the directory code. */
void od_dbucket_decode(const void *raw, struct csvfs_dbucket *b)
{
	const uint8_t *p = raw;

	od_mhdr_decode(p, &b->hdr);
	OD_DEC(64, p, b, ino);
	OD_DEC(32, p, b, local_depth);
	OD_DEC(16, p, b, nentries);
	OD_DEC(16, p, b, used);
	OD_DEC_BYTES(p, b, entries);
}

void od_dbucket_encode(const struct csvfs_dbucket *b, void *raw)
{
	uint8_t *p = raw;

	od_mhdr_encode(&b->hdr, p);
	OD_ENC(64, p, b, ino);
	OD_ENC(32, p, b, local_depth);
	OD_ENC(16, p, b, nentries);
	OD_ENC(16, p, b, used);
	OD_ENC_BYTES(p, b, entries);
}

void od_uuid_str(const uint8_t *u, char out[OD_UUID_STR_LEN])
{
	snprintf(out, OD_UUID_STR_LEN, "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3],
		 u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}
