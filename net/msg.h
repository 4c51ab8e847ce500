/*
 * msg: encoding and decoding of the wire protocol (include/csvfs/proto.h).
 * A writer appends little-endian fields to a growing buffer; a reader takes
 * them from a received payload, checking every length against what is
 * left. Errors are sticky: after the first short read or bad string every
 * further get returns zero and msg_rd_end reports -EPROTO, so decoders read
 * all fields and check once.
 */
#ifndef CSVFS_MSG_H
#define CSVFS_MSG_H

#include <stddef.h>
#include <stdint.h>
#include "csvfs/proto.h"

struct msg_wr {
	uint8_t *p;
	size_t len, cap;
	int err;		/* -ENOMEM or -E2BIG, sticky */
};

struct msg_rd {
	const uint8_t *p;
	size_t len, off;
	int err;		/* -EPROTO, sticky */
};

void msg_wr_init(struct msg_wr *w);
void msg_wr_free(struct msg_wr *w);
void msg_put_u8(struct msg_wr *w, uint8_t v);
void msg_put_u16(struct msg_wr *w, uint16_t v);
void msg_put_u32(struct msg_wr *w, uint32_t v);
void msg_put_u64(struct msg_wr *w, uint64_t v);
void msg_put_raw(struct msg_wr *w, const void *p, size_t n);
/* STR: le16 length + bytes. */
void msg_put_str(struct msg_wr *w, const char *s, size_t n);
/* BYTES: le32 length + bytes. */
void msg_put_bytes(struct msg_wr *w, const void *p, size_t n);
void msg_put_attr(struct msg_wr *w, const struct csvfs_attr *a);
void msg_put_ext(struct msg_wr *w, const struct csvfs_wext *e);
void msg_put_lock(struct msg_wr *w, const struct csvfs_wlock *l);

void msg_rd_init(struct msg_rd *r, const void *p, size_t len);
uint8_t msg_get_u8(struct msg_rd *r);
uint16_t msg_get_u16(struct msg_rd *r);
uint32_t msg_get_u32(struct msg_rd *r);
uint64_t msg_get_u64(struct msg_rd *r);
/*
 * STR into out (size max incl. NUL): fails if longer than max-1 or if it
 * holds a NUL byte. Returns the length.
 */
size_t msg_get_str(struct msg_rd *r, char *out, size_t max);
/* BYTES: points *p into the payload; returns the length. */
uint32_t msg_get_bytes(struct msg_rd *r, const uint8_t **p);
void msg_get_attr(struct msg_rd *r, struct csvfs_attr *a);
void msg_get_ext(struct msg_rd *r, struct csvfs_wext *e);
void msg_get_lock(struct msg_rd *r, struct csvfs_wlock *l);
/* 0 if everything was read without error and nothing is left over. */
int msg_rd_end(struct msg_rd *r);

/* Header: 64 raw bytes <-> struct. decode checks magic, version, length. */
void msg_hdr_encode(const struct csvfs_msg_hdr *h, uint8_t *raw);
int msg_hdr_decode(const uint8_t *raw, struct csvfs_msg_hdr *h);
/*
 * An election message (CSVFS_MSG_ELECT_*, fs/elect.c) decoded: the header
 * fields that matter and the payload of any of the types; fields a type
 * does not carry are 0.
 */
struct msg_elect_member {
	uint32_t node;
	uint32_t pid;
};

struct msg_elect {
	uint16_t type;			/* CSVFS_MSG_ELECT_* */
	uint32_t from;			/* header node_id */
	uint64_t epoch;			/* header epoch */
	uint32_t round;			/* VIEW (STATE, ANNOUNCE) */
	uint32_t n;
	struct msg_elect_member m[CSVFS_ELECT_MAX_MEMBERS];
	uint32_t flags;			/* STATE */
	uint32_t preferred;		/* STATE */
	uint32_t port;			/* ANNOUNCE */
	uint32_t node;			/* MOVE, DEPOSE */
	uint32_t pid;			/* DEPOSE */
};

/*
 * Encodes e (header + payload) into w, which must be empty. Returns 0,
 * -EINVAL (unknown type, n out of range) or w's error.
 */
int msg_elect_encode(const struct msg_elect *e, struct msg_wr *w);
/*
 * Decodes a whole election message of len bytes. Returns 0 or -EPROTO
 * (bad header, not an election type, a malformed or trailing payload,
 * a VIEW that is empty, too long or not sorted).
 */
int msg_elect_decode(const void *buf, size_t len, struct msg_elect *e);

/*
 * RECALL (a push: le64 ino, le32 to -- the node the file goes to). The
 * decoder takes a payload of len bytes and returns 0 or -EPROTO (short);
 * bytes after the fields are ignored, as a newer coordinator may append.
 */
#define MSG_RECALL_LEN	12
void msg_recall_encode(uint64_t ino, uint32_t to, uint8_t p[MSG_RECALL_LEN]);
int msg_recall_decode(const uint8_t *p, size_t len, uint64_t *ino,
		      uint32_t *to);

/* The type's name for logs ("lookup"), "unknown" if none. */
const char *msg_type_name(unsigned type);

#endif /* CSVFS_MSG_H */
