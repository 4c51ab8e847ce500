/*
 * format_test: meta/format.c. A formatted volume's superblock and backup
 * pass the one validator (fmt_check_super) and read back; every layout
 * fault the validator knows is refused with -CSVFS_ECORRUPT and named,
 * including a volume size that overflows 64 bits in bytes; a device
 * smaller than the volume is -CSVFS_ETOOSMALL at mount, a device smaller
 * than fmt_min_size is refused by fmt_volume.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "meta/ondisk.h"
#include "tests/unit/testimg.h"

#define GIB	(1ull << 30)

static char img[64];

static int make_img(uint64_t size)
{
	return testimg_new(img, sizeof(img), "format_test", size);
}

/* A formatted 1 GiB volume's superblock (sb) and its raw block (raw). */
static struct csvfs_super sb;
static uint8_t raw[CSVFS_MBLK_SIZE];

static int suite_init(void)
{
	struct fmt_opts o = { .label = "fmt" };
	uint8_t *buf;		/* aligned: the device may be O_DIRECT */
	struct dev *d;
	int rc;

	if (make_img(GIB) || dev_open(img, 0, &d))
		return -1;
	buf = dev_alloc_buf(CSVFS_MBLK_SIZE);

	rc = buf ? fmt_volume(d, &o, &sb) : -ENOMEM;
	if (!rc)
		rc = dev_pread(d, buf, CSVFS_MBLK_SIZE, CSVFS_SB_MBLK *
			       CSVFS_MBLK_SIZE);
	if (!rc)
		memcpy(raw, buf, sizeof(raw));
	free(buf);
	dev_close(d);
	return rc ? -1 : 0;
}

static int suite_clean(void)
{
	unlink(img);
	return 0;
}

static void test_a_formatted_volume_reads_back_and_has_its_backup(void)
{
	struct csvfs_super a, b;
	struct dev *d;

	CU_ASSERT_FATAL(dev_open(img, DEV_RDONLY, &d) == 0);
	CU_ASSERT_EQUAL(fmt_read_super(d, &a), 0);
	CU_ASSERT_EQUAL(fmt_read_backup(d, &b), 0);
	CU_ASSERT_EQUAL(a.total_blocks, sb.total_blocks);
	CU_ASSERT_EQUAL(b.total_blocks, sb.total_blocks);
	CU_ASSERT_EQUAL(memcmp(a.hdr.uuid, b.hdr.uuid, CSVFS_UUID_SIZE), 0);
	CU_ASSERT_STRING_EQUAL(a.label, "fmt");
	CU_ASSERT_EQUAL(a.block_shift, 20);
	CU_ASSERT(a.total_blocks << a.block_shift <= GIB);
	dev_close(d);
}

static void test_the_validator_accepts_what_format_wrote(void)
{
	struct csvfs_super s;
	const char *why = "x";

	CU_ASSERT_EQUAL(fmt_check_super(raw, CSVFS_SB_MBLK, &s, &why), 0);
	CU_ASSERT_PTR_NULL(why);
	CU_ASSERT_EQUAL(s.root_ino, sb.root_ino);
	CU_ASSERT_EQUAL(fmt_check_super(raw, CSVFS_SB_MBLK, &s, NULL), 0);
}

/* fmt_check_super of sb changed by fn, re-encoded and sealed. */
static int check_changed(void (*fn)(struct csvfs_super *), const char **why)
{
	static uint8_t b[CSVFS_MBLK_SIZE];
	struct csvfs_super s = sb, out;

	fn(&s);
	memcpy(b, raw, sizeof(b));
	od_super_encode(&s, b);
	od_seal(b);
	return fmt_check_super(b, CSVFS_SB_MBLK, &out, why);
}

static void small_shift(struct csvfs_super *s) { s->block_shift = 19; }
static void big_shift(struct csvfs_super *s) { s->block_shift = 24; }
static void no_nodes(struct csvfs_super *s) { s->max_nodes = 0; }
static void too_many_nodes(struct csvfs_super *s)
{
	s->max_nodes = CSVFS_MAX_NODES_LIMIT + 1;
}
static void data_past_end(struct csvfs_super *s)
{
	s->data_start = s->total_blocks;
}
static void overflowing_size(struct csvfs_super *s)
{
	s->total_blocks = (UINT64_MAX >> s->block_shift) + 1;
	s->bitmap_len = 0;	/* would be caught anyway: pick the first */
	s->bitmap_len = s->total_blocks / CSVFS_BITMAP_BITS + 1;
}
static void journal_on_bitmap(struct csvfs_super *s)
{
	s->journal_len = s->bitmap_mblk - s->journal_mblk + 1;
}
static void short_journal(struct csvfs_super *s) { s->journal_len = 15; }
static void short_bitmap(struct csvfs_super *s) { s->bitmap_len = 0; }
static void moved_backup(struct csvfs_super *s) { s->backup_mblk--; }
static void clients_on_journal(struct csvfs_super *s)
{
	s->client_mblk = s->journal_mblk - s->max_nodes + 1;
}
static void chunk_outside(struct csvfs_super *s)
{
	s->first_chunk = s->total_blocks;
}
static void root_outside(struct csvfs_super *s) { s->root_ino = 5; }

static void test_every_layout_fault_is_ecorrupt_and_named(void)
{
	static const struct {
		void (*fn)(struct csvfs_super *);
		const char *why;
	} cases[] = {
		{ small_shift, "invalid block size" },
		{ big_shift, "invalid block size" },
		{ no_nodes, "invalid node count" },
		{ too_many_nodes, "invalid node count" },
		{ data_past_end, "invalid data area" },
		{ overflowing_size, "invalid data area" },
		{ moved_backup, "invalid heartbeat or backup position" },
		{ clients_on_journal, "invalid client table position" },
		{ journal_on_bitmap, "invalid journal position" },
		{ short_journal, "invalid journal position" },
		{ short_bitmap, "invalid bitmap position" },
		{ chunk_outside, "first meta chunk outside the data area" },
		{ root_outside, "root inode outside the data area" },
	};
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why = NULL;
		CU_ASSERT_EQUAL(check_changed(cases[i].fn, &why),
				-CSVFS_ECORRUPT);
		CU_ASSERT(why && !strcmp(why, cases[i].why));
		if (!why || strcmp(why, cases[i].why))
			printf("\n    case %zu: '%s', want '%s'", i,
			       why ? why : "(none)", cases[i].why);
	}
}

static void test_raw_faults_come_before_the_layout(void)
{
	static uint8_t b[CSVFS_MBLK_SIZE];
	struct csvfs_super s;
	const char *why = "x";

	memset(b, 0, sizeof(b));
	CU_ASSERT_EQUAL(fmt_check_super(b, CSVFS_SB_MBLK, &s, &why),
			-CSVFS_ENOTCSVFS);
	CU_ASSERT_PTR_NULL(why);
	memcpy(b, raw, sizeof(b));
	b[200] ^= 1;
	CU_ASSERT_EQUAL(fmt_check_super(b, CSVFS_SB_MBLK, &s, &why),
			-CSVFS_EBADCRC);
	CU_ASSERT_EQUAL(fmt_check_super(raw, CSVFS_SB_MBLK + 1, &s, &why),
			-CSVFS_EBADBLK);
}

static void test_a_device_smaller_than_the_volume_is_etoosmall(void)
{
	struct csvfs_super s;
	struct dev *d;

	CU_ASSERT_FATAL(truncate(img, (off_t)(GIB / 2)) == 0);
	CU_ASSERT_FATAL(dev_open(img, DEV_RDONLY, &d) == 0);
	CU_ASSERT_EQUAL(fmt_read_super(d, &s), -CSVFS_ETOOSMALL);
	dev_close(d);
	CU_ASSERT_FATAL(truncate(img, (off_t)GIB) == 0);
	CU_ASSERT_FATAL(dev_open(img, DEV_RDONLY, &d) == 0);
	CU_ASSERT_EQUAL(fmt_read_super(d, &s), 0);
	dev_close(d);
}

static void test_format_refuses_a_device_below_the_minimum(void)
{
	struct fmt_opts o = { 0 };
	char small[64];
	struct dev *d;
	int fd;

	snprintf(small, sizeof(small), "/tmp/format_test_small.XXXXXX");
	fd = mkstemp(small);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(ftruncate(fd, (off_t)(fmt_min_size(&o) - (1 << 20)))
			== 0);
	close(fd);
	CU_ASSERT_FATAL(dev_open(small, 0, &d) == 0);
	CU_ASSERT_EQUAL(fmt_volume(d, &o, NULL), -CSVFS_ETOOSMALL);
	dev_close(d);
	unlink(small);
}

int main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("format", suite_init, suite_clean);
	CU_add_test(s, "a formatted volume reads back and has its backup",
		    test_a_formatted_volume_reads_back_and_has_its_backup);
	CU_add_test(s, "the validator accepts what format wrote",
		    test_the_validator_accepts_what_format_wrote);
	CU_add_test(s, "every layout fault is ECORRUPT and named",
		    test_every_layout_fault_is_ecorrupt_and_named);
	CU_add_test(s, "raw faults come before the layout",
		    test_raw_faults_come_before_the_layout);
	CU_add_test(s, "a device smaller than the volume is ETOOSMALL",
		    test_a_device_smaller_than_the_volume_is_etoosmall);
	CU_add_test(s, "format refuses a device below the minimum",
		    test_format_refuses_a_device_below_the_minimum);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
		CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
