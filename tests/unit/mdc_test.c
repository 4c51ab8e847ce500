/*
 * mdc_test: net/mdc.c against a stub transport that keeps the request it
 * was handed and answers with a canned reply. A request carries its type,
 * node, incarnation and the payload proto.h lists; each sends a new seq;
 * a reply is decoded (ATTR, ATTR + extents); a reply short by any number
 * of bytes, with bytes left over, or with more extents than asked for is
 * -EPROTO; the coordinator's status is returned as is.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/proto.h"
#include "net/mdc.h"
#include "net/msg.h"

/* ---- stub transport ---------------------------------------------------- */

static struct {
	struct csvfs_msg_hdr hdr;	/* last request */
	uint8_t req[4096];
	size_t req_len;
	uint8_t reply[4096];		/* next reply */
	size_t reply_len;
	int status;
} stub;

static int stub_call(void *ctx, struct csvfs_msg_hdr *hdr,
		     const void *payload, uint8_t **reply, size_t *reply_len)
{
	(void)ctx;
	stub.hdr = *hdr;
	stub.req_len = hdr->length < sizeof(stub.req) ? hdr->length : 0;
	memcpy(stub.req, payload, stub.req_len);
	*reply = NULL;
	*reply_len = 0;
	if (stub.status)
		return stub.status;
	*reply = malloc(stub.reply_len ? stub.reply_len : 1);
	if (!*reply)
		return -ENOMEM;
	memcpy(*reply, stub.reply, stub.reply_len);
	*reply_len = stub.reply_len;
	return 0;
}

static struct mdc *mdc;

static int suite_init(void)
{
	struct mdc_transport t = { stub_call, NULL };

	return mdc_new(&t, 7, 4242, &mdc) ? -1 : 0;
}

static int suite_clean(void)
{
	mdc_free(mdc);
	return 0;
}

static struct csvfs_attr sample_attr(uint64_t ino)
{
	struct csvfs_attr a;

	memset(&a, 0, sizeof(a));
	a.ino = ino;
	a.mode = 0100644;
	a.size = 77;
	a.nlink = 1;
	return a;
}

/* The next reply: w's bytes. */
static void reply_with(struct msg_wr *w)
{
	CU_ASSERT_FATAL(w->err == 0 && w->len <= sizeof(stub.reply));
	memcpy(stub.reply, w->p, w->len);
	stub.reply_len = w->len;
	stub.status = 0;
	msg_wr_free(w);
}

static void reply_attr(uint64_t ino)
{
	struct csvfs_attr a = sample_attr(ino);
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_attr(&w, &a);
	reply_with(&w);
}

/* ---- tests --------------------------------------------------------------- */

static void test_create_sends_its_payload_and_decodes_the_attr(void)
{
	struct csvfs_attr a;
	struct msg_rd r;
	char name[16];

	reply_attr(1234);
	CU_ASSERT_EQUAL(mdc_create(mdc, 5, "f", 0100600, 10, 20,
				   CSVFS_OPEN_WRITE, &a), 0);
	CU_ASSERT_EQUAL(a.ino, 1234);
	CU_ASSERT_EQUAL(a.size, 77);
	CU_ASSERT_EQUAL(stub.hdr.type, CSVFS_MSG_CREATE);
	CU_ASSERT_EQUAL(stub.hdr.magic, CSVFS_MSG_MAGIC);
	CU_ASSERT_EQUAL(stub.hdr.node_id, 7);
	CU_ASSERT_EQUAL(stub.hdr.incarnation, 4242);
	CU_ASSERT(stub.hdr.seq != 0);
	CU_ASSERT_EQUAL(stub.hdr.length, stub.req_len);
	/* as proto.h: parent, name, mode, rdev, uid, gid, open flags */
	msg_rd_init(&r, stub.req, stub.req_len);
	CU_ASSERT_EQUAL(msg_get_u64(&r), 5);
	CU_ASSERT_EQUAL(msg_get_str(&r, name, sizeof(name)), 1);
	CU_ASSERT_STRING_EQUAL(name, "f");
	CU_ASSERT_EQUAL(msg_get_u32(&r), 0100600);
	CU_ASSERT_EQUAL(msg_get_u64(&r), 0);
	CU_ASSERT_EQUAL(msg_get_u32(&r), 10);
	CU_ASSERT_EQUAL(msg_get_u32(&r), 20);
	CU_ASSERT_EQUAL(msg_get_u32(&r), CSVFS_OPEN_WRITE);
	CU_ASSERT_EQUAL(msg_rd_end(&r), 0);
}

static void test_every_request_has_a_new_seq(void)
{
	struct csvfs_attr a;
	uint64_t s1, s2;

	reply_attr(1);
	CU_ASSERT_EQUAL(mdc_getattr(mdc, 1, &a), 0);
	s1 = stub.hdr.seq;
	reply_attr(1);
	CU_ASSERT_EQUAL(mdc_getattr(mdc, 1, &a), 0);
	s2 = stub.hdr.seq;
	CU_ASSERT(s2 > s1);
	CU_ASSERT_EQUAL(stub.hdr.type, CSVFS_MSG_GETATTR);
}

static void test_every_short_reply_is_eproto(void)
{
	struct csvfs_attr a = sample_attr(9);
	struct msg_wr w;
	size_t full, n;

	msg_wr_init(&w);
	msg_put_attr(&w, &a);
	full = w.len;
	reply_with(&w);
	for (n = 0; n < full; n++) {
		stub.reply_len = n;
		if (mdc_getattr(mdc, 9, &a) != -EPROTO) {
			CU_FAIL("a short ATTR reply was accepted");
			break;
		}
	}
}

static void test_a_reply_with_bytes_left_over_is_eproto(void)
{
	struct csvfs_attr a = sample_attr(9);
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_attr(&w, &a);
	msg_put_u32(&w, 0);
	reply_with(&w);
	CU_ASSERT_EQUAL(mdc_getattr(mdc, 9, &a), -EPROTO);
}

static void test_the_coordinator_status_is_returned_as_is(void)
{
	struct csvfs_attr a;

	stub.status = -ENOENT;
	CU_ASSERT_EQUAL(mdc_lookup(mdc, 1, "nope", &a), -ENOENT);
	CU_ASSERT_EQUAL(stub.hdr.type, CSVFS_MSG_LOOKUP);
	stub.status = -ESTALE;
	CU_ASSERT_EQUAL(mdc_getattr(mdc, 1, &a), -ESTALE);
	stub.status = 0;
}

static void test_alloc_decodes_extents_and_refuses_more_than_asked(void)
{
	struct csvfs_attr a = sample_attr(3);
	struct csvfs_wext e[2] = { { 0, 100, 4, 0 }, { 4, 200, 4, 1 } }, got[2];
	struct msg_wr w;
	uint32_t n = 99;

	msg_wr_init(&w);
	msg_put_attr(&w, &a);
	msg_put_u32(&w, 2);
	msg_put_ext(&w, &e[0]);
	msg_put_ext(&w, &e[1]);
	reply_with(&w);
	CU_ASSERT_EQUAL(mdc_alloc(mdc, 3, 0, 8, CSVFS_ALLOC_AHEAD, &a, got, 2,
				  &n), 0);
	CU_ASSERT_EQUAL(stub.hdr.type, CSVFS_MSG_ALLOC);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(got[1].pblk, 200);
	CU_ASSERT_EQUAL(got[1].flags, 1);
	/* the same reply to a call that can take only one extent */
	CU_ASSERT_EQUAL(mdc_alloc(mdc, 3, 0, 8, 0, &a, got, 1, &n), -EPROTO);
}

int main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("mdc", suite_init, suite_clean);
	CU_add_test(s, "create sends its payload and decodes the attr",
		    test_create_sends_its_payload_and_decodes_the_attr);
	CU_add_test(s, "every request has a new seq",
		    test_every_request_has_a_new_seq);
	CU_add_test(s, "every short reply is -EPROTO",
		    test_every_short_reply_is_eproto);
	CU_add_test(s, "a reply with bytes left over is -EPROTO",
		    test_a_reply_with_bytes_left_over_is_eproto);
	CU_add_test(s, "the coordinator's status is returned as is",
		    test_the_coordinator_status_is_returned_as_is);
	CU_add_test(s, "alloc decodes extents, refuses more than asked",
		    test_alloc_decodes_extents_and_refuses_more_than_asked);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
		CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
