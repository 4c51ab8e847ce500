/*
 * log_test: include/csvfs/log.h, the one logging interface. Lines carry
 * their context first in the documented spelling ("ino N: ", "node N: ",
 * "node N req S: "), debug lines are dropped unless log_open asked for
 * them, and a long message is cut, not overflowed. The lines are read
 * back from stderr (log_open's LOG_TO_STDERR is syslog's LOG_PERROR).
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "csvfs/log.h"

static int saved_err = -1;
static int pipefd[2];
static char got[8192];

/* Sends stderr into a pipe until captured() reads it back. */
static void capture(int debug)
{
	fflush(stderr);
	CU_ASSERT_FATAL(pipe2(pipefd, O_NONBLOCK) == 0);
	saved_err = dup(2);
	CU_ASSERT_FATAL(saved_err >= 0);
	CU_ASSERT_FATAL(dup2(pipefd[1], 2) == 2);
	log_open("log_test", LOG_TO_STDERR, debug);
}

static const char *captured(void)
{
	ssize_t n;

	log_close();
	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	close(pipefd[1]);
	n = read(pipefd[0], got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = 0;
	close(pipefd[0]);
	return got;
}

static void test_context_prefixes(void)
{
	const char *s;

	capture(0);
	log_ino(77, "cannot read: %s", "Input/output error");
	log_ino_at(LOG_WARNING, 78, "refused");
	log_node(LOG_NOTICE, 3, "heartbeat %s", "resumed");
	log_req(LOG_ERR, 2, 41, "create of ino %u failed", 9u);
	log_err("journal: %d transactions", 5);
	s = captured();
	CU_ASSERT_PTR_NOT_NULL(strstr(s, ": ino 77: cannot read: Input/output "
				      "error\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, ": ino 78: refused\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, ": node 3: heartbeat resumed\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, ": node 2 req 41: create of ino 9 "
				      "failed\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, ": journal: 5 transactions\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "log_test"));
}

static void test_debug_only_when_asked(void)
{
	const char *s;

	capture(0);
	log_debug("hidden %d", 1);
	log_info("shown %d", 1);
	s = captured();
	CU_ASSERT_PTR_NULL(strstr(s, "hidden"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "shown 1"));

	capture(1);
	log_debug("visible %d", 2);
	s = captured();
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "visible 2"));
}

static void test_long_line_is_cut(void)
{
	static char big[4000];
	const char *s;

	memset(big, 'x', sizeof(big) - 1);
	capture(0);
	log_ino(5, "%s", big);
	s = captured();
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "ino 5: xxxx"));
	/* the message is cut at the line buffer (1023 bytes) */
	CU_ASSERT(strlen(s) < 1200);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("log", NULL, NULL);
	CU_add_test(s, "context prefixes", test_context_prefixes);
	CU_add_test(s, "debug only when asked", test_debug_only_when_asked);
	CU_add_test(s, "long line is cut", test_long_line_is_cut);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
