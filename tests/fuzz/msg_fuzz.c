/*
 * msg_fuzz: libFuzzer target for the wire decoders — the frame header
 * (msg_hdr_decode), every request layout of include/csvfs/proto.h, and
 * every reply decoder of net/mdc.c.
 *
 * Input: a 64-byte header followed by a payload, as on the wire.
 *   - The header goes through msg_hdr_decode; when it decodes, encoding it
 *     again must give the same 64 bytes.
 *   - A request (flags 0) of a known type: the payload is walked with the
 *     msg_get_* readers in the order the coordinator reads it (the same
 *     fields as the coordinator's files in meta/mds/); when it decodes
 *     exactly, re-encoding the fields with msg_put_* must give the
 *     payload back.
 *   - A reply (CSVFS_MSGF_REPLY): the mdc call of that type runs through a
 *     fake transport that returns the payload and the header's status, so
 *     its reply decoder meets hostile bytes exactly as from the network.
 *   - A header that does not decode: the whole input is the reply payload
 *     of every mdc call in turn.
 * Buffers handed to decoders are malloc'd at their exact size so that
 * AddressSanitizer sees any overrun.
 *
 * Build and run (see the report / Makefile rules):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=undefined -Iinclude -I. -D_GNU_SOURCE \
 *     tests/fuzz/msg_fuzz.c net/msg.c net/mdc.c meta/ondisk.c \
 *     -lz -lpthread -o build-fuzz/msg_fuzz
 *   build-fuzz/msg_fuzz -max_total_time=60 tests/fuzz/corpus/msg
 *
 * Seeds: compiled with -DMSG_FUZZ_WRITE_SEEDS (no -fsanitize=fuzzer) this
 * file is a program that writes the seed corpus into the directory named
 * by its argument.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/ondisk.h"
#include "net/mdc.h"
#include "net/msg.h"

#define FAIL()	__builtin_trap()

/* ---- requests: the coordinator's reading order ------------------------ */

/*
 * One letter per field: c u8, w u16, l u32, q u64, s STR, b BYTES,
 * A ATTR, R "le32 n, n x {le64, le64}" (WRITE_DONE ranges).
 */
static const char *const req_layout[CSVFS_MSG_TYPE_MAX] = {
	[CSVFS_MSG_HELLO] = "lqs",
	[CSVFS_MSG_LOOKUP] = "qs",
	[CSVFS_MSG_GETATTR] = "q",
	[CSVFS_MSG_SETATTR] = "qllllqqlql",
	[CSVFS_MSG_MKNOD] = "qslqll",
	[CSVFS_MSG_CREATE] = "qslqlll",
	[CSVFS_MSG_TMPFILE] = "qllll",
	[CSVFS_MSG_MKDIR] = "qslll",	/* no rdev (mdc_mkdir, h_create) */
	[CSVFS_MSG_SYMLINK] = "qssll",
	[CSVFS_MSG_UNLINK] = "qs",
	[CSVFS_MSG_RMDIR] = "qs",
	[CSVFS_MSG_RENAME] = "qsqsl",
	[CSVFS_MSG_LINK] = "qqs",
	[CSVFS_MSG_READLINK] = "q",
	[CSVFS_MSG_READDIR] = "qqlll",
	[CSVFS_MSG_STATFS] = "",
	[CSVFS_MSG_OPEN] = "ql",
	[CSVFS_MSG_RELEASE] = "ql",
	[CSVFS_MSG_GET_EXTENTS] = "qqql",
	[CSVFS_MSG_ALLOC] = "qqqll",
	[CSVFS_MSG_WRITE_DONE] = "qqlqlR",
	[CSVFS_MSG_FALLOCATE] = "qlqq",
	[CSVFS_MSG_INLINE_READ] = "qql",
	[CSVFS_MSG_INLINE_WRITE] = "qqb",
	[CSVFS_MSG_GETXATTR] = "qs",
	[CSVFS_MSG_SETXATTR] = "qsbl",
	[CSVFS_MSG_LISTXATTR] = "q",
	[CSVFS_MSG_REMOVEXATTR] = "qs",
	[CSVFS_MSG_FSYNC] = "q",
	[CSVFS_MSG_LSEEK] = "qql",
	[CSVFS_MSG_FORGET] = "q",
	[CSVFS_MSG_HANDOFF] = "qll",
	[CSVFS_MSG_RECALL] = "ql",
	[CSVFS_MSG_RECALL_DONE] = "ql",
	[CSVFS_MSG_SET_IFLAGS] = "qll",
	/* LOCK = "llqllqq" (struct csvfs_wlock) */
	[CSVFS_MSG_LOCK_SET] = "qllqllqqlq",
	[CSVFS_MSG_LOCK_GET] = "qllqllqq",
	[CSVFS_MSG_LOCK_WAKE] = "q",
	[CSVFS_MSG_LOCK_CANCEL] = "qq",
	[CSVFS_MSG_LOCK_RECLAIM_DONE] = "",
	[CSVFS_MSG_LOCK_LIST] = "q",
};

#ifndef MSG_FUZZ_WRITE_SEEDS

/* Longest STR the coordinator accepts (a symlink target). */
#define STR_MAX	4096

static void walk_request(uint16_t type, const uint8_t *payload, size_t len)
{
	static char str[STR_MAX + 2];
	const char *f = type < CSVFS_MSG_TYPE_MAX ? req_layout[type] : NULL;
	struct csvfs_attr a;
	struct msg_rd r;
	struct msg_wr w;
	const uint8_t *p;
	uint32_t n, i;
	size_t sl;

	if (!f)
		return;		/* unknown type: answered EOPNOTSUPP */
	msg_rd_init(&r, payload, len);
	msg_wr_init(&w);
	for (; *f; f++) {
		switch (*f) {
		case 'c':
			msg_put_u8(&w, msg_get_u8(&r));
			break;
		case 'w':
			msg_put_u16(&w, msg_get_u16(&r));
			break;
		case 'l':
			msg_put_u32(&w, msg_get_u32(&r));
			break;
		case 'q':
			msg_put_u64(&w, msg_get_u64(&r));
			break;
		case 's':
			sl = msg_get_str(&r, str, sizeof(str));
			if (!r.err && strlen(str) != sl)
				FAIL();
			msg_put_str(&w, str, sl);
			break;
		case 'b':
			n = msg_get_bytes(&r, &p);
			if (!r.err && (p < payload || p + n > payload + len))
				FAIL();
			msg_put_bytes(&w, r.err ? NULL : p, r.err ? 0 : n);
			break;
		case 'A':
			msg_get_attr(&r, &a);
			msg_put_attr(&w, &a);
			break;
		case 'R':
			n = msg_get_u32(&r);
			/* as mds_h_write_done: bound n before the loop */
			if (r.err || n > (r.len - r.off) / 16)
				goto out;
			msg_put_u32(&w, n);
			for (i = 0; i < n; i++) {
				msg_put_u64(&w, msg_get_u64(&r));
				msg_put_u64(&w, msg_get_u64(&r));
			}
			break;
		}
	}
	if (r.off > r.len)
		FAIL();
	/* Decoded exactly: the encoder must give the same bytes back. */
	if (msg_rd_end(&r) == 0 &&
	    (w.err || w.len != len || (len && memcmp(w.p, payload, len))))
		FAIL();
out:
	msg_wr_free(&w);
}

/* ---- replies: every mdc decoder through a fake transport --------------- */

static const uint8_t *fake_reply;
static size_t fake_len;
static int fake_status;

static int fake_call(void *ctx, struct csvfs_msg_hdr *hdr, const void *payload,
		     uint8_t **reply, size_t *reply_len)
{
	struct msg_rd r;

	(void)ctx;
	/* The request mdc built must itself be well formed. */
	if (hdr->magic != CSVFS_MSG_MAGIC || hdr->length > CSVFS_MSG_MAX_PAYLOAD)
		FAIL();
	if (hdr->length && !payload)
		FAIL();
	msg_rd_init(&r, payload, hdr->length);
	*reply = NULL;
	*reply_len = 0;
	if (fake_len) {
		*reply = malloc(fake_len);
		if (!*reply)
			return -ENOMEM;
		memcpy(*reply, fake_reply, fake_len);
		*reply_len = fake_len;
	}
	return fake_status;
}

static struct mdc *mdc;

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

/* Runs the mdc call(s) of one type; the decoders read fake_reply. */
static void run_reply(uint16_t type)
{
	static const struct mdc_range ranges[2] = { { 0, 4 }, { 9, 1 } };
	struct mdc_setattr sa = { .valid = CSVFS_SA_MODE, .mode = 0644 };
	struct mdc_volinfo vi;
	struct mdc_statfs sf;
	struct mdc_dirent *ents;
	struct csvfs_wext *ext;
	struct csvfs_attr *a = xmalloc(sizeof(*a));
	struct csvfs_wlock wl = { .owner = 5, .type = 2, .end = 99 }, wl2,
			   *wls;
	uint32_t n = 0;
	uint64_t off;
	char *buf;
	int eof = 0, rc;

	switch (type) {
	case CSVFS_MSG_HELLO:
		mdc_hello(mdc, "fuzz", &vi);
		break;
	case CSVFS_MSG_LOCK_SET:
		mdc_lock_set(mdc, 2, &wl, CSVFS_LK_WAIT, 9);
		break;
	case CSVFS_MSG_LOCK_GET:
		mdc_lock_get(mdc, 2, &wl, &eof, &wl2);
		break;
	case CSVFS_MSG_LOCK_CANCEL:
		mdc_lock_cancel(mdc, 2, 9);
		break;
	case CSVFS_MSG_LOCK_RECLAIM_DONE:
		mdc_lock_reclaim_done(mdc);
		break;
	case CSVFS_MSG_LOCK_LIST:
		wls = xmalloc(4 * sizeof(*wls));
		rc = mdc_lock_list(mdc, 2, wls, 4, &n);
		free(wls);
		break;
	case CSVFS_MSG_LOOKUP:
		mdc_lookup(mdc, 1, "name", a);
		break;
	case CSVFS_MSG_GETATTR:
		mdc_getattr(mdc, 1, a);
		break;
	case CSVFS_MSG_SETATTR:
		mdc_setattr(mdc, 1, &sa, a);
		break;
	case CSVFS_MSG_MKNOD:
		mdc_mknod(mdc, 1, "f", 0100644, 0, 0, 0, a);
		break;
	case CSVFS_MSG_CREATE:
		mdc_create(mdc, 1, "f", 0100644, 0, 0, CSVFS_OPEN_WRITE, a);
		break;
	case CSVFS_MSG_TMPFILE:
		mdc_tmpfile(mdc, 1, 0600, 0, 0, CSVFS_OPEN_WRITE, a);
		break;
	case CSVFS_MSG_MKDIR:
		mdc_mkdir(mdc, 1, "d", 040755, 0, 0, a);
		break;
	case CSVFS_MSG_SYMLINK:
		mdc_symlink(mdc, 1, "l", "target", 0, 0, a);
		break;
	case CSVFS_MSG_UNLINK:
		mdc_unlink(mdc, 1, "f");
		break;
	case CSVFS_MSG_RMDIR:
		mdc_rmdir(mdc, 1, "d");
		break;
	case CSVFS_MSG_RENAME:
		mdc_rename(mdc, 1, "a", 1, "b", 0);
		break;
	case CSVFS_MSG_LINK:
		mdc_link(mdc, 2, 1, "h", a);
		break;
	case CSVFS_MSG_READLINK:
		buf = xmalloc(256);
		rc = mdc_readlink(mdc, 2, buf, 256);
		if (rc == 0 && !memchr(buf, 0, 256))
			FAIL();
		free(buf);
		buf = xmalloc(8);
		rc = mdc_readlink(mdc, 2, buf, 8);
		if (rc == 0 && !memchr(buf, 0, 8))
			FAIL();
		free(buf);
		break;
	case CSVFS_MSG_READDIR:
		ents = xmalloc(8 * sizeof(*ents));
		rc = mdc_readdir(mdc, 1, 0, 0, ents, 8, &n, &eof);
		if (rc == 0 && n > 8)
			FAIL();
		rc = mdc_readdir(mdc, 1, 0, 1, ents, 8, &n, &eof);
		if (rc == 0 && n > 8)
			FAIL();
		free(ents);
		break;
	case CSVFS_MSG_STATFS:
		mdc_statfs(mdc, &sf);
		break;
	case CSVFS_MSG_OPEN:
		mdc_open(mdc, 2, CSVFS_OPEN_WRITE, a);
		break;
	case CSVFS_MSG_RELEASE:
		mdc_release(mdc, 2, 0);
		break;
	case CSVFS_MSG_GET_EXTENTS:
		ext = xmalloc(16 * sizeof(*ext));
		rc = mdc_get_extents(mdc, 2, 0, 100, ext, 16, &n);
		if (rc == 0 && n > 16)
			FAIL();
		free(ext);
		break;
	case CSVFS_MSG_ALLOC:
		ext = xmalloc(16 * sizeof(*ext));
		rc = mdc_alloc(mdc, 2, 0, 4, CSVFS_ALLOC_AHEAD, a, ext, 16,
			       &n);
		if (rc == 0 && n > 16)
			FAIL();
		free(ext);
		break;
	case CSVFS_MSG_WRITE_DONE:
		mdc_write_done(mdc, 2, 4096, 1, 1, 2, ranges, 2, a);
		break;
	case CSVFS_MSG_FALLOCATE:
		mdc_fallocate(mdc, 2, 0, 0, 1 << 20, a);
		break;
	case CSVFS_MSG_INLINE_READ:
		buf = xmalloc(64);
		rc = mdc_inline_read(mdc, 2, 0, buf, 64);
		if (rc > 64)
			FAIL();
		free(buf);
		break;
	case CSVFS_MSG_INLINE_WRITE:
		mdc_inline_write(mdc, 2, 0, "data", 4, a);
		break;
	case CSVFS_MSG_GETXATTR:
		mdc_getxattr(mdc, 2, "user.x", NULL, 0);
		buf = xmalloc(16);
		rc = mdc_getxattr(mdc, 2, "user.x", buf, 16);
		if (rc > 16)
			FAIL();
		free(buf);
		break;
	case CSVFS_MSG_SETXATTR:
		mdc_setxattr(mdc, 2, "user.x", "v", 1, 0);
		break;
	case CSVFS_MSG_LISTXATTR:
		mdc_listxattr(mdc, 2, NULL, 0);
		buf = xmalloc(16);
		rc = mdc_listxattr(mdc, 2, buf, 16);
		if (rc > 16)
			FAIL();
		free(buf);
		break;
	case CSVFS_MSG_REMOVEXATTR:
		mdc_removexattr(mdc, 2, "user.x");
		break;
	case CSVFS_MSG_FSYNC:
		mdc_fsync(mdc, 0);
		break;
	case CSVFS_MSG_HANDOFF:
		mdc_handoff(mdc, 2, 1, 2, a);
		break;
	case CSVFS_MSG_RECALL_DONE:
		mdc_recall_done(mdc, 2, 0);
		break;
	case CSVFS_MSG_SET_IFLAGS:
		mdc_set_iflags(mdc, 2, CSVFS_IFL_MULTIWRITER, 0, a);
		break;
	case CSVFS_MSG_LSEEK:
		mdc_lseek(mdc, 2, 0, 3 /* SEEK_DATA */, &off);
		break;
	case CSVFS_MSG_FORGET:
		mdc_forget(mdc, 2);
		break;
	}
	free(a);
}

/*
 * The election's CPG messages (fs/elect.c): the whole input as one; when
 * it decodes, encoding it again gives the same payload and header fields.
 */
static void run_elect(const uint8_t *data, size_t size)
{
	struct msg_elect *e = xmalloc(sizeof(*e));
	uint8_t *copy = xmalloc(size);
	struct msg_wr w;

	memcpy(copy, data, size);
	if (!msg_elect_decode(copy, size, e)) {
		msg_wr_init(&w);
		if (msg_elect_encode(e, &w) || w.len != size ||
		    memcmp(w.p + CSVFS_MSG_HDR_SIZE, copy + CSVFS_MSG_HDR_SIZE,
			   size - CSVFS_MSG_HDR_SIZE) ||
		    memcmp(w.p, copy, 0x10))	/* magic..flags */
			FAIL();
		msg_wr_free(&w);
	}
	free(copy);
	free(e);
}

/*
 * A RECALL push as the node decodes it (msg_recall_decode): what decodes
 * re-encodes to the same first MSG_RECALL_LEN bytes.
 */
static void run_recall(uint16_t type, const uint8_t *payload, size_t len)
{
	uint8_t again[MSG_RECALL_LEN];
	uint64_t ino;
	uint32_t to;

	if (type != CSVFS_MSG_RECALL ||
	    msg_recall_decode(payload, len, &ino, &to))
		return;
	msg_recall_encode(ino, to, again);
	if (memcmp(again, payload, sizeof(again)))
		FAIL();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t raw[CSVFS_MSG_HDR_SIZE], again[CSVFS_MSG_HDR_SIZE];
	struct csvfs_msg_hdr h;
	uint8_t *payload;
	size_t plen;
	unsigned t;

	if (!mdc) {
		struct mdc_transport tr = { .call = fake_call };

		if (mdc_new(&tr, 3, 42, &mdc))
			abort();
	}
	run_elect(data, size);
	if (size >= CSVFS_MSG_HDR_SIZE) {
		memcpy(raw, data, sizeof(raw));
		if (msg_hdr_decode(raw, &h) == 0) {
			msg_hdr_encode(&h, again);
			if (memcmp(raw, again, sizeof(raw)))
				FAIL();
			/* The receiver reads exactly h.length bytes. */
			plen = size - CSVFS_MSG_HDR_SIZE;
			if (h.length > plen)
				return 0;
			plen = h.length;
			payload = xmalloc(plen);
			memcpy(payload, data + CSVFS_MSG_HDR_SIZE, plen);
			if (h.flags & CSVFS_MSGF_REPLY) {
				fake_reply = payload;
				fake_len = plen;
				fake_status = h.status;
				run_reply(h.type);
			} else {
				walk_request(h.type, payload, plen);
				run_recall(h.type, payload, plen);
			}
			free(payload);
			return 0;
		}
	}
	/* Not a frame: the whole input as every reply. */
	payload = xmalloc(size);
	memcpy(payload, data, size);
	fake_reply = payload;
	fake_len = size;
	fake_status = 0;
	for (t = 1; t < CSVFS_MSG_TYPE_MAX; t++)
		run_reply((uint16_t)t);
	free(payload);
	return 0;
}

#else /* MSG_FUZZ_WRITE_SEEDS: write the seed corpus */

#include <sys/stat.h>

static const char *seed_dir;
static int seed_no;

static void seed(uint16_t type, uint32_t flags, int32_t status,
		 const struct msg_wr *w, const char *what)
{
	struct csvfs_msg_hdr h = {
		.magic = CSVFS_MSG_MAGIC, .version = CSVFS_PROTO_VERSION,
		.type = type, .length = (uint32_t)w->len, .flags = flags,
		.req_id = 7, .epoch = 3, .node_id = 2, .status = status,
		.incarnation = 0x1122334455667788ull, .seq = 7,
	};
	uint8_t raw[CSVFS_MSG_HDR_SIZE];
	char path[512];
	FILE *f;

	msg_hdr_encode(&h, raw);
	snprintf(path, sizeof(path), "%s/seed-%03d-%s-%s", seed_dir,
		 seed_no++, flags & CSVFS_MSGF_REPLY ? "reply" : "req", what);
	f = fopen(path, "wb");
	if (!f || fwrite(raw, 1, sizeof(raw), f) != sizeof(raw) ||
	    (w->len && fwrite(w->p, 1, w->len, f) != w->len) || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void put_layout(struct msg_wr *w, const char *f)
{
	static const struct csvfs_attr a = {
		.ino = 2, .generation = 1, .mode = 0100644, .nlink = 1,
		.size = 4096, .blksize = 1 << 20,
	};

	for (; *f; f++) {
		switch (*f) {
		case 'c': msg_put_u8(w, 1); break;
		case 'w': msg_put_u16(w, 2); break;
		case 'l': msg_put_u32(w, 3); break;
		case 'q': msg_put_u64(w, 4); break;
		case 's': msg_put_str(w, "name", 4); break;
		case 'b': msg_put_bytes(w, "value", 5); break;
		case 'A': msg_put_attr(w, &a); break;
		case 'R':
			msg_put_u32(w, 2);
			msg_put_u64(w, 0); msg_put_u64(w, 4);
			msg_put_u64(w, 9); msg_put_u64(w, 1);
			break;
		}
	}
}

/* Reply layouts (proto.h "←"). */
static const char *const reply_layout[CSVFS_MSG_TYPE_MAX] = {
	[CSVFS_MSG_LOOKUP] = "A", [CSVFS_MSG_GETATTR] = "A",
	[CSVFS_MSG_SETATTR] = "A", [CSVFS_MSG_MKNOD] = "A",
	[CSVFS_MSG_MKDIR] = "A", [CSVFS_MSG_SYMLINK] = "A",
	[CSVFS_MSG_UNLINK] = "", [CSVFS_MSG_RMDIR] = "",
	[CSVFS_MSG_RENAME] = "", [CSVFS_MSG_LINK] = "A",
	[CSVFS_MSG_READLINK] = "s", [CSVFS_MSG_STATFS] = "lqqqqqqq",
	[CSVFS_MSG_OPEN] = "A", [CSVFS_MSG_RELEASE] = "",
	[CSVFS_MSG_WRITE_DONE] = "A", [CSVFS_MSG_FALLOCATE] = "A",
	[CSVFS_MSG_INLINE_READ] = "b", [CSVFS_MSG_INLINE_WRITE] = "A",
	[CSVFS_MSG_GETXATTR] = "b", [CSVFS_MSG_SETXATTR] = "",
	[CSVFS_MSG_LISTXATTR] = "b", [CSVFS_MSG_REMOVEXATTR] = "",
	[CSVFS_MSG_FSYNC] = "", [CSVFS_MSG_LSEEK] = "q",
	[CSVFS_MSG_FORGET] = "",
	[CSVFS_MSG_HANDOFF] = "A", [CSVFS_MSG_RECALL_DONE] = "",
	[CSVFS_MSG_SET_IFLAGS] = "A", [CSVFS_MSG_CREATE] = "A",
	[CSVFS_MSG_TMPFILE] = "A",
	[CSVFS_MSG_LOCK_SET] = "", [CSVFS_MSG_LOCK_GET] = "lllqllqq",
	[CSVFS_MSG_LOCK_CANCEL] = "", [CSVFS_MSG_LOCK_RECLAIM_DONE] = "",
	[CSVFS_MSG_LOCK_LIST] = "lllqllqq",	/* n = 3: short, rejected */
};

static void put_ext(struct msg_wr *w, uint64_t lblk, uint32_t len)
{
	struct csvfs_wext e = { .lblk = lblk, .pblk = 100 + lblk,
				.len = len };

	msg_put_ext(w, &e);
}

int main(int argc, char **argv)
{
	static const struct csvfs_attr a = { .ino = 5, .mode = 040755 };
	struct msg_wr w;
	unsigned t;
	int i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	seed_dir = argv[1];
	mkdir(seed_dir, 0755);
	for (t = 1; t < CSVFS_MSG_TYPE_MAX; t++) {
		if (!req_layout[t])
			continue;	/* unused number */
		msg_wr_init(&w);
		put_layout(&w, req_layout[t]);
		seed((uint16_t)t, 0, 0, &w, msg_type_name(t));
		msg_wr_free(&w);
		if (reply_layout[t]) {
			msg_wr_init(&w);
			put_layout(&w, reply_layout[t]);
			seed((uint16_t)t, CSVFS_MSGF_REPLY, 0, &w,
			     msg_type_name(t));
			msg_wr_free(&w);
		}
	}
	/* Replies with structure of their own. */
	msg_wr_init(&w);
	msg_put_u64(&w, 1);
	msg_put_u32(&w, 20);
	msg_put_u64(&w, 9);
	msg_put_raw(&w, "0123456789abcdef", 16);
	seed(CSVFS_MSG_HELLO, CSVFS_MSGF_REPLY, 0, &w, "hello");
	msg_wr_free(&w);
	for (i = 0; i < 2; i++) {	/* readdir, readdirplus */
		msg_wr_init(&w);
		msg_put_u32(&w, 2);
		msg_put_u32(&w, 1);
		msg_put_u64(&w, 5);
		msg_put_u64(&w, 1);
		msg_put_u8(&w, 4);
		msg_put_str(&w, "dir", 3);
		if (i)
			msg_put_attr(&w, &a);
		msg_put_u64(&w, 6);
		msg_put_u64(&w, 2);
		msg_put_u8(&w, 8);
		msg_put_str(&w, "file", 4);
		if (i)
			msg_put_attr(&w, &a);
		seed(CSVFS_MSG_READDIR, CSVFS_MSGF_REPLY, 0, &w,
		     i ? "readdirplus" : "readdir");
		msg_wr_free(&w);
	}
	msg_wr_init(&w);
	msg_put_u32(&w, 3);
	put_ext(&w, 0, 4);
	put_ext(&w, 4, 1);
	put_ext(&w, 8, 16);
	seed(CSVFS_MSG_GET_EXTENTS, CSVFS_MSGF_REPLY, 0, &w, "get_extents");
	msg_wr_free(&w);
	msg_wr_init(&w);
	msg_put_attr(&w, &a);
	msg_put_u32(&w, 1);
	put_ext(&w, 0, 4);
	seed(CSVFS_MSG_ALLOC, CSVFS_MSGF_REPLY, 0, &w, "alloc");
	msg_wr_free(&w);
	/* An error reply, a push, an unknown type, hostile lengths. */
	msg_wr_init(&w);
	seed(CSVFS_MSG_LOOKUP, CSVFS_MSGF_REPLY, -ENOENT, &w, "enoent");
	put_layout(&w, "qs");
	seed(CSVFS_MSG_GETATTR, CSVFS_MSGF_PUSH, 0, &w, "push");
	seed(200, 0, 0, &w, "unknown-type");
	msg_wr_free(&w);
	msg_wr_init(&w);
	msg_put_u32(&w, 0xffffffffu);	/* WRITE_DONE n far too large */
	seed(CSVFS_MSG_WRITE_DONE, 0, 0, &w, "ranges-overflow");
	msg_wr_free(&w);
	msg_wr_init(&w);
	msg_put_u32(&w, 1000000);	/* readdir count over max */
	msg_put_u32(&w, 0);
	seed(CSVFS_MSG_READDIR, CSVFS_MSGF_REPLY, 0, &w, "readdir-count");
	msg_wr_free(&w);
	msg_wr_init(&w);
	msg_put_u16(&w, 0xffff);	/* STR longer than the payload */
	seed(CSVFS_MSG_READLINK, CSVFS_MSGF_REPLY, 0, &w, "str-overrun");
	msg_wr_free(&w);
	return 0;
}

#endif /* MSG_FUZZ_WRITE_SEEDS */
