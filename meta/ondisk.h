/*
 * ondisk: checksums and the encode/decode pair of every on-disk record of
 * include/csvfs/ondisk.h. Raw blocks are checked (magic, own block number,
 * volume UUID, checksum) before they are decoded; decode converts each
 * little-endian field into the CPU struct, encode writes each field back.
 * Nothing else in csvfs interprets raw metadata bytes.
 */
#ifndef CSVFS_META_ONDISK_H
#define CSVFS_META_ONDISK_H

#include <stdint.h>
#include "csvfs/le.h"
#include "csvfs/ondisk.h"

/* CRC-32 (zlib) of the 4 KiB block with its checksum field taken as zero. */
uint32_t od_block_crc(const void *raw);
/* Computes and stores the checksum of an encoded block. */
void od_seal(void *raw);
/*
 * Checks a raw block read from mblk, in this order: magic, checksum (on the
 * raw bytes, before anything is decoded), format major version, stored
 * block number, volume UUID (skipped if uuid is NULL).
 * Returns 0, -CSVFS_EBADMAGIC, -CSVFS_EBADBLK, -CSVFS_EFOREIGN,
 * -CSVFS_EVERSION or -CSVFS_EBADCRC.
 */
int od_check(const void *raw, uint32_t magic, uint64_t mblk,
	     const uint8_t *uuid);
/* Fills a header for a block about to be encoded (checksum left 0). */
void od_hdr_init(struct csvfs_mhdr *h, uint32_t magic, uint64_t mblk,
		 const uint8_t *uuid);

void od_mhdr_decode(const void *raw, struct csvfs_mhdr *h);
void od_mhdr_encode(const struct csvfs_mhdr *h, void *raw);

void od_super_decode(const void *raw, struct csvfs_super *s);
void od_super_encode(const struct csvfs_super *s, void *raw);
void od_vstate_decode(const void *raw, struct csvfs_vstate *s);
void od_vstate_encode(const struct csvfs_vstate *s, void *raw);
void od_hb_decode(const void *raw, struct csvfs_hb *h);
void od_hb_encode(const struct csvfs_hb *h, void *raw);
/*
 * The heartbeat slot at mblk as its writer (lockd/hb.c), mkfs and fsck all
 * read and write it: decode checks the raw block (od_check, uuid may be
 * NULL) and decodes it, returning od_check's result; encode sets h's
 * header for mblk and uuid, encodes and seals.
 */
int od_hb_slot_decode(const void *raw, uint64_t mblk, const uint8_t *uuid,
		      struct csvfs_hb *h);
void od_hb_slot_encode(struct csvfs_hb *h, uint64_t mblk, const uint8_t *uuid,
		       void *raw);
void od_client_decode(const void *raw, struct csvfs_client *c);
void od_client_encode(const struct csvfs_client *c, void *raw);
void od_jsb_decode(const void *raw, struct csvfs_jsb *j);
void od_jsb_encode(const struct csvfs_jsb *j, void *raw);
void od_jdesc_decode(const void *raw, struct csvfs_jdesc *d);
void od_jdesc_encode(const struct csvfs_jdesc *d, void *raw);
void od_jcommit_decode(const void *raw, struct csvfs_jcommit *c);
void od_jcommit_encode(const struct csvfs_jcommit *c, void *raw);
void od_bitmap_decode(const void *raw, struct csvfs_bitmap *b);
void od_bitmap_encode(const struct csvfs_bitmap *b, void *raw);
void od_chunk_decode(const void *raw, struct csvfs_chunk *c);
void od_chunk_encode(const struct csvfs_chunk *c, void *raw);
void od_inode_decode(const void *raw, struct csvfs_inode *i);
void od_inode_encode(const struct csvfs_inode *i, void *raw);
void od_extent_decode(const void *raw, struct csvfs_extent *e);
void od_extent_encode(const struct csvfs_extent *e, void *raw);
void od_extblk_decode(const void *raw, struct csvfs_extblk *x);
void od_extblk_encode(const struct csvfs_extblk *x, void *raw);
void od_blob_decode(const void *raw, struct csvfs_blob *b);
void od_blob_encode(const struct csvfs_blob *b, void *raw);
void od_dindex_decode(const void *raw, struct csvfs_dindex *d);
void od_dindex_encode(const struct csvfs_dindex *d, void *raw);
void od_dbucket_decode(const void *raw, struct csvfs_dbucket *b);
void od_dbucket_encode(const struct csvfs_dbucket *b, void *raw);

/* The volume UUID as text (36 characters and a NUL). */
#define OD_UUID_STR_LEN 37
void od_uuid_str(const uint8_t *uuid, char out[OD_UUID_STR_LEN]);

/*
 * Little-endian helpers for packed variable records (dir entries, xattrs):
 * meta/'s names for include/csvfs/le.h, which the layers below use.
 */
static inline uint16_t od_get16(const uint8_t *p) { return le_get16(p); }
static inline uint32_t od_get32(const uint8_t *p) { return le_get32(p); }
static inline uint64_t od_get64(const uint8_t *p) { return le_get64(p); }
static inline void od_put16(uint8_t *p, uint16_t v) { le_put16(p, v); }
static inline void od_put32(uint8_t *p, uint32_t v) { le_put32(p, v); }
static inline void od_put64(uint8_t *p, uint64_t v) { le_put64(p, v); }

#endif /* CSVFS_META_ONDISK_H */
