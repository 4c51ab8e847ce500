/*
 * proto_test: the request lists of include/csvfs/proto.h against the
 * coordinator. CSVFS_MSG_MUTATING_MASK (what meta/mds/mds.c resyncs and
 * invalidates after) and CSVFS_MSG_RECORDED_MASK (what a retry is answered
 * from the record for) must agree: every metadata change is recorded, OPEN
 * is the one recorded request that changes no metadata, and every listed
 * type has a coordinator handler. Then a retried SET_RESERVE, run on a
 * real coordinator, is answered from its record instead of undoing a later
 * change.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvfs/le.h"
#include "csvfs/proto.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "meta/mds/mds.h"
#include "net/mdc.h"
#include "tests/unit/testmds.h"

#define MB	(1ull << 20)

/* ---- the two lists --------------------------------------------------- */

static void test_every_metadata_change_is_recorded(void)
{
	unsigned t;

	for (t = 0; t < CSVFS_MSG_TYPE_MAX; t++)
		if (csvfs_msg_mutating(t) && !csvfs_msg_recorded(t))
			CU_FAIL("a metadata change is not recorded for retries");
	CU_ASSERT((CSVFS_MSG_MUTATING_MASK & ~CSVFS_MSG_RECORDED_MASK) == 0);
}

static void test_open_is_the_only_recorded_request_changing_no_metadata(void)
{
	CU_ASSERT_EQUAL(CSVFS_MSG_RECORDED_MASK & ~CSVFS_MSG_MUTATING_MASK,
			CSVFS_MSG_BIT(CSVFS_MSG_OPEN));
}

static void test_space_requests_are_metadata_changes(void)
{
	CU_ASSERT(csvfs_msg_mutating(CSVFS_MSG_SET_RESERVE));
	CU_ASSERT(csvfs_msg_mutating(CSVFS_MSG_PREALLOC));
	CU_ASSERT(csvfs_msg_recorded(CSVFS_MSG_SET_RESERVE));
	CU_ASSERT(csvfs_msg_recorded(CSVFS_MSG_PREALLOC));
}

static void test_every_listed_type_has_a_coordinator_handler(void)
{
	unsigned t;

	for (t = 0; t < 64; t++) {
		if (!csvfs_msg_recorded(t))
			continue;
		CU_ASSERT(t < CSVFS_MSG_TYPE_MAX);
		if (!mds_handles(t)) {
			printf("\n    type %u is recorded but not handled", t);
			CU_FAIL("recorded type without a handler");
		}
	}
}

static void test_reads_pushes_and_acks_are_not_recorded(void)
{
	static const unsigned never[] = {
		CSVFS_MSG_HELLO, CSVFS_MSG_LOOKUP, CSVFS_MSG_GETATTR,
		CSVFS_MSG_READDIR, CSVFS_MSG_GETXATTR, CSVFS_MSG_FSYNC,
		CSVFS_MSG_RECALL, CSVFS_MSG_INVAL, CSVFS_MSG_INVAL_ACK,
	};
	size_t i;

	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		CU_ASSERT(!csvfs_msg_recorded(never[i]));
		CU_ASSERT(!csvfs_msg_mutating(never[i]));
	}
	CU_ASSERT(!csvfs_msg_recorded(CSVFS_MSG_TYPE_MAX + 64));
}

/* ---- a retry on a running coordinator --------------------------------- */

static int format_img(void)
{
	return testmds_format("proto_test", 1ull << 30);
}

/* SET_RESERVE of bytes on ino sent straight to the coordinator as seq. */
static int raw_set_reserve(uint64_t ino, uint64_t bytes, uint64_t seq)
{
	struct csvfs_msg_hdr h;
	uint8_t p[16], *reply = NULL;
	size_t len = 0;
	int rc;

	le_put64(p, ino);
	le_put64(p + 8, bytes);
	memset(&h, 0, sizeof(h));
	h.magic = CSVFS_MSG_MAGIC;
	h.version = CSVFS_PROTO_VERSION;
	h.type = CSVFS_MSG_SET_RESERVE;
	h.length = sizeof(p);
	h.node_id = 1;
	h.incarnation = incarnation;	/* the mdc's, as a resend */
	h.req_id = seq;
	h.seq = seq;
	h.epoch = vi.epoch;
	rc = mds_dispatch(mds, &h, p, &reply, &len);
	free(reply);
	return rc;
}

static void test_retried_set_reserve_does_not_undo_a_later_change(void)
{
	const uint64_t seq = 1ull << 40;	/* far from the mdc's own */
	struct csvfs_attr a;
	uint64_t ino;

	CU_ASSERT_FATAL(format_img() == 0);
	start();
	CU_ASSERT_FATAL(mdc_mknod(mdc, vi.root_ino, "vm", S_IFREG | 0644, 0,
				  0, 0, &a) == 0);
	ino = a.ino;
	CU_ASSERT(raw_set_reserve(ino, 8 * MB, seq) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT(a.reserve_bytes >= 8 * MB);
	/* a later change, then the first request again (its reply was lost) */
	CU_ASSERT(mdc_set_reserve(mdc, ino, 0, &a) == 0);
	CU_ASSERT(raw_set_reserve(ino, 8 * MB, seq) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT_EQUAL(a.reserve_bytes, 0);
	/* a new request (new seq) still runs */
	CU_ASSERT(raw_set_reserve(ino, 8 * MB, seq + 1) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT(a.reserve_bytes >= 8 * MB);
	stop();
	unlink(img);
}

int main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("request lists", NULL, NULL);
	CU_add_test(s, "every metadata change is recorded",
		    test_every_metadata_change_is_recorded);
	CU_add_test(s, "OPEN is the only recorded request changing no metadata",
		    test_open_is_the_only_recorded_request_changing_no_metadata);
	CU_add_test(s, "SET_RESERVE and PREALLOC change metadata",
		    test_space_requests_are_metadata_changes);
	CU_add_test(s, "every listed type has a coordinator handler",
		    test_every_listed_type_has_a_coordinator_handler);
	CU_add_test(s, "reads, pushes and acks are not recorded",
		    test_reads_pushes_and_acks_are_not_recorded);
	s = CU_add_suite("retries", NULL, NULL);
	CU_add_test(s, "a retried SET_RESERVE does not undo a later change",
		    test_retried_set_reserve_does_not_undo_a_later_change);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
		CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
