/*
 * plock_test: the application lock rules of lockd/plock.c — conflicts,
 * split and merge of one owner's ranges, F_GETLK reporting, flock and
 * POSIX kept apart, waiters and the per-inode table.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lockd/plock.h"

static struct plock L(uint32_t node, uint64_t owner, uint32_t type,
		      uint64_t start, uint64_t end)
{
	struct plock l;

	memset(&l, 0, sizeof(l));
	l.node = node;
	l.owner = owner;
	l.pid = 100 + (uint32_t)owner;
	l.type = type;
	l.cls = PLOCK_POSIX;
	l.start = start;
	l.end = end;
	return l;
}

static struct plock F(uint32_t node, uint64_t owner, uint32_t type)
{
	struct plock l = L(node, owner, type, 0, PLOCK_EOF);

	l.cls = PLOCK_FLOCK;
	return l;
}

static void setl(struct plock_file *f, struct plock l)
{
	CU_ASSERT_EQUAL(plock_test(f, &l, NULL), 0);
	CU_ASSERT_EQUAL(plock_apply(f, &l), 0);
}

/* The owner's ranges, sorted by start, as "s-e:t " text. */
static const char *ranges(const struct plock_file *f, uint32_t node,
			  uint64_t owner)
{
	static char buf[512];
	uint64_t last = 0;
	int first = 1;
	size_t len = 0;

	buf[0] = '\0';
	for (;;) {
		const struct plock_ent *e, *best = NULL;

		for (e = f->locks; e; e = e->next)
			if (e->l.node == node && e->l.owner == owner &&
			    (first || e->l.start > last) &&
			    (!best || e->l.start < best->l.start))
				best = e;
		if (!best)
			break;
		first = 0;
		last = best->l.start;
		if (best->l.end == PLOCK_EOF)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
						"%llu-eof:%c ",
						(unsigned long long)best->l.start,
						best->l.type == PLOCK_RD ? 'r' : 'w');
		else
			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
						"%llu-%llu:%c ",
						(unsigned long long)best->l.start,
						(unsigned long long)best->l.end,
						best->l.type == PLOCK_RD ? 'r' : 'w');
	}
	return buf;
}

static void free_file(struct plock_file *f)
{
	plock_drop(f, 1, 1, 0, 0);
	plock_drop(f, 2, 1, 0, 0);
	plock_drop(f, 3, 1, 0, 0);
	CU_ASSERT_PTR_NULL(f->locks);
	CU_ASSERT_PTR_NULL(f->waits);
}

static void test_check_rejects_bad_requests(void)
{
	struct plock l = L(1, 1, PLOCK_WR, 10, 5);

	CU_ASSERT_EQUAL(plock_check(&l), -EINVAL);
	l = L(1, 1, 3, 0, 5);
	CU_ASSERT_EQUAL(plock_check(&l), -EINVAL);
	l = L(1, 1, PLOCK_RD, 0, 5);
	l.cls = 2;
	CU_ASSERT_EQUAL(plock_check(&l), -EINVAL);
	l = F(1, 1, PLOCK_WR);
	CU_ASSERT_EQUAL(plock_check(&l), 0);
	l.start = 1;
	CU_ASSERT_EQUAL(plock_check(&l), -EINVAL);
	l = L(1, 1, PLOCK_UN, 7, 7);
	CU_ASSERT_EQUAL(plock_check(&l), 0);
}

static void test_write_conflicts_read_shares(void)
{
	struct plock_file f = { .ino = 5 };
	struct plock h, r;

	setl(&f, L(1, 1, PLOCK_RD, 0, 99));
	/* another owner may read the same bytes */
	setl(&f, L(2, 7, PLOCK_RD, 50, 149));
	/* but not write them: F_GETLK names the first holder */
	r = L(2, 8, PLOCK_WR, 90, 95);
	CU_ASSERT_EQUAL(plock_test(&f, &r, &h), 1);
	CU_ASSERT_EQUAL(h.node, 1);
	CU_ASSERT_EQUAL(h.owner, 1);
	CU_ASSERT_EQUAL(h.pid, 101);
	CU_ASSERT_EQUAL(h.type, PLOCK_RD);
	CU_ASSERT_EQUAL(h.start, 0);
	CU_ASSERT_EQUAL(h.end, 99);
	/* beyond both read locks, a write is free */
	r = L(3, 1, PLOCK_WR, 150, PLOCK_EOF);
	CU_ASSERT_EQUAL(plock_test(&f, &r, NULL), 0);
	/* same owner id on another node is another owner */
	r = L(2, 1, PLOCK_WR, 0, 0);
	CU_ASSERT_EQUAL(plock_test(&f, &r, &h), 1);
	CU_ASSERT_EQUAL(h.node, 1);
	/* the holder itself never conflicts with its own locks */
	r = L(1, 1, PLOCK_WR, 0, 40);
	CU_ASSERT_EQUAL(plock_test(&f, &r, NULL), 0);
	/* an unlock never conflicts */
	r = L(3, 3, PLOCK_UN, 0, PLOCK_EOF);
	CU_ASSERT_EQUAL(plock_test(&f, &r, NULL), 0);
	free_file(&f);
}

static void test_adjacent_ranges_do_not_conflict(void)
{
	struct plock_file f = { .ino = 5 };
	struct plock r;

	setl(&f, L(1, 1, PLOCK_WR, 100, 199));
	r = L(2, 1, PLOCK_WR, 0, 99);
	CU_ASSERT_EQUAL(plock_test(&f, &r, NULL), 0);
	r = L(2, 1, PLOCK_WR, 200, 200);
	CU_ASSERT_EQUAL(plock_test(&f, &r, NULL), 0);
	r = L(2, 1, PLOCK_WR, 199, 199);
	CU_ASSERT_EQUAL(plock_test(&f, &r, NULL), 1);
	r = L(2, 1, PLOCK_RD, 0, 100);
	CU_ASSERT_EQUAL(plock_test(&f, &r, NULL), 1);
	free_file(&f);
}

static void test_unlock_middle_splits(void)
{
	struct plock_file f = { .ino = 5 };
	struct plock r;

	setl(&f, L(1, 1, PLOCK_WR, 0, 99));
	setl(&f, L(1, 1, PLOCK_UN, 40, 59));
	CU_ASSERT_STRING_EQUAL(ranges(&f, 1, 1), "0-39:w 60-99:w ");
	r = L(2, 2, PLOCK_WR, 40, 59);
	CU_ASSERT_EQUAL(plock_test(&f, &r, NULL), 0);
	r = L(2, 2, PLOCK_WR, 39, 40);
	CU_ASSERT_EQUAL(plock_test(&f, &r, NULL), 1);
	/* unlock of the edges trims */
	setl(&f, L(1, 1, PLOCK_UN, 0, 9));
	setl(&f, L(1, 1, PLOCK_UN, 90, PLOCK_EOF));
	CU_ASSERT_STRING_EQUAL(ranges(&f, 1, 1), "10-39:w 60-89:w ");
	/* unlock of nothing held changes nothing */
	setl(&f, L(1, 1, PLOCK_UN, 1000, 2000));
	CU_ASSERT_STRING_EQUAL(ranges(&f, 1, 1), "10-39:w 60-89:w ");
	CU_ASSERT_EQUAL(plock_count(&f, 1), 2);
	free_file(&f);
}

static void test_convert_type_in_middle(void)
{
	struct plock_file f = { .ino = 5 };

	setl(&f, L(1, 1, PLOCK_RD, 0, 99));
	setl(&f, L(1, 1, PLOCK_WR, 20, 29));
	CU_ASSERT_STRING_EQUAL(ranges(&f, 1, 1), "0-19:r 20-29:w 30-99:r ");
	/* back to read: one range again */
	setl(&f, L(1, 1, PLOCK_RD, 20, 29));
	CU_ASSERT_STRING_EQUAL(ranges(&f, 1, 1), "0-99:r ");
	CU_ASSERT_EQUAL(plock_count(&f, 0), 1);
	free_file(&f);
}

static void test_merge_adjacent_and_overlapping(void)
{
	struct plock_file f = { .ino = 5 };

	setl(&f, L(1, 1, PLOCK_WR, 0, 9));
	setl(&f, L(1, 1, PLOCK_WR, 20, 29));
	setl(&f, L(1, 1, PLOCK_WR, 10, 19));
	CU_ASSERT_STRING_EQUAL(ranges(&f, 1, 1), "0-29:w ");
	setl(&f, L(1, 1, PLOCK_WR, 25, PLOCK_EOF));
	CU_ASSERT_STRING_EQUAL(ranges(&f, 1, 1), "0-eof:w ");
	/* a different type next door stays apart */
	setl(&f, L(1, 1, PLOCK_UN, 0, PLOCK_EOF));
	setl(&f, L(1, 1, PLOCK_WR, 0, 9));
	setl(&f, L(1, 1, PLOCK_RD, 10, 19));
	CU_ASSERT_STRING_EQUAL(ranges(&f, 1, 1), "0-9:w 10-19:r ");
	/* other owners' ranges are never merged with ours */
	setl(&f, L(1, 2, PLOCK_RD, 20, 29));
	CU_ASSERT_STRING_EQUAL(ranges(&f, 1, 1), "0-9:w 10-19:r ");
	CU_ASSERT_STRING_EQUAL(ranges(&f, 1, 2), "20-29:r ");
	free_file(&f);
}

static void test_relock_is_idempotent(void)
{
	struct plock_file f = { .ino = 5 };
	int i;

	for (i = 0; i < 3; i++)
		setl(&f, L(1, 1, PLOCK_WR, 5, 15));
	CU_ASSERT_EQUAL(plock_count(&f, 0), 1);
	CU_ASSERT_STRING_EQUAL(ranges(&f, 1, 1), "5-15:w ");
	free_file(&f);
}

static void test_unlock_spanning_several_ranges(void)
{
	struct plock_file f = { .ino = 5 };

	setl(&f, L(1, 1, PLOCK_WR, 0, 9));
	setl(&f, L(1, 1, PLOCK_RD, 20, 29));
	setl(&f, L(1, 1, PLOCK_WR, 40, 49));
	setl(&f, L(1, 1, PLOCK_UN, 5, 44));
	CU_ASSERT_STRING_EQUAL(ranges(&f, 1, 1), "0-4:w 45-49:w ");
	free_file(&f);
}

static void test_eof_ranges(void)
{
	struct plock_file f = { .ino = 5 };
	struct plock r;

	setl(&f, L(1, 1, PLOCK_WR, 1000, PLOCK_EOF));
	r = L(2, 1, PLOCK_WR, UINT64_MAX - 1, PLOCK_EOF);
	CU_ASSERT_EQUAL(plock_test(&f, &r, NULL), 1);
	setl(&f, L(1, 1, PLOCK_UN, 2000, 2999));
	CU_ASSERT_STRING_EQUAL(ranges(&f, 1, 1), "1000-1999:w 3000-eof:w ");
	r = L(2, 1, PLOCK_WR, 2000, 2999);
	CU_ASSERT_EQUAL(plock_test(&f, &r, NULL), 0);
	free_file(&f);
}

static void test_flock_and_posix_apart(void)
{
	struct plock_file f = { .ino = 5 };
	struct plock r, h;

	/* same node, same owner id (flock and OFD share the open file) */
	setl(&f, F(1, 9, PLOCK_WR));
	r = L(2, 9, PLOCK_WR, 0, PLOCK_EOF);
	CU_ASSERT_EQUAL(plock_test(&f, &r, NULL), 0);
	CU_ASSERT_EQUAL(plock_apply(&f, &r), 0);
	/* flock conflicts with flock only */
	r = F(2, 3, PLOCK_RD);
	CU_ASSERT_EQUAL(plock_test(&f, &r, &h), 1);
	CU_ASSERT_EQUAL(h.cls, PLOCK_FLOCK);
	CU_ASSERT_EQUAL(h.node, 1);
	/* shared flocks share */
	setl(&f, F(1, 9, PLOCK_RD));	/* conversion of the holder */
	setl(&f, F(2, 3, PLOCK_RD));
	CU_ASSERT_EQUAL(plock_count(&f, 1), 1);
	/* dropping one class of an owner leaves the other */
	CU_ASSERT_EQUAL(plock_drop(&f, 2, 0, 9, PLOCK_POSIX), 1);
	CU_ASSERT_EQUAL(plock_count(&f, 2), 1);
	free_file(&f);
}

static void test_drop_node_and_owner(void)
{
	struct plock_file f = { .ino = 5 };
	struct plock r;

	setl(&f, L(1, 1, PLOCK_WR, 0, 9));
	setl(&f, L(1, 1, PLOCK_WR, 20, 29));
	setl(&f, L(1, 2, PLOCK_WR, 40, 49));
	setl(&f, L(2, 1, PLOCK_WR, 60, 69));
	r = L(3, 1, PLOCK_WR, 0, 99);
	CU_ASSERT_EQUAL(plock_wait_add(&f, &r, 77), 0);
	r = L(1, 5, PLOCK_WR, 0, 99);
	CU_ASSERT_EQUAL(plock_wait_add(&f, &r, 78), 0);
	CU_ASSERT_EQUAL(plock_drop(&f, 1, 0, 1, PLOCK_POSIX), 2);
	CU_ASSERT_EQUAL(plock_count(&f, 1), 1);
	/* a node's death: all its locks and waiters go */
	CU_ASSERT_EQUAL(plock_drop(&f, 1, 1, 0, 0), 1);
	CU_ASSERT_EQUAL(plock_count(&f, 1), 0);
	CU_ASSERT_PTR_NOT_NULL(f.waits);
	CU_ASSERT_EQUAL(f.waits->wait_id, 77);
	CU_ASSERT_PTR_NULL(f.waits->next);
	CU_ASSERT_EQUAL(plock_count(&f, 2), 1);
	free_file(&f);
}

static void test_waiters_woken_in_order(void)
{
	struct plock_file f = { .ino = 5 };
	struct plock_wait *w, *n;
	struct plock r;

	setl(&f, L(1, 1, PLOCK_WR, 0, 99));
	r = L(2, 1, PLOCK_WR, 0, 9);
	CU_ASSERT_EQUAL(plock_wait_add(&f, &r, 1), 0);
	r = L(3, 1, PLOCK_WR, 5, 5);	/* conflicts with waiter 1 too */
	CU_ASSERT_EQUAL(plock_wait_add(&f, &r, 2), 0);
	r = L(3, 2, PLOCK_RD, 50, 59);	/* independent of both */
	CU_ASSERT_EQUAL(plock_wait_add(&f, &r, 3), 0);
	/* a resent request replaces its waiter */
	r = L(3, 2, PLOCK_RD, 50, 60);
	CU_ASSERT_EQUAL(plock_wait_add(&f, &r, 3), 0);
	/* nothing can be granted while node 1 holds 0-99 */
	CU_ASSERT_PTR_NULL(plock_wake(&f));
	/* release 0-49: waiter 1 is grantable, waiter 2 conflicts with 1 */
	setl(&f, L(1, 1, PLOCK_UN, 0, 49));
	w = plock_wake(&f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_EQUAL(w->wait_id, 1);
	CU_ASSERT_PTR_NULL(w->next);
	free(w);
	/* release the rest: waiters 2 and 3 both */
	setl(&f, L(1, 1, PLOCK_UN, 0, PLOCK_EOF));
	w = plock_wake(&f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_EQUAL(w->wait_id, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w->next);
	CU_ASSERT_EQUAL(w->next->wait_id, 3);
	CU_ASSERT_EQUAL(w->next->l.end, 60);
	for (; w; w = n) {
		n = w->next;
		free(w);
	}
	CU_ASSERT_PTR_NULL(f.waits);
	free_file(&f);
}

static void test_wait_del(void)
{
	struct plock_file f = { .ino = 5 };
	struct plock r = L(2, 1, PLOCK_WR, 0, 9);

	CU_ASSERT_EQUAL(plock_wait_add(&f, &r, 11), 0);
	CU_ASSERT_EQUAL(plock_wait_del(&f, 3, 11), 0);
	CU_ASSERT_EQUAL(plock_wait_del(&f, 2, 12), 0);
	CU_ASSERT_EQUAL(plock_wait_del(&f, 2, 11), 1);
	CU_ASSERT_EQUAL(plock_wait_del(&f, 2, 11), 0);
	CU_ASSERT_PTR_NULL(f.waits);
}

static int count_files(struct plock_file *f, void *arg)
{
	(void)f;
	(*(int *)arg)++;
	return 0;
}

static void test_table_grows_and_frees_empty(void)
{
	struct plock_tab t;
	struct plock_file *f;
	struct plock r = L(1, 1, PLOCK_WR, 0, 0);
	uint64_t ino;
	int n = 0;

	plock_tab_init(&t);
	CU_ASSERT_PTR_NULL(plock_tab_get(&t, 42, 0));
	for (ino = 1; ino <= 1000; ino++) {
		f = plock_tab_get(&t, ino, 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		CU_ASSERT_EQUAL(plock_apply(f, &r), 0);
	}
	CU_ASSERT_EQUAL(t.count, 1000);
	CU_ASSERT_EQUAL(plock_tab_get(&t, 500, 0)->ino, 500);
	plock_tab_each(&t, count_files, &n);
	CU_ASSERT_EQUAL(n, 1000);
	/* a file with locks stays; an emptied one goes */
	f = plock_tab_get(&t, 7, 0);
	plock_tab_put(&t, f);
	CU_ASSERT_PTR_NOT_NULL(plock_tab_get(&t, 7, 0));
	plock_drop(f, 1, 1, 0, 0);
	plock_tab_put(&t, f);
	CU_ASSERT_PTR_NULL(plock_tab_get(&t, 7, 0));
	CU_ASSERT_EQUAL(t.count, 999);
	plock_tab_release(&t);
	CU_ASSERT_EQUAL(t.count, 0);
}

/* Random operations against a byte-map model of two owners. */
static void test_random_against_model(void)
{
	enum { N = 64 };
	unsigned char model[3][N];	/* owner 1, 2: 0 none, 1 rd, 2 wr */
	struct plock_file f = { .ino = 9 };
	unsigned seed = 12345;
	int i, b;

	memset(model, 0, sizeof(model));
	for (i = 0; i < 20000; i++) {
		uint64_t own = 1 + (rand_r(&seed) & 1);
		uint64_t s = (uint64_t)(rand_r(&seed) % N);
		uint64_t e = s + (uint64_t)(rand_r(&seed) % (N - s));
		uint32_t type = (uint32_t)(rand_r(&seed) % 3);
		struct plock r = L(1, own, type, s, e);
		int want = 0, got;

		for (b = (int)s; b <= (int)e && type; b++) {
			unsigned char o = model[3 - own][b];

			if (o && (o == PLOCK_WR || type == PLOCK_WR))
				want = 1;
		}
		got = plock_test(&f, &r, NULL);
		CU_ASSERT_EQUAL(got, want);
		if (got)
			continue;
		CU_ASSERT_EQUAL_FATAL(plock_apply(&f, &r), 0);
		for (b = (int)s; b <= (int)e; b++)
			model[own][b] = (unsigned char)type;
	}
	/* the lock list describes the model exactly, with merged ranges */
	for (b = 0; b < N; b++) {
		const struct plock_ent *e;
		int o;

		for (o = 1; o <= 2; o++) {
			int cover = 0;

			for (e = f.locks; e; e = e->next)
				if (e->l.owner == (uint64_t)o &&
				    e->l.start <= (uint64_t)b &&
				    e->l.end >= (uint64_t)b) {
					cover++;
					CU_ASSERT_EQUAL(e->l.type, model[o][b]);
				}
			CU_ASSERT_EQUAL(cover, model[o][b] ? 1 : 0);
		}
	}
	{
		const struct plock_ent *a, *c;

		for (a = f.locks; a; a = a->next)
			for (c = f.locks; c; c = c->next)
				if (a != c && a->l.owner == c->l.owner &&
				    a->l.type == c->l.type)
					CU_ASSERT(a->l.end + 1 != c->l.start);
	}
	free_file(&f);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("plock", NULL, NULL);
	CU_add_test(s, "check rejects bad requests",
		    test_check_rejects_bad_requests);
	CU_add_test(s, "write conflicts, read shares",
		    test_write_conflicts_read_shares);
	CU_add_test(s, "adjacent ranges do not conflict",
		    test_adjacent_ranges_do_not_conflict);
	CU_add_test(s, "unlock in the middle splits",
		    test_unlock_middle_splits);
	CU_add_test(s, "convert type in the middle",
		    test_convert_type_in_middle);
	CU_add_test(s, "merge adjacent and overlapping",
		    test_merge_adjacent_and_overlapping);
	CU_add_test(s, "relock is idempotent", test_relock_is_idempotent);
	CU_add_test(s, "unlock spanning several ranges",
		    test_unlock_spanning_several_ranges);
	CU_add_test(s, "ranges to eof", test_eof_ranges);
	CU_add_test(s, "flock and posix kept apart",
		    test_flock_and_posix_apart);
	CU_add_test(s, "drop a node, drop an owner",
		    test_drop_node_and_owner);
	CU_add_test(s, "waiters woken in order", test_waiters_woken_in_order);
	CU_add_test(s, "wait del", test_wait_del);
	CU_add_test(s, "table grows and frees empty files",
		    test_table_grows_and_frees_empty);
	CU_add_test(s, "random operations against a model",
		    test_random_against_model);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
