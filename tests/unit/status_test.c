/*
 * status_test: fs/status.c, the one builder of the daemon's status object.
 * The fields csvfsctl reads are there in both modes, the label is JSON
 * escaped (quotes, backslashes, control bytes), the member list names the
 * coordinator, the cache block appears only when there is a cache, and an
 * object that does not fit is -ERANGE, never cut off.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "fs/status.h"
#include "net/mcache.h"

static const uint8_t uuid[16] = { 0x12, 0x34 };
static const uint32_t members[] = { 1, 2, 3 };

static struct status_view cluster_view(void)
{
	struct status_view v = {
		.mode = "cluster", .uuid = uuid, .label = "vms",
		.block_size = 1 << 20, .node = 2, .quorate = 1, .coord = 1,
		.target = 1, .preferred = 3, .self = 0,
		.members = members, .nmembers = 3,
	};
	return v;
}

static void test_cluster_object_has_every_field(void)
{
	struct status_view v = cluster_view();
	char out[1024];
	int n = status_json(&v, out, sizeof(out));

	CU_ASSERT_EQUAL_FATAL(n, (int)strlen(out));
	CU_ASSERT_STRING_EQUAL(out,
		"{\"mode\":\"cluster\",\"volume\":{\"uuid\":"
		"\"12340000-0000-0000-0000-000000000000\",\"label\":\"vms\","
		"\"block_size\":1048576},\"node\":2,\"quorate\":true,"
		"\"coordinator\":{\"node\":1,\"target\":1,\"preferred\":3,"
		"\"self\":false},\"members\":[{\"node\":1,\"state\":"
		"\"coordinator\"},{\"node\":2,\"state\":\"member\"},"
		"{\"node\":3,\"state\":\"member\"}]}");
}

static void test_standalone_object_has_the_same_fields(void)
{
	static const char *const keys[] = {
		"\"mode\":", "\"uuid\":", "\"label\":", "\"block_size\":",
		"\"node\":", "\"quorate\":", "\"coordinator\":",
		"\"target\":", "\"preferred\":", "\"self\":", "\"members\":",
		"\"state\":",
	};
	uint32_t self = 4;
	struct status_view v = {
		.mode = "standalone", .uuid = uuid, .label = "",
		.block_size = 1 << 20, .node = 4, .quorate = 1, .coord = 4,
		.target = 4, .preferred = 4, .self = 1,
		.members = &self, .nmembers = 1,
	};
	char out[1024];
	size_t i;

	CU_ASSERT_FATAL(status_json(&v, out, sizeof(out)) > 0);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		CU_ASSERT_PTR_NOT_NULL(strstr(out, keys[i]));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"label\":\"\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"self\":true"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out,
		"[{\"node\":4,\"state\":\"coordinator\"}]"));
	CU_ASSERT_PTR_NULL(strstr(out, "\"cache\""));
}

static void test_label_is_json_escaped(void)
{
	struct status_view v = cluster_view();
	char out[1024];

	v.label = "a\"b\\c\nd\x01\x7f";
	CU_ASSERT_FATAL(status_json(&v, out, sizeof(out)) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out,
		"\"label\":\"a\\\"b\\\\c\\u000ad\\u0001\\u007f\","));
}

static void test_cache_block_only_with_a_cache(void)
{
	struct status_view v = cluster_view();
	struct mcache_stats st = { .hits = 5, .misses = 6, .invals = 7,
				   .fills = 8, .entries = 9 };
	char out[1024];
	int n;

	v.cache = &st;
	n = status_json(&v, out, sizeof(out));
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, ",\"cache\":{\"hits\":5,"
		"\"misses\":6,\"fills\":8,\"invalidations\":7,"
		"\"entries\":9}}"));
	CU_ASSERT_EQUAL(out[n - 1], '}');
}

static void test_an_object_that_does_not_fit_is_erange(void)
{
	struct status_view v = cluster_view();
	char out[1024];
	int n = status_json(&v, out, sizeof(out));

	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(status_json(&v, out, (size_t)n), -ERANGE);
	CU_ASSERT_EQUAL(status_json(&v, out, (size_t)n + 1), n);
	CU_ASSERT_EQUAL(status_json(&v, out, 0), -ERANGE);
}

int main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("status", NULL, NULL);
	CU_add_test(s, "a cluster object has every field",
		    test_cluster_object_has_every_field);
	CU_add_test(s, "a standalone object has the same fields",
		    test_standalone_object_has_the_same_fields);
	CU_add_test(s, "the label is JSON-escaped", test_label_is_json_escaped);
	CU_add_test(s, "the cache block only with a cache",
		    test_cache_block_only_with_a_cache);
	CU_add_test(s, "an object that does not fit is -ERANGE",
		    test_an_object_that_does_not_fit_is_erange);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
		CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
