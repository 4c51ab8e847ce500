/*
 * mcache_test: the node's attribute and entry cache alone: hits and
 * misses, negative entries, invalidation of attributes and of a
 * directory's entries, replies refused when an invalidation crossed them,
 * the lease, clearing, and the size bound; directory listings (filled
 * chunk by chunk, dropped by the directory's INVAL, readdirplus hits only
 * with every entry's attributes); the lease renewed by answered requests
 * and everything dropped once it ran out.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net/mcache.h"

static struct csvfs_attr attr(uint64_t ino, uint32_t mode)
{
	struct csvfs_attr a;

	memset(&a, 0, sizeof(a));
	a.ino = ino;
	a.mode = mode;
	return a;
}

static void test_hits_and_negatives(void)
{
	struct mcache *mc;
	struct mcache_tok t;
	struct csvfs_attr a = attr(100, 0100644), b;
	struct mcache_stats st;

	CU_ASSERT_FATAL(mcache_new(0, 0, &mc) == 0);
	CU_ASSERT(mcache_get_attr(mc, 100, &b) == -EAGAIN);
	CU_ASSERT(mcache_get_entry(mc, 1, "f", &b) == -EAGAIN);
	mcache_begin(mc, &t);
	mcache_put_entry(mc, &t, 1, "f", &a);
	mcache_put_entry(mc, &t, 1, "nope", NULL);
	CU_ASSERT(mcache_get_entry(mc, 1, "f", &b) == 0 && b.ino == 100);
	CU_ASSERT(mcache_get_attr(mc, 100, &b) == 0 && b.mode == 0100644);
	CU_ASSERT(mcache_get_entry(mc, 1, "nope", &b) == -ENOENT);
	CU_ASSERT(mcache_get_entry(mc, 2, "f", &b) == -EAGAIN);
	CU_ASSERT(mcache_get_entry(mc, 1, "F", &b) == -EAGAIN);
	mcache_get_stats(mc, &st);
	CU_ASSERT(st.hits == 3 && st.misses == 4);
	mcache_free(mc);
}

static void test_invalidation(void)
{
	struct mcache *mc;
	struct mcache_tok t;
	struct csvfs_attr a = attr(100, 0100644), d = attr(1, 040755), b;

	CU_ASSERT_FATAL(mcache_new(0, 0, &mc) == 0);
	mcache_begin(mc, &t);
	mcache_put_attr(mc, &t, &d);
	mcache_put_entry(mc, &t, 1, "f", &a);
	mcache_put_entry(mc, &t, 1, "g", NULL);
	/* The file changed: its attributes go, the name stays (a miss
	 * until they are back). */
	mcache_inval(mc, 100);
	CU_ASSERT(mcache_get_attr(mc, 100, &b) == -EAGAIN);
	CU_ASSERT(mcache_get_entry(mc, 1, "f", &b) == -EAGAIN);
	CU_ASSERT(mcache_get_entry(mc, 1, "g", &b) == -ENOENT);
	CU_ASSERT(mcache_get_attr(mc, 1, &b) == 0);
	/* The directory changed: all its entries go. */
	mcache_begin(mc, &t);
	mcache_put_attr(mc, &t, &a);
	mcache_inval(mc, 1);
	CU_ASSERT(mcache_get_entry(mc, 1, "g", &b) == -EAGAIN);
	CU_ASSERT(mcache_get_attr(mc, 1, &b) == -EAGAIN);
	CU_ASSERT(mcache_get_attr(mc, 100, &b) == 0);
	mcache_free(mc);
}

static void test_crossed_reply_refused(void)
{
	struct mcache *mc;
	struct mcache_tok t;
	struct csvfs_attr a = attr(100, 0100644), c = attr(200, 0100600), b;
	struct mcache_stats st;
	int i;

	CU_ASSERT_FATAL(mcache_new(0, 0, &mc) == 0);
	/* Sent, then an INVAL of 100 arrived, then the (old) reply. */
	mcache_begin(mc, &t);
	mcache_inval(mc, 100);
	mcache_put_attr(mc, &t, &a);
	CU_ASSERT(mcache_get_attr(mc, 100, &b) == -EAGAIN);
	/* An INVAL of another inode does not matter. */
	mcache_put_attr(mc, &t, &c);
	CU_ASSERT(mcache_get_attr(mc, 200, &b) == 0);
	/* The entry's directory invalidated: refused too. */
	mcache_begin(mc, &t);
	mcache_inval(mc, 7);
	mcache_put_entry(mc, &t, 7, "x", &c);
	CU_ASSERT(mcache_get_entry(mc, 7, "x", &b) == -EAGAIN);
	/* More invalidations than the cache remembers: refused. */
	mcache_begin(mc, &t);
	for (i = 0; i < 1000; i++)
		mcache_inval(mc, 5000 + (uint64_t)i);
	mcache_put_attr(mc, &t, &a);
	CU_ASSERT(mcache_get_attr(mc, 100, &b) == -EAGAIN);
	/* A clear refuses every reply requested before it. */
	mcache_begin(mc, &t);
	mcache_clear(mc);
	mcache_put_attr(mc, &t, &a);
	CU_ASSERT(mcache_get_attr(mc, 100, &b) == -EAGAIN);
	CU_ASSERT(mcache_get_attr(mc, 200, &b) == -EAGAIN);
	mcache_get_stats(mc, &st);
	CU_ASSERT(st.refused == 4);
	mcache_free(mc);
}

static void test_lease(void)
{
	struct mcache *mc;
	struct mcache_tok t;
	struct csvfs_attr a = attr(100, 0100644), b;

	CU_ASSERT_FATAL(mcache_new(0, 50, &mc) == 0);
	mcache_begin(mc, &t);
	mcache_put_entry(mc, &t, 1, "f", &a);
	CU_ASSERT(mcache_get_entry(mc, 1, "f", &b) == 0);
	usleep(80000);
	CU_ASSERT(mcache_get_entry(mc, 1, "f", &b) == -EAGAIN);
	CU_ASSERT(mcache_get_attr(mc, 100, &b) == -EAGAIN);
	/* A reply that comes after its lease is not cached at all. */
	mcache_begin(mc, &t);
	usleep(80000);
	mcache_put_attr(mc, &t, &a);
	CU_ASSERT(mcache_get_attr(mc, 100, &b) == -EAGAIN);
	mcache_free(mc);
}

static void test_bounded(void)
{
	struct mcache *mc;
	struct mcache_tok t;
	struct mcache_stats st;
	struct csvfs_attr a;
	char name[32];
	uint64_t i;

	CU_ASSERT_FATAL(mcache_new(100, 0, &mc) == 0);
	mcache_begin(mc, &t);
	for (i = 0; i < 1000; i++) {
		a = attr(1000 + i, 0100644);
		snprintf(name, sizeof(name), "n%llu", (unsigned long long)i);
		mcache_put_entry(mc, &t, 1 + i % 7, name, &a);
	}
	mcache_get_stats(mc, &st);
	CU_ASSERT(st.entries <= 100);
	CU_ASSERT(st.clears > 0);
	/* The newest entry is still there. */
	CU_ASSERT(mcache_get_entry(mc, 1 + 999 % 7, "n999", &a) == 0);
	for (i = 1; i <= 7; i++)
		mcache_inval(mc, i);
	mcache_get_stats(mc, &st);
	CU_ASSERT(st.entries <= 100);
	mcache_free(mc);
}

static struct mcache_dirent dent(uint64_t ino, uint64_t next, const char *name)
{
	struct mcache_dirent e;

	memset(&e, 0, sizeof(e));
	e.ino = ino;
	e.next_cookie = next;
	e.type = 8;
	snprintf(e.name, sizeof(e.name), "%s", name);
	e.attr = attr(ino, 0100644);
	return e;
}

static void test_listing(void)
{
	struct mcache *mc;
	struct mcache_tok t;
	struct mcache_dirent in[4], out[8];
	uint32_t n;
	int eof;

	CU_ASSERT_FATAL(mcache_new(0, 0, &mc) == 0);
	in[0] = dent(1, 1, ".");
	in[1] = dent(0, 2, "..");
	in[2] = dent(100, 10, "a");
	in[3] = dent(101, 20, "b");
	CU_ASSERT(mcache_get_list(mc, 1, 0, 0, out, 8, &n, &eof) == -EAGAIN);
	/* A chunk that does not start the listing is not kept. */
	mcache_begin(mc, &t);
	mcache_put_list(mc, &t, 1, 2, 0, &in[2], 2, 1);
	CU_ASSERT(mcache_get_list(mc, 1, 2, 0, out, 8, &n, &eof) == -EAGAIN);
	/* The first chunk, then its continuation. */
	mcache_put_list(mc, &t, 1, 0, 0, in, 2, 0);
	CU_ASSERT(mcache_get_list(mc, 1, 0, 0, out, 8, &n, &eof) == 0);
	CU_ASSERT(n == 2 && !eof && !strcmp(out[1].name, ".."));
	CU_ASSERT(mcache_get_list(mc, 1, 2, 0, out, 8, &n, &eof) == -EAGAIN);
	mcache_put_list(mc, &t, 1, 2, 0, &in[2], 2, 1);
	CU_ASSERT(mcache_get_list(mc, 1, 0, 0, out, 8, &n, &eof) == 0);
	CU_ASSERT(n == 4 && eof && out[3].ino == 101 && out[3].next_cookie == 20);
	/* From any cookie it handed out, by at most max entries. */
	CU_ASSERT(mcache_get_list(mc, 1, 10, 0, out, 8, &n, &eof) == 0);
	CU_ASSERT(n == 1 && eof && !strcmp(out[0].name, "b"));
	CU_ASSERT(mcache_get_list(mc, 1, 2, 0, out, 1, &n, &eof) == 0);
	CU_ASSERT(n == 1 && !eof && !strcmp(out[0].name, "a"));
	CU_ASSERT(mcache_get_list(mc, 1, 20, 0, out, 8, &n, &eof) == 0);
	CU_ASSERT(n == 0 && eof);
	/* A cookie it never handed out. */
	CU_ASSERT(mcache_get_list(mc, 1, 15, 0, out, 8, &n, &eof) == -EAGAIN);
	/* A change in the directory drops the listing. */
	mcache_inval(mc, 1);
	CU_ASSERT(mcache_get_list(mc, 1, 0, 0, out, 8, &n, &eof) == -EAGAIN);
	/* A listing requested before that change is refused. */
	mcache_put_list(mc, &t, 1, 0, 0, in, 4, 1);
	CU_ASSERT(mcache_get_list(mc, 1, 0, 0, out, 8, &n, &eof) == -EAGAIN);
	/* Another file's change leaves it alone. */
	mcache_begin(mc, &t);
	mcache_put_list(mc, &t, 1, 0, 0, in, 4, 1);
	mcache_inval(mc, 7);
	CU_ASSERT(mcache_get_list(mc, 1, 0, 0, out, 8, &n, &eof) == 0);
	mcache_free(mc);
}

static void test_listing_plus(void)
{
	struct mcache *mc;
	struct mcache_tok t;
	struct mcache_dirent in[3], out[8];
	struct csvfs_attr b;
	uint32_t n;
	int eof;

	CU_ASSERT_FATAL(mcache_new(0, 0, &mc) == 0);
	in[0] = dent(1, 1, ".");
	in[1] = dent(100, 10, "a");
	in[2] = dent(101, 20, "b");
	mcache_begin(mc, &t);
	mcache_put_list(mc, &t, 1, 0, 1, in, 3, 1);
	/* The entries' attributes come with a readdirplus listing. */
	CU_ASSERT(mcache_get_attr(mc, 101, &b) == 0 && b.mode == 0100644);
	CU_ASSERT(mcache_get_list(mc, 1, 0, 1, out, 8, &n, &eof) == 0);
	CU_ASSERT(n == 3 && eof && out[2].attr.ino == 101);
	/* ... and so do lookups of the names listed (ls -l stats them). */
	CU_ASSERT(mcache_get_entry(mc, 1, "a", &b) == 0 && b.ino == 100);
	CU_ASSERT(mcache_get_entry(mc, 1, ".", &b) == -EAGAIN);
	/* A file changed: its attributes go, the names stay. */
	mcache_inval(mc, 101);
	CU_ASSERT(mcache_get_list(mc, 1, 0, 1, out, 8, &n, &eof) == -EAGAIN);
	CU_ASSERT(mcache_get_list(mc, 1, 0, 0, out, 8, &n, &eof) == 0 && n == 3);
	mcache_free(mc);
}

static void test_lease_renewal(void)
{
	struct mcache *mc;
	struct mcache_tok t, r;
	struct csvfs_attr a = attr(100, 0100644), b;
	int i, hits = 0;

	CU_ASSERT_FATAL(mcache_new(0, 200, &mc) == 0);
	mcache_begin(mc, &t);
	mcache_put_attr(mc, &t, &a);
	/* Answered requests keep the lease, and the entry, alive. */
	for (i = 0; i < 6; i++) {
		usleep(60000);
		mcache_begin(mc, &r);
		mcache_renew(mc, &r);
		hits += mcache_get_attr(mc, 100, &b) == 0;
	}
	/* At most one lookup in the last half of the lease goes out. */
	CU_ASSERT(hits >= 5);
	/* Once it ran out, a renewal does not bring back what it held. */
	usleep(250000);
	mcache_begin(mc, &r);
	mcache_renew(mc, &r);
	CU_ASSERT(mcache_get_attr(mc, 100, &b) == -EAGAIN);
	mcache_free(mc);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("mcache", NULL, NULL);
	CU_add_test(s, "hits, misses, negative entries",
		    test_hits_and_negatives);
	CU_add_test(s, "invalidation of attributes and entries",
		    test_invalidation);
	CU_add_test(s, "replies crossed by an invalidation are refused",
		    test_crossed_reply_refused);
	CU_add_test(s, "lease", test_lease);
	CU_add_test(s, "bounded size", test_bounded);
	CU_add_test(s, "directory listings", test_listing);
	CU_add_test(s, "readdirplus listings and attributes",
		    test_listing_plus);
	CU_add_test(s, "lease renewed by answers, dropped when it ran out",
		    test_lease_renewal);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
