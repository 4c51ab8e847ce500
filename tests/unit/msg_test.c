/*
 * msg_test: the wire codec of net/msg.c. Every field type and record
 * (u8..u64, STR, BYTES, ATTR, EXT, the header) reads back what was written;
 * every truncation of a payload and every payload with bytes left over is
 * -EPROTO; a writer past CSVFS_MSG_MAX_PAYLOAD is -E2BIG; a header with a
 * wrong magic, version, length or status is refused; every type has a name.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/ondisk.h"
#include "net/msg.h"

static struct csvfs_attr sample_attr(void)
{
	struct csvfs_attr a;
	uint8_t *p = (uint8_t *)&a;

	/* every byte distinct, so a swapped or skipped field shows */
	for (size_t i = 0; i < sizeof(a); i++)
		p[i] = (uint8_t)(i * 7 + 1);
	return a;
}

/* One payload of every field type; fills w. */
static void write_all(struct msg_wr *w, const struct csvfs_attr *a,
		      const struct csvfs_wext *e)
{
	msg_wr_init(w);
	msg_put_u8(w, 0xab);
	msg_put_u16(w, 0xbeef);
	msg_put_u32(w, 0xdeadbeef);
	msg_put_u64(w, 0x0123456789abcdefull);
	msg_put_str(w, "name", 4);
	msg_put_bytes(w, "\0\1\2", 3);
	msg_put_attr(w, a);
	msg_put_ext(w, e);
}

/* Reads write_all's payload back; returns msg_rd_end. */
static int read_all(const uint8_t *p, size_t len, int check)
{
	struct msg_rd r;
	struct csvfs_attr a, want = sample_attr();
	struct csvfs_wext e;
	const uint8_t *b;
	char s[16];
	uint8_t v8;
	uint16_t v16;
	uint32_t v32, nb;
	uint64_t v64;
	size_t ns;

	msg_rd_init(&r, p, len);
	v8 = msg_get_u8(&r);
	v16 = msg_get_u16(&r);
	v32 = msg_get_u32(&r);
	v64 = msg_get_u64(&r);
	ns = msg_get_str(&r, s, sizeof(s));
	nb = msg_get_bytes(&r, &b);
	msg_get_attr(&r, &a);
	msg_get_ext(&r, &e);
	if (check) {
		CU_ASSERT_EQUAL(v8, 0xab);
		CU_ASSERT_EQUAL(v16, 0xbeef);
		CU_ASSERT_EQUAL(v32, 0xdeadbeef);
		CU_ASSERT_EQUAL(v64, 0x0123456789abcdefull);
		CU_ASSERT_EQUAL(ns, 4);
		CU_ASSERT_STRING_EQUAL(s, "name");
		CU_ASSERT_EQUAL(nb, 3);
		CU_ASSERT(b && !memcmp(b, "\0\1\2", 3));
		CU_ASSERT_EQUAL(memcmp(&a, &want, sizeof(a)), 0);
		CU_ASSERT_EQUAL(e.lblk, 11);
		CU_ASSERT_EQUAL(e.pblk, 22);
		CU_ASSERT_EQUAL(e.len, 33);
		CU_ASSERT_EQUAL(e.flags, CSVFS_EXT_UNWRITTEN);
	}
	return msg_rd_end(&r);
}

static const struct csvfs_wext sample_ext = { 11, 22, 33, CSVFS_EXT_UNWRITTEN };

static void test_every_field_reads_back_what_was_written(void)
{
	struct csvfs_attr a = sample_attr();
	struct msg_wr w;

	write_all(&w, &a, &sample_ext);
	CU_ASSERT_EQUAL_FATAL(w.err, 0);
	/* 1+2+4+8 + 2+4 + 4+3 + 136 (ATTR) + 24 (EXT) */
	CU_ASSERT_EQUAL(w.len, 15 + 6 + 7 + 136 + 24);
	CU_ASSERT_EQUAL(read_all(w.p, w.len, 1), 0);
	msg_wr_free(&w);
}

static void test_fields_are_little_endian(void)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u32(&w, 0x04030201);
	msg_put_u16(&w, 0x0605);
	CU_ASSERT_EQUAL_FATAL(w.len, 6);
	CU_ASSERT_EQUAL(memcmp(w.p, "\1\2\3\4\5\6", 6), 0);
	msg_wr_free(&w);
}

static void test_every_truncation_is_eproto(void)
{
	struct csvfs_attr a = sample_attr();
	struct msg_wr w;
	size_t n;

	write_all(&w, &a, &sample_ext);
	CU_ASSERT_EQUAL_FATAL(w.err, 0);
	for (n = 0; n < w.len; n++)
		if (read_all(w.p, n, 0) != -EPROTO) {
			CU_FAIL("a truncated payload was accepted");
			break;
		}
	msg_wr_free(&w);
}

static void test_bytes_left_over_is_eproto(void)
{
	struct csvfs_attr a = sample_attr();
	struct msg_wr w;

	write_all(&w, &a, &sample_ext);
	msg_put_u8(&w, 0);
	CU_ASSERT_EQUAL_FATAL(w.err, 0);
	CU_ASSERT_EQUAL(read_all(w.p, w.len, 1), -EPROTO);
	msg_wr_free(&w);
}

static void test_a_string_longer_than_the_buffer_is_eproto(void)
{
	struct msg_wr w;
	struct msg_rd r;
	char s[4];

	msg_wr_init(&w);
	msg_put_str(&w, "abcd", 4);	/* needs 5 with the NUL */
	msg_rd_init(&r, w.p, w.len);
	CU_ASSERT_EQUAL(msg_get_str(&r, s, sizeof(s)), 0);
	CU_ASSERT_STRING_EQUAL(s, "");
	CU_ASSERT_EQUAL(msg_rd_end(&r), -EPROTO);
	msg_wr_free(&w);
}

static void test_a_string_holding_a_nul_is_eproto(void)
{
	struct msg_wr w;
	struct msg_rd r;
	char s[16];

	msg_wr_init(&w);
	msg_put_str(&w, "a\0b", 3);
	msg_rd_init(&r, w.p, w.len);
	msg_get_str(&r, s, sizeof(s));
	CU_ASSERT_EQUAL(msg_rd_end(&r), -EPROTO);
	msg_wr_free(&w);
}

static void test_a_bytes_length_past_the_payload_is_eproto(void)
{
	uint8_t p[8] = { 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4 };
	const uint8_t *b = (const uint8_t *)"x";
	struct msg_rd r;

	msg_rd_init(&r, p, sizeof(p));
	CU_ASSERT_EQUAL(msg_get_bytes(&r, &b), 0);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT_EQUAL(msg_rd_end(&r), -EPROTO);
}

static void test_errors_are_sticky(void)
{
	uint8_t p[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	struct msg_rd r;

	msg_rd_init(&r, p, 2);
	CU_ASSERT_EQUAL(msg_get_u32(&r), 0);	/* short */
	CU_ASSERT_EQUAL(msg_get_u8(&r), 0);	/* would fit, but sticky */
	CU_ASSERT_EQUAL(msg_rd_end(&r), -EPROTO);
	msg_rd_init(&r, NULL, 12);		/* NULL payload is empty */
	CU_ASSERT_EQUAL(msg_rd_end(&r), 0);
	CU_ASSERT_EQUAL(msg_get_u8(&r), 0);
	CU_ASSERT_EQUAL(msg_rd_end(&r), -EPROTO);
}

static void test_a_payload_past_the_maximum_is_e2big(void)
{
	struct msg_wr w;
	uint8_t *big = calloc(1, CSVFS_MSG_MAX_PAYLOAD);

	CU_ASSERT_FATAL(big != NULL);
	msg_wr_init(&w);
	msg_put_bytes(&w, big, CSVFS_MSG_MAX_PAYLOAD);	/* + 4 length */
	CU_ASSERT_EQUAL(w.err, -E2BIG);
	msg_wr_free(&w);
	msg_wr_init(&w);
	msg_put_raw(&w, big, CSVFS_MSG_MAX_PAYLOAD);
	CU_ASSERT_EQUAL(w.err, 0);
	msg_put_u8(&w, 1);
	CU_ASSERT_EQUAL(w.err, -E2BIG);
	msg_put_u8(&w, 1);			/* sticky */
	CU_ASSERT_EQUAL(w.err, -E2BIG);
	CU_ASSERT_EQUAL(w.len, CSVFS_MSG_MAX_PAYLOAD);
	msg_wr_free(&w);
	msg_wr_init(&w);
	msg_put_str(&w, (const char *)big, (size_t)UINT16_MAX + 1);
	CU_ASSERT_EQUAL(w.err, -E2BIG);
	msg_wr_free(&w);
	free(big);
}

static struct csvfs_msg_hdr sample_hdr(void)
{
	struct csvfs_msg_hdr h = {
		.magic = CSVFS_MSG_MAGIC, .version = CSVFS_PROTO_VERSION,
		.type = CSVFS_MSG_CREATE, .length = 1234, .flags = 5,
		.req_id = 0x1111222233334444ull, .epoch = 77, .node_id = 3,
		.status = -ENOENT, .incarnation = 99, .seq = 0x55ull << 40,
		.reserved = 0,
	};
	return h;
}

static void test_header_round_trips_at_its_offsets(void)
{
	struct csvfs_msg_hdr h = sample_hdr(), o;
	uint8_t raw[CSVFS_MSG_HDR_SIZE];

	msg_hdr_encode(&h, raw);
	CU_ASSERT_EQUAL(msg_hdr_decode(raw, &o), 0);
	CU_ASSERT_EQUAL(memcmp(&h, &o, sizeof(h)), 0);
	CU_ASSERT_EQUAL(raw[0x06], CSVFS_MSG_CREATE);
	CU_ASSERT_EQUAL(raw[0x20], 3);
}

static void test_a_bad_header_is_eproto(void)
{
	struct csvfs_msg_hdr h, o;
	uint8_t raw[CSVFS_MSG_HDR_SIZE];

	h = sample_hdr();
	h.magic ^= 1;
	msg_hdr_encode(&h, raw);
	CU_ASSERT_EQUAL(msg_hdr_decode(raw, &o), -EPROTO);
	h = sample_hdr();
	h.version++;
	msg_hdr_encode(&h, raw);
	CU_ASSERT_EQUAL(msg_hdr_decode(raw, &o), -EPROTO);
	h = sample_hdr();
	h.length = CSVFS_MSG_MAX_PAYLOAD + 1;
	msg_hdr_encode(&h, raw);
	CU_ASSERT_EQUAL(msg_hdr_decode(raw, &o), -EPROTO);
	h.length = CSVFS_MSG_MAX_PAYLOAD;
	msg_hdr_encode(&h, raw);
	CU_ASSERT_EQUAL(msg_hdr_decode(raw, &o), 0);
	h = sample_hdr();
	h.status = 1;
	msg_hdr_encode(&h, raw);
	CU_ASSERT_EQUAL(msg_hdr_decode(raw, &o), -EPROTO);
	h.status = -4096;
	msg_hdr_encode(&h, raw);
	CU_ASSERT_EQUAL(msg_hdr_decode(raw, &o), -EPROTO);
	h.status = -4095;
	msg_hdr_encode(&h, raw);
	CU_ASSERT_EQUAL(msg_hdr_decode(raw, &o), 0);
}

static void test_every_type_has_a_name(void)
{
	unsigned t;

	for (t = CSVFS_MSG_HELLO; t < CSVFS_MSG_TYPE_MAX; t++) {
		/* unused numbers (proto.h): 37..39, 43..49, 56..59 */
		if ((t >= 37 && t <= 39) || (t >= 43 && t <= 49) ||
		    (t >= 56 && t <= 59))
			continue;
		if (!strcmp(msg_type_name(t), "unknown")) {
			printf("\n    type %u has no name", t);
			CU_FAIL("a message type without a name");
		}
	}
	CU_ASSERT_STRING_EQUAL(msg_type_name(CSVFS_MSG_LOOKUP), "lookup");
	CU_ASSERT_STRING_EQUAL(msg_type_name(0), "unknown");
	CU_ASSERT_STRING_EQUAL(msg_type_name(38), "unknown");
	CU_ASSERT_STRING_EQUAL(msg_type_name(CSVFS_MSG_TYPE_MAX), "unknown");
	CU_ASSERT_STRING_EQUAL(msg_type_name(~0u), "unknown");
}

int main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("msg", NULL, NULL);
	CU_add_test(s, "every field reads back what was written",
		    test_every_field_reads_back_what_was_written);
	CU_add_test(s, "fields are little-endian",
		    test_fields_are_little_endian);
	CU_add_test(s, "every truncation is -EPROTO",
		    test_every_truncation_is_eproto);
	CU_add_test(s, "bytes left over are -EPROTO",
		    test_bytes_left_over_is_eproto);
	CU_add_test(s, "a string longer than the buffer is -EPROTO",
		    test_a_string_longer_than_the_buffer_is_eproto);
	CU_add_test(s, "a string holding a NUL is -EPROTO",
		    test_a_string_holding_a_nul_is_eproto);
	CU_add_test(s, "a BYTES length past the payload is -EPROTO",
		    test_a_bytes_length_past_the_payload_is_eproto);
	CU_add_test(s, "reader errors are sticky", test_errors_are_sticky);
	CU_add_test(s, "a payload past the maximum is -E2BIG",
		    test_a_payload_past_the_maximum_is_e2big);
	CU_add_test(s, "the header round-trips at its offsets",
		    test_header_round_trips_at_its_offsets);
	CU_add_test(s, "a bad header is -EPROTO", test_a_bad_header_is_eproto);
	CU_add_test(s, "every type has a name", test_every_type_has_a_name);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
		CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
