/*
 * ondisk_fuzz: libFuzzer target for the on-disk block parsers of
 * meta/ondisk.c: od_check against every block magic, and every
 * od_*_decode followed by its od_*_encode.
 *
 * Input: one 4 KiB metadata block (shorter inputs are zero-padded, longer
 * ones cut). For each record type:
 *   - od_check(raw, magic, the block's own mblk field, NULL) and
 *     od_check with a foreign mblk must not crash, and must reject a block
 *     whose magic is not that type's;
 *   - decode, encode, decode, encode: the two encodings must be equal
 *     (encoding is a fixed point of decoding: no field is read from bytes
 *     the encoder does not write back the same way);
 *   - (not checked: a valid block encodes back to its raw bytes only
 *     outside its reserved areas, which od_*_encode writes as zeroes by
 *     design; see the report of issue 7);
 *   - the extents in an inode body and an extent block and the entries of
 *     a directory bucket are decoded one by one.
 * Every buffer is malloc'd at its exact size so AddressSanitizer sees an
 * overrun.
 *
 * Build and run (see the report / Makefile rules):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=undefined -Iinclude -I. -D_GNU_SOURCE \
 *     tests/fuzz/ondisk_fuzz.c meta/ondisk.c -lz \
 *     -o build-fuzz/ondisk_fuzz
 *   build-fuzz/ondisk_fuzz -max_total_time=60 tests/fuzz/corpus/ondisk
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/ondisk.h"
#include "meta/ondisk.h"

#define FAIL()	__builtin_trap()
#define BS	CSVFS_MBLK_SIZE

/* decode, encode, decode, encode: the two encodings must be equal. */
#define ROUND(type, dec, enc, raw, ok)					\
	do {								\
		type *s1_ = calloc(1, sizeof(type));			\
		type *s2_ = calloc(1, sizeof(type));			\
		uint8_t *e1_ = malloc(BS), *e2_ = malloc(BS);		\
		if (!s1_ || !s2_ || !e1_ || !e2_)			\
			abort();					\
		memset(e1_, 0x5a, BS);					\
		memset(e2_, 0x5a, BS);					\
		dec(raw, s1_);						\
		enc(s1_, e1_);						\
		dec(e1_, s2_);						\
		enc(s2_, e2_);						\
		if (memcmp(e1_, e2_, BS))				\
			FAIL();						\
		(void)(ok);						\
		free(s1_);						\
		free(s2_);						\
		free(e1_);						\
		free(e2_);						\
	} while (0)

static void each_record(const uint8_t *raw, uint32_t magic, int ok)
{
	switch (magic) {
	case CSVFS_MAGIC_SUPER:
		ROUND(struct csvfs_super, od_super_decode, od_super_encode,
		      raw, ok);
		break;
	case CSVFS_MAGIC_STATE:
		ROUND(struct csvfs_vstate, od_vstate_decode, od_vstate_encode,
		      raw, ok);
		break;
	case CSVFS_MAGIC_HB:
		ROUND(struct csvfs_hb, od_hb_decode, od_hb_encode, raw, ok);
		break;
	case CSVFS_MAGIC_CLIENT:
		ROUND(struct csvfs_client, od_client_decode,
		      od_client_encode, raw, ok);
		break;
	case CSVFS_MAGIC_JSB:
		ROUND(struct csvfs_jsb, od_jsb_decode, od_jsb_encode, raw, ok);
		break;
	case CSVFS_MAGIC_JDESC:
		ROUND(struct csvfs_jdesc, od_jdesc_decode, od_jdesc_encode,
		      raw, ok);
		break;
	case CSVFS_MAGIC_JCOMMIT:
		ROUND(struct csvfs_jcommit, od_jcommit_decode,
		      od_jcommit_encode, raw, ok);
		break;
	case CSVFS_MAGIC_BITMAP:
		ROUND(struct csvfs_bitmap, od_bitmap_decode, od_bitmap_encode,
		      raw, ok);
		break;
	case CSVFS_MAGIC_CHUNK:
		ROUND(struct csvfs_chunk, od_chunk_decode, od_chunk_encode,
		      raw, ok);
		break;
	case CSVFS_MAGIC_INODE:
		ROUND(struct csvfs_inode, od_inode_decode, od_inode_encode,
		      raw, ok);
		break;
	case CSVFS_MAGIC_EXTENT:
		ROUND(struct csvfs_extblk, od_extblk_decode, od_extblk_encode,
		      raw, ok);
		break;
	case CSVFS_MAGIC_DINDEX:
		ROUND(struct csvfs_dindex, od_dindex_decode, od_dindex_encode,
		      raw, ok);
		break;
	case CSVFS_MAGIC_DBUCKET:
		ROUND(struct csvfs_dbucket, od_dbucket_decode,
		      od_dbucket_encode, raw, ok);
		break;
	}
}

static const uint32_t magics[] = {
	CSVFS_MAGIC_SUPER, CSVFS_MAGIC_STATE, CSVFS_MAGIC_HB,
	CSVFS_MAGIC_CLIENT, CSVFS_MAGIC_JSB, CSVFS_MAGIC_JDESC,
	CSVFS_MAGIC_JCOMMIT, CSVFS_MAGIC_BITMAP, CSVFS_MAGIC_CHUNK,
	CSVFS_MAGIC_INODE, CSVFS_MAGIC_EXTENT, CSVFS_MAGIC_DINDEX,
	CSVFS_MAGIC_DBUCKET,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *raw = calloc(1, BS), *sealed;
	struct csvfs_mhdr h;
	struct csvfs_extent e;
	size_t i, off;

	if (!raw)
		abort();
	memcpy(raw, data, size < BS ? size : BS);
	od_mhdr_decode(raw, &h);
	{
		/* the header alone: encoding is a fixed point too */
		uint8_t *h1 = calloc(1, BS), *h2b = calloc(1, BS);
		struct csvfs_mhdr h2;

		if (!h1 || !h2b)
			abort();
		od_mhdr_encode(&h, h1);
		od_mhdr_decode(h1, &h2);
		od_mhdr_encode(&h2, h2b);
		if (memcmp(h1, h2b, CSVFS_MHDR_SIZE))
			FAIL();
		free(h1);
		free(h2b);
	}
	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		int ok = od_check(raw, magics[i], h.mblk, NULL) == 0;

		if (ok && h.magic != magics[i])
			FAIL();
		(void)od_check(raw, magics[i], h.mblk + 1, h.uuid);
		each_record(raw, magics[i], ok);
	}
	/* the same block, resealed: reaches the checks after the crc */
	sealed = malloc(BS);
	if (!sealed)
		abort();
	memcpy(sealed, raw, BS);
	od_seal(sealed);
	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		int ok = od_check(sealed, magics[i], h.mblk, h.uuid) == 0;

		if (ok && h.magic != magics[i])
			FAIL();
		each_record(sealed, magics[i], ok);
	}
	/* raw extents at every 24-byte slot after the header */
	for (off = CSVFS_MHDR_SIZE; off + sizeof(struct csvfs_extent) <= BS;
	     off += 24) {
		uint8_t *x = malloc(24), *y = calloc(1, 24);

		if (!x || !y)
			abort();
		memcpy(x, raw + off, 24);
		od_extent_decode(x, &e);
		od_extent_encode(&e, y);
		od_extent_decode(y, &e);
		free(x);
		free(y);
	}
	free(sealed);
	free(raw);
	return 0;
}
