/* .sbxfs/status rendering: the fields, and never the key. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/scrub.h"
#include "fs/status.h"

#define KEY "sk_live_0123456789abcdef"

/* The key is a secret of the process, as the API client makes it. */
static void add_key(void)
{
	cr_assert_eq(scrub_add(KEY), 0);
}

static void forget(void)
{
	scrub_reset();
}

static struct status_info sample(void)
{
	struct status_info si = {
		.version = "0.1.0",
		.backend = "http://127.0.0.1:4000",
		.embedded = true,
		.cache_ttl = 2,
		.provider = "e2b",
	};

	si.api.requests = 7;
	si.api.retries = 1;
	si.api.failures = 2;
	si.api.reachable = true;
	si.cache.hits = 10;
	si.cache.misses = 3;
	si.cache.refreshes = 3;
	si.cache.entries = 42;
	return si;
}

Test(status, fields)
{
	struct status_info si = sample();
	size_t len;
	char *t = status_render(&si, &len);

	cr_assert_not_null(t);
	cr_assert_eq(strlen(t), len);
	cr_assert_eq(t[len - 1], '\n');
	static const char *const want[] = {
		"version=0.1.0\n", "provider=e2b\n", "backend=http://127.0.0.1:4000\n", "reachable=yes\n",
		"embedded=yes\n", "last_error=none\n", "requests=7\n", "retries=1\n",
		"failures=2\n", "cache_hits=10\n", "cache_misses=3\n", "cache_refreshes=3\n",
		"sandboxes=42\n", "cache_ttl=2\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect(strstr(t, want[i]), "missing %s in\n%s", want[i], t);
	free(t);
}

Test(status, process_streams_show_only_where_procs_are_served)
{
	struct status_info si = sample();
	size_t len;
	char *t = status_render(&si, &len);

	cr_assert_not_null(t);
	cr_assert_null(strstr(t, "procs_attached="), "%s", t);
	free(t);
	si.procs = true;
	si.procs_attached = 3;
	si.max_procs = 64;
	t = status_render(&si, &len);
	cr_assert(strstr(t, "\nprocs_attached=3\nmax_procs=64\n"), "%s", t);
	free(t);
}

Test(status, last_error_and_no_key, .init = add_key, .fini = forget)
{
	struct status_info si = sample();
	size_t len;
	char *t;

	si.api.last_error.http_status = 401;
	si.api.last_error.err = -EACCES;
	si.api.last_error.when = 1795876467;
	snprintf(si.api.last_error.message, sizeof(si.api.last_error.message),
		 "invalid key " KEY "\nsecond line");
	t = status_render(&si, &len);
	cr_assert_not_null(t);
	cr_assert_null(strstr(t, KEY), "key leaked:\n%s", t);
	cr_assert_null(strstr(t, "0123456789abcdef"));
	cr_assert(strstr(t, "last_error=401 invalid key ***?second line (20"), "%s", t);
	cr_assert(strstr(t, "Z)\n"));
	free(t);
}

Test(status, transport_error)
{
	struct api_error e = { .err = -ECONNREFUSED, .when = 0 };
	char buf[256];

	snprintf(e.message, sizeof(e.message), "Connection refused");
	status_format_error(&e, buf, sizeof(buf));
	cr_assert(strncmp(buf, "ECONNREFUSED Connection refused (", 33) == 0, "%s", buf);
}

Test(status, key_in_backend_url_is_scrubbed, .init = add_key, .fini = forget)
{
	struct status_info si = sample();
	size_t len;
	char *t;

	si.backend = "https://user:" KEY "@example.org";
	t = status_render(&si, &len);
	cr_assert_null(strstr(t, KEY));
	free(t);
}
