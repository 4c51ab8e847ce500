/*
 * dev_test: bounded I/O (meta/dev.c). A write held past the watchdog's
 * deadline (the test-only stall, CSVFS_TEST_DEV_STALL) ends the process
 * with SIGKILL before the write is submitted, so its bytes never reach
 * the image; writes within the deadline go through, and without the
 * watchdog a stalled write lands late. Each case runs in a child process.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "meta/dev.h"

static char dir[64], img[96], ctl[160];

static void set_stall(unsigned ms)
{
	FILE *f = fopen(ctl, "w");

	CU_ASSERT_FATAL(f != NULL);
	fprintf(f, "%u\n", ms);
	fclose(f);
}

/* In a child: one 4 KiB write of byte v at offset 8192. Returns the
 * wait status. */
static int child_write(int watchdog, unsigned deadline_ms, int v)
{
	pid_t pid = fork();
	int st = 0;

	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct dev *d;
		uint8_t *buf;

		setenv("CSVFS_TEST_DEV_STALL", dir, 1);
		if (dev_open(img, 0, &d))
			_exit(10);
		if (watchdog && dev_watchdog_start(d, deadline_ms))
			_exit(11);
		buf = dev_alloc_buf(4096);
		memset(buf, v, 4096);
		if (dev_pwrite(d, buf, 4096, 8192))
			_exit(12);
		dev_close(d);
		_exit(0);
	}
	CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
	return st;
}

static int byte_at_8192(void)
{
	unsigned char c = 0xee;
	int fd = open(img, O_RDONLY);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pread(fd, &c, 1, 8192), 1);
	close(fd);
	return c;
}

static void test_write_within_deadline_lands(void)
{
	int st;

	set_stall(0);
	st = child_write(1, 500, 0x11);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_EQUAL(byte_at_8192(), 0x11);
}

static void test_write_held_past_deadline_kills_before_landing(void)
{
	int st;

	set_stall(1500);
	st = child_write(1, 300, 0x22);
	CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* Killed inside the stall: the write was never submitted. */
	CU_ASSERT_EQUAL(byte_at_8192(), 0x11);
	set_stall(0);
}

static void test_without_watchdog_a_held_write_lands_late(void)
{
	int st;

	set_stall(600);
	st = child_write(0, 0, 0x33);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_EQUAL(byte_at_8192(), 0x33);
	set_stall(0);
}

int main(void)
{
	CU_pSuite s;
	char host[64] = "";
	int fd, fails;

	snprintf(dir, sizeof(dir), "/tmp/dev_test.XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	snprintf(img, sizeof(img), "%s/img", dir);
	gethostname(host, sizeof(host) - 1);
	snprintf(ctl, sizeof(ctl), "%s/%s", dir, host);
	fd = open(img, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 20))
		return 2;
	close(fd);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("dev", NULL, NULL);
	CU_add_test(s, "write within the deadline lands",
		    test_write_within_deadline_lands);
	CU_add_test(s, "write held past the deadline kills before landing",
		    test_write_held_past_deadline_kills_before_landing);
	CU_add_test(s, "without the watchdog a held write lands late",
		    test_without_watchdog_a_held_write_lands_late);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	unlink(ctl);
	unlink(img);
	rmdir(dir);
	return fails ? 1 : 0;
}
