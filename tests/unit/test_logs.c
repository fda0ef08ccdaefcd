/* The per-sandbox log copies (store/logs.h) against sbxd in-process: only
 * new lines are fetched, fetches are rate-limited, the copy is capped with
 * the oldest lines dropped and a reader's offsets kept. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "api/api.h"
#include "store/logs.h"
#include "util/log.h"
#include "sbxd.h"

#define KEY "sbxfs-logs-test-key-0123456789"

static struct sbxd *srv;
static struct api *api;
static char *id;

static void quiet(void *ctx, enum sbxd_log_level level, const char *msg)
{
	(void)ctx;
	if (level == SBXD_LOG_ERROR)
		fprintf(stderr, "sbxd: %s\n", msg);
}

static void setup(void)
{
	struct sbxd_config cfg = { .listen_fd = -1, .api_key = KEY, .log = quiet };
	static char base[64];
	char *err = NULL;
	struct api_config ac = {
		.url = base, .api_key = KEY, .connect_timeout_ms = 1000,
		.request_timeout_ms = 5000, .deadline_ms = 10000,
	};
	struct sbx *s;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	log_open("stderr", LOG_LVL_ERROR);
	srv = sbxd_start(&cfg, &err);
	cr_assert_not_null(srv, "sbxd_start: %s", err ? err : "?");
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", sbxd_port(srv));
	api = api_new(&ac, &err);
	cr_assert_not_null(api);
	cr_assert_eq(api_create(api, "base", 300, NULL, &s, NULL), 0);
	id = strdup(s->id);
	sbx_unref(s);
}

static void teardown(void)
{
	free(id);
	api_free(api);
	sbxd_stop(srv);
	log_close();
	curl_global_cleanup();
}

static uint64_t requests(void)
{
	struct api_stats st;

	api_get_stats(api, &st);
	return st.requests;
}

/* Every line the server has, as one text (caller frees). */
static char *all_lines(size_t *len)
{
	struct sbx_log_line *v;
	char *text = NULL;
	size_t n;
	FILE *f = open_memstream(&text, len);

	cr_assert_eq(api_logs(api, id, -1, 1000, &v, &n, NULL), 0);
	for (size_t i = 0; i < n; i++)
		fwrite(v[i].text, 1, v[i].len, f);
	fclose(f);
	sbx_log_lines_free(v, n);
	return text;
}

static void pause_resume(void)
{
	cr_assert_eq(api_pause(api, id, NULL), 0);
	cr_assert_eq(api_resume(api, id, 300, NULL), 0);
}

/* What a reader with origin sees, whole. */
static char *read_all(struct logs *L, struct logs_sbx *e, uint64_t *origin, size_t *len)
{
	char *buf = malloc(1 << 16);
	size_t got, at = 0;

	while ((got = logs_read(L, e, origin, buf + at, 100, at)) > 0)
		at += got;
	*len = at;
	return buf;
}

Test(logs, fetches_only_new_lines, .init = setup, .fini = teardown)
{
	struct logs *L = logs_new(api, 0);
	struct logs_sbx *e;
	uint64_t origin, size, r0;
	size_t len, want_len;
	char *got, *want;
	time_t mtime;

	cr_assert_eq(logs_open(L, id, &e, &origin), 0);
	cr_assert_eq(origin, 0);
	r0 = requests();
	cr_assert_eq(logs_update(L, e, 0), 0);
	cr_expect_eq(requests() - r0, 1);
	for (int round = 0; round < 3; round++) {
		pause_resume();
		r0 = requests();
		cr_assert_eq(logs_update(L, e, 60000), 0);
		cr_expect_eq(requests() - r0, 0, "fetched within min_age");
		cr_assert_eq(logs_update(L, e, 0), 0);
		cr_expect_eq(requests() - r0, 1, "one page");
		got = read_all(L, e, &origin, &len);
		want = all_lines(&want_len);
		cr_assert_eq(len, want_len, "round %d: held %zu bytes, the server has %zu", round,
			     len, want_len);
		cr_assert_eq(memcmp(got, want, len), 0, "round %d:\n%.*s\nwant:\n%s", round,
			     (int)len, got, want);
		logs_size(L, e, &origin, &size, &mtime);
		cr_expect_eq(size, len);
		cr_expect_neq(mtime, 0);
		free(got);
		free(want);
	}
	logs_known(L, id, 60000, &size, &mtime);
	cr_expect_eq(size, len);
	logs_close(L, e);
	r0 = requests();
	logs_known(L, id, 0, &size, &mtime);
	cr_expect_eq(requests() - r0, 0, "a copy nobody reads was fetched");
	cr_expect_eq(size, len, "the copy was not kept for the next reader");
	logs_known(L, "nosuchsandbox", 0, &size, &mtime);
	cr_expect_eq(size, 0);
	logs_free(L);
}

Test(logs, capped_oldest_dropped_reader_kept, .init = setup, .fini = teardown)
{
	struct logs *L = logs_new(api, 400);
	struct logs_sbx *e;
	uint64_t origin, late, size;
	size_t len, want_len;
	char *got, *want, buf[64];
	time_t mtime;

	cr_assert_eq(logs_open(L, id, &e, &origin), 0);
	cr_assert_eq(logs_update(L, e, 0), 0);
	for (int i = 0; i < 6; i++)
		pause_resume();
	cr_assert_eq(logs_update(L, e, 0), 0);
	want = all_lines(&want_len);
	cr_assert_gt(want_len, 400);
	cr_assert_eq(logs_open(L, id, &e, &late), 0);   /* a second reader */
	cr_assert_gt(late, 0, "nothing dropped");
	got = read_all(L, e, &late, &len);
	cr_assert_leq(len, 400);
	cr_assert_eq(len, want_len - late);
	cr_assert_eq(memcmp(got, want + late, len), 0, "the window is not the newest lines");
	cr_assert(len == 0 || got[0] != '\n');
	cr_assert(late == 0 || want[late - 1] == '\n', "a line was cut");
	free(got);
	/* the first reader, at 0, skips to the oldest byte held */
	cr_assert_eq(logs_read(L, e, &origin, buf, sizeof(buf), 0), sizeof(buf));
	cr_assert_eq(origin, late);
	cr_assert_eq(memcmp(buf, want + late, sizeof(buf)), 0);
	logs_size(L, e, &origin, &size, &mtime);
	cr_assert_eq(size, len);
	logs_close(L, e);
	logs_close(L, e);
	free(want);
	logs_free(L);
}
