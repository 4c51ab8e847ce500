/*
 * own_test: fs/own.c, the node's side of the ownership protocol, against
 * a stub coordinator transport: the write gate lets writes through until
 * revoked, then asks the coordinator and opens again only for a
 * multi-writer file or one this node writes (running the restore hook
 * once); a recall runs on its own thread; the answer is one RECALL_DONE
 * carrying the outcome as -errno; and the RECALL payload codec
 * (net/msg.c) round-trips and refuses a short payload.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/le.h"
#include "csvfs/ondisk.h"
#include "fs/own.h"
#include "net/mdc.h"
#include "net/msg.h"

static struct mdc *mdc;
static struct csvfs_attr owner;	/* what GETATTR answers */
static unsigned ncalls;
static uint16_t last_type;
static uint8_t last_payload[64];

static int stub_call(void *ctx, struct csvfs_msg_hdr *hdr,
		     const void *payload, uint8_t **reply, size_t *reply_len)
{
	struct msg_wr w;

	(void)ctx;
	ncalls++;
	last_type = hdr->type;
	memcpy(last_payload, payload,
	       hdr->length < sizeof(last_payload) ? hdr->length :
						    sizeof(last_payload));
	msg_wr_init(&w);
	if (hdr->type == CSVFS_MSG_GETATTR)
		msg_put_attr(&w, &owner);
	*reply = w.p;
	*reply_len = w.len;
	return 0;
}

static int suite_init(void)
{
	struct mdc_transport t = { stub_call, NULL };

	return mdc_new(&t, 2, 77, &mdc) ? -1 : 0;
}

static int suite_clean(void)
{
	mdc_free(mdc);
	return 0;
}

static unsigned restored;
static void on_restored(void *arg, const struct csvfs_attr *a)
{
	(void)arg;
	CU_ASSERT_EQUAL(a->size, owner.size);
	restored++;
}

static void test_gate_opens_again_only_for_the_owner(void)
{
	struct own_gate g;

	own_gate_init(&g);
	ncalls = 0;
	/* Not revoked: no question to the coordinator. */
	CU_ASSERT_EQUAL(own_gate_enter(&g, mdc, 5, 2, on_restored, NULL), 0);
	own_gate_leave(&g);
	CU_ASSERT_EQUAL(ncalls, 0);
	own_gate_revoke(&g);
	/* Written by node 3 now: refused, still revoked. */
	memset(&owner, 0, sizeof(owner));
	owner.ino = 5;
	owner.own_mode = CSVFS_OWN_WRITER;
	owner.own_node = 3;
	CU_ASSERT_EQUAL(own_gate_enter(&g, mdc, 5, 2, on_restored, NULL),
			-EIO);
	CU_ASSERT_EQUAL(last_type, CSVFS_MSG_GETATTR);
	CU_ASSERT_EQUAL(own_gate_enter(&g, mdc, 5, 2, on_restored, NULL),
			-EIO);
	CU_ASSERT_EQUAL(restored, 0);
	/* Handed back to node 2: open, restore hook once. */
	owner.own_node = 2;
	owner.size = 12345;
	CU_ASSERT_EQUAL(own_gate_enter(&g, mdc, 5, 2, on_restored, NULL), 0);
	own_gate_leave(&g);
	CU_ASSERT_EQUAL(restored, 1);
	ncalls = 0;
	CU_ASSERT_EQUAL(own_gate_enter(&g, mdc, 5, 2, on_restored, NULL), 0);
	own_gate_leave(&g);
	CU_ASSERT_EQUAL(ncalls, 0);
	/* Multi-writer: anyone, whoever the recorded owner. */
	own_gate_revoke(&g);
	owner.own_node = 9;
	owner.flags = CSVFS_IFL_MULTIWRITER;
	CU_ASSERT_EQUAL(own_gate_enter(&g, mdc, 5, 2, NULL, NULL), 0);
	own_gate_leave(&g);
	own_gate_destroy(&g);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static uint64_t recalled;
static pthread_t recall_thread;

static void recall_fn(void *ctx, uint64_t ino)
{
	CU_ASSERT_PTR_EQUAL(ctx, &recalled);
	pthread_mutex_lock(&mu);
	recalled = ino;
	recall_thread = pthread_self();
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void test_recall_runs_on_its_own_thread(void)
{
	pthread_mutex_lock(&mu);
	recalled = 0;
	CU_ASSERT_EQUAL(own_recall_spawn(recall_fn, &recalled, 4242), 0);
	while (!recalled)
		pthread_cond_wait(&cv, &mu);
	CU_ASSERT_EQUAL(recalled, 4242);
	CU_ASSERT(!pthread_equal(recall_thread, pthread_self()));
	pthread_mutex_unlock(&mu);
}

static void test_answer_is_one_recall_done_with_the_outcome(void)
{
	ncalls = 0;
	own_recall_answer(mdc, 88, 0);
	CU_ASSERT_EQUAL(ncalls, 1);
	CU_ASSERT_EQUAL(last_type, CSVFS_MSG_RECALL_DONE);
	CU_ASSERT_EQUAL(le_get64(last_payload), 88);
	CU_ASSERT_EQUAL(le_get32(last_payload + 8), 0);
	own_recall_answer(mdc, 89, -ENOSPC);
	CU_ASSERT_EQUAL(ncalls, 2);
	CU_ASSERT_EQUAL(le_get64(last_payload), 89);
	CU_ASSERT_EQUAL((int32_t)le_get32(last_payload + 8), -ENOSPC);
}

static void test_recall_codec(void)
{
	uint8_t p[MSG_RECALL_LEN + 4];
	uint64_t ino = 0;
	uint32_t to = 0;

	msg_recall_encode(0x1122334455667788ull, 7, p);
	CU_ASSERT_EQUAL(le_get64(p), 0x1122334455667788ull);
	CU_ASSERT_EQUAL(le_get32(p + 8), 7);
	CU_ASSERT_EQUAL(msg_recall_decode(p, MSG_RECALL_LEN, &ino, &to), 0);
	CU_ASSERT_EQUAL(ino, 0x1122334455667788ull);
	CU_ASSERT_EQUAL(to, 7);
	/* a newer coordinator may append fields */
	CU_ASSERT_EQUAL(msg_recall_decode(p, sizeof(p), &ino, &to), 0);
	CU_ASSERT_EQUAL(msg_recall_decode(p, MSG_RECALL_LEN - 1, &ino, &to),
			-EPROTO);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("own", suite_init, suite_clean);
	CU_add_test(s, "gate opens again only for the owner",
		    test_gate_opens_again_only_for_the_owner);
	CU_add_test(s, "recall runs on its own thread",
		    test_recall_runs_on_its_own_thread);
	CU_add_test(s, "answer is one RECALL_DONE with the outcome",
		    test_answer_is_one_recall_done_with_the_outcome);
	CU_add_test(s, "RECALL payload codec", test_recall_codec);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
