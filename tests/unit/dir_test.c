/*
 * dir_test: meta/dir.c on a real, freshly formatted image (sparse file in
 * /tmp), through the journal and the allocator.
 *
 *   hash      range, determinism, seed dependence
 *   basics    add / lookup / replace / remove, exact error codes, name
 *             validation (255 bytes ok, 256 -ENAMETOOLONG, "", "/", NUL)
 *   limits    names that share their top 17 hash bits fill a bucket that
 *             can never split: -ENOSPC with nothing changed; a name that
 *             differs at bit 16 grows the table to its largest depth
 *   large     DIR_TEST_N (default 100000) names: inserted, looked up (at
 *             most 3 block reads each), iterated once in hash order,
 *             resumed from a cookie, reread from disk after a journal
 *             close / replay / open, half removed, checked, corrupted,
 *             emptied and destroyed with every block given back
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "csvfs/errors.h"
#include "csvfs/ondisk.h"
#include "meta/alloc.h"
#include "meta/dev.h"
#include "meta/dir.h"
#include "meta/format.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"

#define IMG_SIZE	(2ull << 30)
#define COMMIT_EVERY	2000
#define BUCKET_OFF	0x50	/* entries[] in a raw bucket */

#include "tests/unit/testvol.h"

/* ---- fixture ------------------------------------------------------------ */

static int suite_init(void)
{
	struct fmt_opts o;
	int fd, rc;

	snprintf(img, sizeof(img), "/tmp/dir_test.%d.img", (int)getpid());
	fd = open(img, O_CREAT | O_TRUNC | O_RDWR, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)IMG_SIZE) < 0)
		return -1;
	close(fd);
	memset(&o, 0, sizeof(o));
	rc = dev_open(img, 0, &dev);
	if (!rc)
		rc = fmt_volume(dev, &o, NULL);
	if (!rc)
		rc = fmt_read_super(dev, &sb);
	if (!rc)
		rc = open_volume();
	if (rc)
		fprintf(stderr, "dir_test: setup: %s\n", csvfs_strerror(rc));
	return rc ? -1 : 0;
}

static int suite_clean(void)
{
	if (jr && close_volume())
		fprintf(stderr, "dir_test: jrnl_close failed\n");
	dev_close(dev);
	unlink(img);
	return 0;
}

/* A directory inode in its own block; the tests keep it decoded. */
struct tdir {
	uint64_t ino;
	struct csvfs_inode in;
};

/* Writes the decoded inode back into its block. */
static int tdir_save(struct jop *op, struct tdir *t)
{
	struct mbuf *mb;
	int rc = jop_read(op, t->ino, CSVFS_MAGIC_INODE, &mb);

	if (!rc)
		rc = jop_write(op, mb);
	if (!rc)
		od_inode_encode(&t->in, mb->data);
	return rc;
}

static int tdir_make(struct tdir *t)
{
	struct mbuf *mb;
	struct jop op;
	int rc;

	jop_begin(jr, &op);
	rc = alloc_mblk(al, &op, &t->ino);
	if (!rc)
		rc = jop_new(&op, t->ino, &mb);
	if (!rc) {
		memset(&t->in, 0, sizeof(t->in));
		od_hdr_init(&t->in.hdr, CSVFS_MAGIC_INODE, t->ino,
			    jrnl_uuid(jr));
		t->in.mode = S_IFDIR | 0755;
		t->in.nlink = 2;
		rc = dir_create(&op, al, t->ino, &t->in);
	}
	if (!rc)
		od_inode_encode(&t->in, mb->data);
	jop_end(&op, rc);
	return rc;
}

/* Metadata blocks in use, not counting chunk headers (chunks stay). */
static uint64_t mblks_used(void)
{
	struct alloc_stats st;

	alloc_get_stats(al, &st);
	return st.mblks_used - st.chunks;
}

static uint64_t reads(void)
{
	struct jrnl_stats st;

	jrnl_get_stats(jr, &st);
	return st.cache_hits + st.cache_misses;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One dir_add in its own operation, the inode saved if the table grew. */
static int add1(struct tdir *t, const char *name, uint64_t ino)
{
	uint32_t depth = od_get32(t->in.body);
	struct jop op;
	int rc;

	jop_begin(jr, &op);
	rc = dir_add(&op, al, t->ino, &t->in, sb.hash_seed, name,
		     strlen(name), ino, CSVFS_DT_REG);
	if (!rc && od_get32(t->in.body) != depth)
		rc = tdir_save(&op, t);
	jop_end(&op, rc);
	return rc;
}

static int lookup1(struct tdir *t, const char *name, uint64_t *ino)
{
	struct jop op;
	uint8_t type;
	int rc;

	jop_begin(jr, &op);
	rc = dir_lookup(&op, &t->in, sb.hash_seed, name, strlen(name), ino,
			&type);
	jop_end(&op, 0);
	return rc;
}

static int remove1(struct tdir *t, const char *name, uint64_t *ino)
{
	struct jop op;
	int rc;

	jop_begin(jr, &op);
	rc = dir_remove(&op, al, &t->in, sb.hash_seed, name, strlen(name),
			ino);
	jop_end(&op, rc);
	return rc;
}

static int check1(struct tdir *t, char *why, size_t len)
{
	struct jop op;
	int rc;

	jop_begin(jr, &op);
	rc = dir_check(&op, &t->in, sb.hash_seed, NULL, NULL, why, len);
	jop_end(&op, 0);
	return rc;
}

static int empty1(struct tdir *t)
{
	struct jop op;
	int empty = -1, rc;

	jop_begin(jr, &op);
	rc = dir_is_empty(&op, &t->in, &empty);
	jop_end(&op, 0);
	return rc ? rc : empty;
}

static int destroy1(struct tdir *t)
{
	struct jop op;
	int rc;

	jop_begin(jr, &op);
	rc = dir_destroy(&op, al, &t->in);
	if (!rc)
		rc = alloc_free_mblk(al, &op, t->ino);
	jop_end(&op, rc);
	return rc;
}

/* ---- iteration collector ------------------------------------------------- */

struct coll {
	uint64_t n, max, seed;
	uint64_t *hash;		/* hash of each entry seen, in order */
	uint64_t *ino;
	uint64_t next_cookie;
	int bad;		/* a name whose hash the cookie contradicts */
};

static int collect(void *ctx, const char *name, size_t len, uint64_t ino,
		   uint8_t type, uint64_t next_cookie)
{
	struct coll *c = ctx;
	uint64_t h = dir_hash(c->seed, name, len);

	(void)type;
	if (next_cookie != h + 1 || name[len] != '\0')
		c->bad++;
	if (c->n == c->max)
		return 1;	/* stops at the entry after max */
	c->hash[c->n] = h;
	c->ino[c->n] = ino;
	c->n++;
	c->next_cookie = next_cookie;
	return 0;
}

static int iterate1(struct tdir *t, uint64_t cookie, struct coll *c)
{
	struct jop op;
	int rc;

	jop_begin(jr, &op);
	rc = dir_iterate(&op, &t->in, cookie, collect, c);
	jop_end(&op, 0);
	return rc;
}

/* ---- tests --------------------------------------------------------------- */

static void test_hash_range_and_seed(void)
{
	uint64_t h1 = dir_hash(1, "abc", 3), h2 = dir_hash(2, "abc", 3);
	char name[16];
	int i;

	CU_ASSERT_EQUAL(h1, dir_hash(1, "abc", 3));
	CU_ASSERT_NOT_EQUAL(h1, h2);
	CU_ASSERT_NOT_EQUAL(dir_hash(1, "abc", 3), dir_hash(1, "abd", 3));
	for (i = 0; i < 10000; i++) {
		uint64_t h;

		snprintf(name, sizeof(name), "n%d", i);
		h = dir_hash(sb.hash_seed, name, strlen(name));
		CU_ASSERT(h >= DIR_COOKIE_FIRST && h < (1ull << 62));
	}
}

static void test_add_lookup_remove_errors(void)
{
	char n255[256], n256[257], why[256];
	uint64_t before = mblks_used(), ino = 0;
	struct tdir t;
	struct jop op;
	uint8_t type = 0;

	CU_ASSERT_EQUAL_FATAL(tdir_make(&t), 0);
	CU_ASSERT_EQUAL(before + 3, mblks_used());	/* inode, index, bucket */
	CU_ASSERT_EQUAL(empty1(&t), 1);
	CU_ASSERT_EQUAL(lookup1(&t, "a", &ino), -ENOENT);
	CU_ASSERT_EQUAL(add1(&t, "a", 100), 0);
	CU_ASSERT_EQUAL(add1(&t, "a", 101), -EEXIST);
	CU_ASSERT_EQUAL(add1(&t, "b", 102), 0);
	CU_ASSERT_EQUAL(empty1(&t), 0);
	CU_ASSERT_EQUAL(lookup1(&t, "a", &ino), 0);
	CU_ASSERT_EQUAL(ino, 100);

	jop_begin(jr, &op);
	CU_ASSERT_EQUAL(dir_replace(&op, &t.in, sb.hash_seed, "a", 1, 200,
				    CSVFS_DT_DIR), 0);
	CU_ASSERT_EQUAL(dir_replace(&op, &t.in, sb.hash_seed, "zz", 2, 200,
				    CSVFS_DT_DIR), -ENOENT);
	CU_ASSERT_EQUAL(dir_lookup(&op, &t.in, sb.hash_seed, "a", 1, &ino,
				   &type), 0);
	CU_ASSERT_EQUAL(ino, 200);
	CU_ASSERT_EQUAL(type, CSVFS_DT_DIR);
	CU_ASSERT_EQUAL(dir_destroy(&op, al, &t.in), -ENOTEMPTY);
	CU_ASSERT_EQUAL(dir_add(&op, al, t.ino, &t.in, sb.hash_seed, "", 0,
				5, 0), -EINVAL);
	CU_ASSERT_EQUAL(dir_add(&op, al, t.ino, &t.in, sb.hash_seed, "x/y",
				3, 5, 0), -EINVAL);
	CU_ASSERT_EQUAL(dir_add(&op, al, t.ino, &t.in, sb.hash_seed, "x\0y",
				3, 5, 0), -EINVAL);
	CU_ASSERT_EQUAL(dir_add(&op, al, t.ino, &t.in, sb.hash_seed, "..", 2,
				5, 0), -EINVAL);
	CU_ASSERT_EQUAL(dir_lookup(&op, &t.in, sb.hash_seed, "", 0, &ino,
				   &type), -EINVAL);
	jop_end(&op, 0);

	memset(n255, 'x', 255);
	n255[255] = '\0';
	memset(n256, 'y', 256);
	n256[256] = '\0';
	CU_ASSERT_EQUAL(add1(&t, n256, 300), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(lookup1(&t, n256, &ino), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(add1(&t, n255, 301), 0);
	CU_ASSERT_EQUAL(lookup1(&t, n255, &ino), 0);
	CU_ASSERT_EQUAL(ino, 301);
	CU_ASSERT_EQUAL(check1(&t, why, sizeof(why)), 0);

	CU_ASSERT_EQUAL(remove1(&t, "a", &ino), 0);
	CU_ASSERT_EQUAL(ino, 200);
	CU_ASSERT_EQUAL(remove1(&t, "a", &ino), -ENOENT);
	CU_ASSERT_EQUAL(lookup1(&t, "a", &ino), -ENOENT);
	CU_ASSERT_EQUAL(lookup1(&t, "b", &ino), 0);
	CU_ASSERT_EQUAL(remove1(&t, "b", NULL), 0);
	CU_ASSERT_EQUAL(remove1(&t, n255, NULL), 0);
	CU_ASSERT_EQUAL(empty1(&t), 1);
	CU_ASSERT_EQUAL(check1(&t, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(destroy1(&t), 0);
	CU_ASSERT_EQUAL(mblks_used(), before);
	CU_ASSERT_EQUAL(jrnl_commit(jr), 0);
}

/* A 255-byte name, unique by i, whose hash's top "bits" bits are want. */
static uint64_t find_name(char *name, uint64_t *i, unsigned bits,
			  uint64_t want)
{
	uint64_t h;

	memset(name, 'q', 255);
	name[255] = '\0';
	for (;; (*i)++) {
		snprintf(name, 24, "%020" PRIu64, *i);
		name[20] = 'q';
		h = dir_hash(sb.hash_seed, name, 255);
		if (h >> (62 - bits) == want)
			return h;
	}
}

static void test_full_bucket_nospc_then_max_depth(void)
{
	char names[15][256], other[256], why[256];
	uint64_t i = 0, before = mblks_used(), used, h0, ino;
	struct tdir t;
	int k;

	h0 = find_name(names[0], &i, 17, 12345);
	for (k = 1; k < 15; k++) {
		i++;
		find_name(names[k], &i, 17, h0 >> (62 - 17));
	}
	i++;
	/* Same top 16 bits, the other 17th bit. */
	find_name(other, &i, 17, (h0 >> (62 - 17)) ^ 1);

	CU_ASSERT_EQUAL_FATAL(tdir_make(&t), 0);
	for (k = 0; k < 14; k++)	/* 14 records of 280 bytes fill it */
		CU_ASSERT_EQUAL(add1(&t, names[k], 1000 + (uint64_t)k), 0);
	used = mblks_used();
	CU_ASSERT_EQUAL(add1(&t, names[14], 2000), -ENOSPC);
	CU_ASSERT_EQUAL(mblks_used(), used);
	CU_ASSERT_EQUAL(od_get32(t.in.body), 0);
	CU_ASSERT_EQUAL(check1(&t, why, sizeof(why)), 0);

	/* Separating "other" takes the table to depth 17 in one operation. */
	CU_ASSERT_EQUAL(add1(&t, other, 3000), 0);
	CU_ASSERT_EQUAL(od_get32(t.in.body), 17);
	CU_ASSERT_EQUAL(od_get32(t.in.body + 4), 262);
	CU_ASSERT_EQUAL(check1(&t, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(add1(&t, names[14], 2000), -ENOSPC);
	for (k = 0; k < 14; k++) {
		CU_ASSERT_EQUAL(lookup1(&t, names[k], &ino), 0);
		CU_ASSERT_EQUAL(ino, 1000 + (uint64_t)k);
	}
	CU_ASSERT_EQUAL(lookup1(&t, other, &ino), 0);
	CU_ASSERT_EQUAL(ino, 3000);
	CU_ASSERT_EQUAL(jrnl_commit(jr), 0);

	for (k = 0; k < 14; k++)
		CU_ASSERT_EQUAL(remove1(&t, names[k], NULL), 0);
	CU_ASSERT_EQUAL(remove1(&t, other, NULL), 0);
	CU_ASSERT_EQUAL(empty1(&t), 1);
	CU_ASSERT_EQUAL(check1(&t, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(destroy1(&t), 0);
	CU_ASSERT_EQUAL(mblks_used(), before);
	CU_ASSERT_EQUAL(jrnl_commit(jr), 0);
}

static const char pad[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH";

/* Name i: lengths from 8 to about 50 bytes. */
static void large_name(char *buf, size_t size, uint64_t i)
{
	snprintf(buf, size, "e%" PRIu64 ".%.*s", i, (int)(i % 40), pad);
}

/* dir_check's block callback: counts blocks, remembers 4096. */
static void bucket_cb(void *ctx, uint64_t mblk)
{
	uint64_t *m = ctx;

	if (m[0] < 4096)
		m[1 + m[0]] = mblk;
	m[0]++;
}

/*
 * dir_check reports each of the directory's nblocks blocks once; then a
 * raw edit of the stored hash of a bucket's first entry is caught.
 */
static void corrupt_and_check(struct tdir *t, uint64_t nblocks)
{
	uint64_t *blocks = calloc(4097, sizeof(uint64_t)), k;
	char why[256] = "";
	struct mbuf *mb;
	struct jop op;
	int rc, done = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(blocks);
	jop_begin(jr, &op);
	CU_ASSERT_EQUAL(dir_check(&op, &t->in, sb.hash_seed, bucket_cb,
				  blocks, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(blocks[0], nblocks);
	for (k = 1; k <= blocks[0] && k <= 4096 && !done; k++) {
		if (jop_read(&op, blocks[k], CSVFS_MAGIC_DBUCKET, &mb))
			continue;
		if (od_get16(mb->data + 0x4c) == 0)
			continue;
		CU_ASSERT_EQUAL_FATAL(jop_write(&op, mb), 0);
		od_put64(mb->data + BUCKET_OFF,
			 od_get64(mb->data + BUCKET_OFF) ^ 0x10);
		done = 1;
	}
	CU_ASSERT_EQUAL(done, 1);
	why[0] = '\0';
	rc = dir_check(&op, &t->in, sb.hash_seed, NULL, NULL, why,
		       sizeof(why));
	CU_ASSERT_EQUAL(rc, -CSVFS_ECORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "hash"));
	printf("\n    corrupted bucket: %s\n", why);
	jop_end(&op, -EIO);		/* undo the edit */
	CU_ASSERT_EQUAL(check1(t, why, sizeof(why)), 0);
	free(blocks);
}

static void test_large_directory(void)
{
	const char *env = getenv("DIR_TEST_N");
	uint64_t n = env ? strtoull(env, NULL, 10) : 100000, i, ino;
	uint64_t before = mblks_used(), r0, rmax = 0, nbad = 0;
	char name[80], why[256] = "";
	struct coll c = { 0 }, c2 = { 0 };
	struct csvfs_inode disk;
	struct jrnl_stats st0, st1;
	struct tdir t;
	struct mbuf *mb;
	struct jop op;
	double t0, tc, tcommit = 0;
	uint8_t *seen;
	int rc;

	c.hash = malloc(n * sizeof(uint64_t));
	c.ino = malloc(n * sizeof(uint64_t));
	c2.hash = malloc(n * sizeof(uint64_t));
	c2.ino = malloc(n * sizeof(uint64_t));
	seen = calloc(n, 1);
	CU_ASSERT_FATAL(c.hash && c.ino && c2.hash && c2.ino && seen);
	CU_ASSERT_EQUAL_FATAL(tdir_make(&t), 0);

	t0 = now_s();
	for (i = 0; i < n; i++) {
		large_name(name, sizeof(name), i);
		rc = add1(&t, name, 1000000 + i);
		if (rc) {
			CU_FAIL("dir_add");
			printf("\n    add %s: %s\n", name, csvfs_strerror(rc));
			break;
		}
		if ((i + 1) % COMMIT_EVERY == 0) {
			tc = now_s();
			CU_ASSERT_EQUAL_FATAL(jrnl_commit(jr), 0);
			tcommit += now_s() - tc;
		}
	}
	tc = now_s();
	CU_ASSERT_EQUAL_FATAL(jrnl_commit(jr), 0);
	tcommit += now_s() - tc;
	printf("\n    %" PRIu64 " inserts: %.2f s, of which commits %.2f s "
	       "(depth %u, %u index blocks, %" PRIu64 " mblks)\n", n,
	       now_s() - t0, tcommit,
	       od_get32(t.in.body), od_get32(t.in.body + 4),
	       mblks_used() - before);

	t0 = now_s();
	for (i = 0; i < n; i++) {
		large_name(name, sizeof(name), i);
		r0 = reads();
		rc = lookup1(&t, name, &ino);
		if (reads() - r0 > rmax)
			rmax = reads() - r0;
		if (rc || ino != 1000000 + i)
			nbad++;
	}
	printf("    %" PRIu64 " lookups: %.2f s, at most %" PRIu64
	       " block reads each\n", n, now_s() - t0, rmax);
	CU_ASSERT_EQUAL(nbad, 0);
	CU_ASSERT(rmax <= 3);

	/* Whole iteration: every name once, strictly increasing hashes. */
	c.max = n;
	c.seed = sb.hash_seed;
	t0 = now_s();
	CU_ASSERT_EQUAL(iterate1(&t, 0, &c), 0);
	printf("    iterate: %.3f s\n", now_s() - t0);
	CU_ASSERT_EQUAL(c.n, n);
	CU_ASSERT_EQUAL(c.bad, 0);
	for (i = 0, nbad = 0; i < c.n; i++) {
		uint64_t k = c.ino[i] - 1000000;

		if (k >= n || seen[k]++ || (i && c.hash[i] <= c.hash[i - 1]))
			nbad++;
	}
	CU_ASSERT_EQUAL(nbad, 0);
	/* Cookies 1 and 2 also start at the beginning. */
	c2.max = 1;
	c2.seed = sb.hash_seed;
	CU_ASSERT_EQUAL(iterate1(&t, 2, &c2), 1);
	CU_ASSERT_EQUAL(c2.hash[0], c.hash[0]);

	/* Stop in the middle, resume from the cookie: exactly the rest. */
	c2.n = 0;
	c2.max = n / 2;
	CU_ASSERT_EQUAL(iterate1(&t, 0, &c2), 1);
	CU_ASSERT_EQUAL(c2.next_cookie, c.hash[n / 2 - 1] + 1);
	c2.n = 0;
	c2.max = n;
	CU_ASSERT_EQUAL(iterate1(&t, c2.next_cookie, &c2), 0);
	CU_ASSERT_EQUAL(c2.n, n - n / 2);
	CU_ASSERT(c2.n > 0 &&
		  !memcmp(c2.hash, c.hash + n / 2, c2.n * sizeof(uint64_t)));
	c2.n = 0;
	CU_ASSERT_EQUAL(iterate1(&t, c.hash[n - 1] + 1, &c2), 0);
	CU_ASSERT_EQUAL(c2.n, 0);
	CU_ASSERT_EQUAL(iterate1(&t, 1ull << 62, &c2), 0);
	CU_ASSERT_EQUAL(c2.n, 0);

	t0 = now_s();
	rc = check1(&t, why, sizeof(why));
	CU_ASSERT_EQUAL(rc, 0);
	if (rc)
		printf("    check: %s\n", why);
	printf("    dir_check: %.3f s\n", now_s() - t0);

	/* From the disk: close, replay, reopen; cold-cache lookups. */
	CU_ASSERT_EQUAL_FATAL(close_volume(), 0);
	CU_ASSERT_EQUAL_FATAL(open_volume(), 0);
	jop_begin(jr, &op);
	rc = jop_read(&op, t.ino, CSVFS_MAGIC_INODE, &mb);
	CU_ASSERT_EQUAL(rc, 0);
	if (!rc)
		od_inode_decode(mb->data, &disk);
	jop_end(&op, 0);
	CU_ASSERT_FATAL(rc == 0);
	CU_ASSERT(!memcmp(disk.body, t.in.body, sizeof(disk.body)));
	t.in = disk;
	jrnl_get_stats(jr, &st0);
	for (i = 0, nbad = 0; i < n; i += 97) {
		large_name(name, sizeof(name), i);
		if (lookup1(&t, name, &ino) || ino != 1000000 + i)
			nbad++;
	}
	jrnl_get_stats(jr, &st1);
	CU_ASSERT_EQUAL(nbad, 0);
	CU_ASSERT(st1.cache_misses - st0.cache_misses <= 2 * (n / 97 + 1));
	CU_ASSERT_EQUAL(check1(&t, why, sizeof(why)), 0);
	c2.n = 0;
	CU_ASSERT_EQUAL(iterate1(&t, 0, &c2), 0);
	CU_ASSERT_EQUAL(c2.n, n);
	CU_ASSERT(!memcmp(c2.hash, c.hash, n * sizeof(uint64_t)));

	/* Remove the even half. */
	t0 = now_s();
	for (i = 0, nbad = 0; i < n; i += 2) {
		large_name(name, sizeof(name), i);
		if (remove1(&t, name, &ino) || ino != 1000000 + i)
			nbad++;
		if ((i / 2 + 1) % COMMIT_EVERY == 0)
			CU_ASSERT_EQUAL_FATAL(jrnl_commit(jr), 0);
	}
	CU_ASSERT_EQUAL(jrnl_commit(jr), 0);
	printf("    %" PRIu64 " removes: %.2f s\n", (n + 1) / 2,
	       now_s() - t0);
	CU_ASSERT_EQUAL(nbad, 0);
	for (i = 0, nbad = 0; i < n; i++) {
		large_name(name, sizeof(name), i);
		rc = lookup1(&t, name, &ino);
		if (i % 2 ? rc || ino != 1000000 + i : rc != -ENOENT)
			nbad++;
	}
	CU_ASSERT_EQUAL(nbad, 0);
	c2.n = 0;
	CU_ASSERT_EQUAL(iterate1(&t, 0, &c2), 0);
	CU_ASSERT_EQUAL(c2.n, n / 2);
	CU_ASSERT_EQUAL(check1(&t, why, sizeof(why)), 0);
	corrupt_and_check(&t, mblks_used() - before - 1);

	/* Empty it, then destroy: every block back. */
	for (i = 1, nbad = 0; i < n; i += 2) {
		large_name(name, sizeof(name), i);
		if (remove1(&t, name, NULL))
			nbad++;
		if ((i / 2 + 1) % COMMIT_EVERY == 0)
			CU_ASSERT_EQUAL_FATAL(jrnl_commit(jr), 0);
	}
	CU_ASSERT_EQUAL(nbad, 0);
	printf("    emptied: %" PRIu64 " mblks left after bucket merges\n",
	       mblks_used() - before - 1);
	CU_ASSERT_EQUAL(empty1(&t), 1);
	CU_ASSERT_EQUAL(check1(&t, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(destroy1(&t), 0);
	CU_ASSERT_EQUAL(mblks_used(), before);
	CU_ASSERT_EQUAL(jrnl_commit(jr), 0);

	free(seen);
	free(c.hash);
	free(c.ino);
	free(c2.hash);
	free(c2.ino);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("dir", suite_init, suite_clean);
	if (!s ||
	    !CU_add_test(s, "dir_hash is 62 bits, seeded, never a reserved "
			 "cookie", test_hash_range_and_seed) ||
	    !CU_add_test(s, "add, lookup, replace, remove and their errors",
			 test_add_lookup_remove_errors) ||
	    !CU_add_test(s, "an unsplittable full bucket gives -ENOSPC, "
			 "the table grows to its largest depth",
			 test_full_bucket_nospc_then_max_depth) ||
	    !CU_add_test(s, "100k names: O(1) lookups, ordered iteration, "
			 "replay, check, destroy", test_large_directory)) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
