/* Entry point of the mount tests: skip (77) without /dev/fuse. */
#include <criterion/criterion.h>
#include <curl/curl.h>

#include "mnt.h"

int main(int argc, char *argv[])
{
	struct criterion_test_set *tests;
	int result = 0;

	mnt_require_fuse();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	tests = criterion_initialize();
	if (criterion_handle_args(argc, argv, true))
		result = !criterion_run_all_tests(tests);
	criterion_finalize(tests);
	curl_global_cleanup();
	return result;
}
