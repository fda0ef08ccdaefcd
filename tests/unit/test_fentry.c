/* envd's EntryInfo decoder, its errno map and the directory-listing cache,
 * without a network. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "cache/dircache.h"
#include "envd/client.h"
#include "model/fentry.h"

Test(fentry, a_stat_reply_gives_size_mode_type_and_time)
{
	const char *b = "{\"entry\":{\"name\":\"a.txt\",\"type\":\"FILE_TYPE_FILE\","
			"\"path\":\"/home/user/a.txt\",\"size\":\"5\",\"mode\":420,"
			"\"permissions\":\"-rw-r--r--\",\"owner\":\"user\",\"group\":\"user\","
			"\"modifiedTime\":\"2026-01-02T03:04:05.678912345Z\"}}";
	struct fentry e;

	cr_assert_eq(fentry_parse_reply(b, strlen(b), &e), 0);
	cr_assert_str_eq(e.name, "a.txt");
	cr_assert_eq(e.type, FENTRY_FILE);
	cr_assert_eq(e.size, 5);
	cr_assert_eq(e.mode, 0644);
	cr_assert_eq(e.mtime_ms % 1000, 678);
	cr_assert_null(e.symlink_target);
	fentry_clear(&e);
}

Test(fentry, sizes_come_as_strings_or_numbers_and_zeros_are_omitted)
{
	const char *b = "{\"entry\":{\"name\":\"d\",\"type\":\"FILE_TYPE_DIRECTORY\"}}";
	const char *n = "{\"entry\":{\"name\":\"f\",\"type\":1,\"size\":123}}";
	struct fentry e;

	cr_assert_eq(fentry_parse_reply(b, strlen(b), &e), 0);
	cr_assert_eq(e.type, FENTRY_DIR);
	cr_assert_eq(e.size, 0);
	fentry_clear(&e);
	cr_assert_eq(fentry_parse_reply(n, strlen(n), &e), 0);
	cr_assert_eq(e.size, 123);
	cr_assert_eq(e.type, FENTRY_FILE);
	fentry_clear(&e);
}

Test(fentry, bad_shapes_are_eproto)
{
	const char *bad[] = {
		"", "[]", "{}", "{\"entry\":[]}", "{\"entry\":{}}",
		"{\"entry\":{\"name\":1}}", "{\"entry\":{\"name\":\"a\",\"size\":\"-1\"}}",
		"{\"entry\":{\"name\":\"a\",\"size\":\"12x\"}}",
		"{\"entry\":{\"name\":\"a\",\"size\":\"99999999999999999999\"}}",
		"{\"entry\":{\"name\":\"a\",\"mode\":\"420\"}}",
		"{\"entry\":{\"name\":\"a\",\"mode\":-1}}",
		"{\"entries\":{}}",
	};
	struct fentry e, *v;
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(fentry_parse_reply(bad[i], strlen(bad[i]), &e), -EPROTO, "%s", bad[i]);
	cr_assert_eq(fentry_parse_list("{\"entries\":{}}", 14, &v, &n), -EPROTO);
	cr_assert_eq(fentry_parse_list("{\"entries\":[1]}", 15, &v, &n), -EPROTO);
}

Test(fentry, a_listing_is_sorted_deduplicated_and_holds_only_nameable_entries)
{
	const char *b = "{\"entries\":["
		"{\"name\":\"b\",\"type\":\"FILE_TYPE_FILE\",\"size\":\"2\"},"
		"{\"name\":\"a\",\"type\":\"FILE_TYPE_DIRECTORY\"},"
		"{\"name\":\"b\",\"type\":\"FILE_TYPE_FILE\",\"size\":\"9\"},"
		"{\"name\":\"..\",\"type\":\"FILE_TYPE_DIRECTORY\"},"
		"{\"name\":\"x/y\",\"type\":\"FILE_TYPE_FILE\"},"
		"{\"name\":\"\",\"type\":\"FILE_TYPE_FILE\"},"
		"{\"name\":\"u\",\"type\":\"FILE_TYPE_UNSPECIFIED\"},"
		"{\"name\":\"l\",\"type\":\"FILE_TYPE_UNSPECIFIED\",\"symlinkTarget\":\"/nowhere\"}]}";
	struct fentry *v;
	size_t n;

	cr_assert_eq(fentry_parse_list(b, strlen(b), &v, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(v[0].name, "a");
	cr_assert_str_eq(v[1].name, "b");
	cr_assert_str_eq(v[2].name, "l");
	cr_assert_eq(v[2].type, FENTRY_SYMLINK);
	fentry_list_free(v, n);
	cr_assert_eq(fentry_parse_list("{}", 2, &v, &n), 0);
	cr_assert_eq(n, 0);
}

Test(errmap, connect_codes_and_file_statuses_map_to_one_errno_each)
{
	cr_assert_eq(envdc_errno_status(404, "not_found", "x"), -ENOENT);
	cr_assert_eq(envdc_errno_status(409, "already_exists", "x"), -EEXIST);
	cr_assert_eq(envdc_errno_status(403, "permission_denied", "x"), -EACCES);
	cr_assert_eq(envdc_errno_status(400, "invalid_argument", "bad"), -EINVAL);
	cr_assert_eq(envdc_errno_status(400, "invalid_argument", "path is not a directory: /a"),
		     -ENOTDIR);
	cr_assert_eq(envdc_errno_status(400, NULL, "path '/a' is a directory"), -EISDIR);
	cr_assert_eq(envdc_errno_status(504, "deadline_exceeded", "x"), -ETIMEDOUT);
	cr_assert_eq(envdc_errno_status(503, "unavailable", "x"), -EAGAIN);
	cr_assert_eq(envdc_errno_status(507, NULL, "full"), -ENOSPC);
	cr_assert_eq(envdc_errno_status(502, "unavailable", "sandbox not found"), -EHOSTDOWN);
	cr_assert_eq(envdc_errno_status(401, NULL, "unauthorized"), -EACCES);
	cr_assert_eq(envdc_errno_status(500, "internal", "x"), -EIO);
	cr_assert_eq(envdc_errno_transport(CURLE_OPERATION_TIMEDOUT, 0), -ETIMEDOUT);
}

/* ---- the listing cache ---- */

struct counter {
	int calls;
	int delay_ms;
	int fail;
};

static int fetch_one(void *ctx, struct fentry **v, size_t *n)
{
	struct counter *c = ctx;

	__atomic_add_fetch(&c->calls, 1, __ATOMIC_SEQ_CST);
	usleep((useconds_t)c->delay_ms * 1000);
	if (c->fail)
		return c->fail;
	*v = calloc(1, sizeof(**v));
	(*v)->name = strdup("f");
	(*v)->type = FENTRY_FILE;
	*n = 1;
	return 0;
}

struct getter {
	struct dircache *c;
	struct counter *k;
	int err;
};

static void *get_one(void *arg)
{
	struct getter *g = arg;
	struct dirlist *l = NULL;

	g->err = dircache_get(g->c, "id", "/d", fetch_one, g->k, &l);
	dirlist_put(l);
	return NULL;
}

Test(dircache, concurrent_gets_of_one_directory_fetch_it_once)
{
	struct dircache *c = dircache_new(60000, 8);
	struct counter k = { .delay_ms = 200 };
	struct getter g[4];
	pthread_t t[4];

	for (int i = 0; i < 4; i++) {
		g[i] = (struct getter){ c, &k, 1 };
		pthread_create(&t[i], NULL, get_one, &g[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(g[i].err, 0);
	}
	cr_assert_eq(k.calls, 1);
	dircache_free(c);
}

Test(dircache, a_drop_forgets_and_the_bound_evicts_the_oldest)
{
	struct dircache *c = dircache_new(60000, 2);
	struct counter k = { 0 };
	struct dirlist *l;
	char p[8];

	cr_assert_eq(dircache_get(c, "id", "/d", fetch_one, &k, &l), 0);
	cr_assert_not_null(dirlist_find(l, "f"));
	cr_assert_null(dirlist_find(l, "g"));
	dirlist_put(l);
	cr_assert_eq(dircache_get(c, "id", "/d", fetch_one, &k, &l), 0);
	dirlist_put(l);
	cr_assert_eq(k.calls, 1);
	dircache_drop(c, "id", "/", 1);
	cr_assert_null(dircache_peek(c, "id", "/d"));
	for (int i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "/%d", i);
		cr_assert_eq(dircache_get(c, "id", p, fetch_one, &k, &l), 0);
		dirlist_put(l);
	}
	cr_assert_eq(dircache_count(c), 2);
	cr_assert_null(dircache_peek(c, "id", "/0"));
	cr_assert_not_null((l = dircache_peek(c, "id", "/4")));
	dirlist_put(l);
	dircache_free(c);
}

/* A change to one name keeps the rest of the listing: the name is stale
 * (asked of envd alone) until settled, and a settle from an older listing
 * is not kept; past DIRCACHE_MAX_STALE names the listing goes. */
Test(dircache, a_change_to_one_name_keeps_the_others)
{
	struct dircache *c = dircache_new(60000, 8);
	struct counter k = { 0 };
	char gname[] = "g";
	struct fentry g = { .name = gname, .type = FENTRY_FILE, .size = 7 };
	struct dirlist *l, *held, *flat;
	uint64_t v;
	char name[16];

	cr_assert_eq(dircache_get(c, "id", "/d", fetch_one, &k, &held), 0);
	dircache_forget_name(c, "id", "/d", "f");
	dircache_forget_name(c, "id", "/d", "g");
	cr_assert_not_null(dirlist_find(held, "f"), "a listing held does not change");
	cr_assert_not_null((l = dircache_peek(c, "id", "/d")), "the listing stays");
	cr_expect_null(dirlist_find(l, "f"));
	cr_expect(dirlist_stale(l, "f"));
	cr_expect(dirlist_stale(l, "g"));
	cr_expect_not(dirlist_stale(l, "h"));
	v = l->version;
	dirlist_put(l);
	dircache_settle(c, "id", "/d", held->version, "g", &g);   /* too old: ignored */
	cr_assert_not_null((l = dircache_peek(c, "id", "/d")));
	cr_expect(dirlist_stale(l, "g"));
	dirlist_put(l);
	dircache_settle(c, "id", "/d", v, "g", &g);
	cr_assert_not_null((l = dircache_peek(c, "id", "/d")));
	cr_expect_not(dirlist_stale(l, "g"));
	cr_assert_not_null(dirlist_find(l, "g"));
	cr_expect_eq(dirlist_find(l, "g")->size, 7);
	cr_expect(dirlist_stale(l, "f"));
	v = l->version;
	dirlist_put(l);
	dircache_settle(c, "id", "/d", v, "f", NULL);   /* f is gone */
	cr_assert_not_null((l = dircache_peek(c, "id", "/d")));
	cr_expect_not(dirlist_stale(l, "f"));
	cr_expect_null(dirlist_find(l, "f"));
	cr_expect(l->v == held->v, "the fetched entries are shared, not copied");
	cr_assert_eq(dirlist_flatten(l, &flat), 0);
	cr_assert_eq(flat->n, 1);
	cr_expect_str_eq(flat->v[0].name, "g");
	cr_expect_eq(flat->v[0].size, 7);
	dirlist_put(flat);
	dirlist_put(l);
	dirlist_put(held);
	cr_expect_eq(k.calls, 1, "no fetch for any of it");
	for (int i = 0; i <= DIRCACHE_MAX_STALE; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		dircache_forget_name(c, "id", "/d", name);
	}
	cr_expect_null(dircache_peek(c, "id", "/d"), "too many stale names: dropped");
	/* No listing cached: nothing to keep, nothing made. */
	dircache_forget_name(c, "id", "/e", "x");
	cr_expect_null(dircache_peek(c, "id", "/e"));
	dircache_free(c);
}

/* Changes settled one after another: each costs what changed, not the
 * listing; past DIRCACHE_MAX_DELTA of them the listing gets entries of
 * its own with all of them in, and loses none. */
Test(dircache, many_changes_are_merged_once_and_none_is_lost)
{
	struct dircache *c = dircache_new(60000, 8);
	struct counter k = { 0 };
	struct dirlist *l, *held, *flat;
	char name[16];
	int n = DIRCACHE_MAX_DELTA + 40;
	bool merged = false;

	cr_assert_eq(dircache_get(c, "id", "/d", fetch_one, &k, &held), 0);
	for (int i = 0; i < n; i++) {
		struct fentry e = { .name = name, .type = FENTRY_FILE, .size = (uint64_t)i };

		snprintf(name, sizeof(name), "n%03d", i);
		dircache_forget_name(c, "id", "/d", name);
		cr_assert_not_null((l = dircache_peek(c, "id", "/d")), "change %d dropped it", i);
		cr_assert(dirlist_stale(l, name));
		dircache_settle(c, "id", "/d", l->version, name, &e);
		dirlist_put(l);
		cr_assert_not_null((l = dircache_peek(c, "id", "/d")));
		cr_assert_not(dirlist_stale(l, name));
		cr_assert_leq(l->n_extra + l->n_gone, DIRCACHE_MAX_DELTA);
		merged |= l->v != held->v;
		dirlist_put(l);
	}
	cr_expect(merged, "%d changes never merged", n);
	dircache_forget_name(c, "id", "/d", "f");
	cr_assert_not_null((l = dircache_peek(c, "id", "/d")));
	cr_expect(dirlist_stale(l, "f"));
	cr_assert_eq(dirlist_flatten(l, &flat), 0);
	cr_expect(dirlist_stale(flat, "f"), "a stale name stays stale when flattened");
	cr_assert_eq(flat->n, (size_t)n);
	for (int i = 0; i < n; i++) {
		const struct fentry *e;

		snprintf(name, sizeof(name), "n%03d", i);
		cr_assert_str_eq(flat->v[i].name, name);
		cr_assert_not_null((e = dirlist_find(l, name)));
		cr_assert_eq(e->size, (uint64_t)i);
	}
	cr_expect_null(dirlist_find(l, "f"));
	cr_expect_not_null(dirlist_find(held, "f"), "a listing held does not change");
	cr_expect_eq(k.calls, 1, "no fetch for any of it");
	dirlist_put(flat);
	dirlist_put(l);
	dirlist_put(held);
	dircache_free(c);
}

/* Files being written here are laid over the listing without copying it,
 * in place of what it had, and a flat listing of the two has both. */
Test(dircache, an_overlay_shows_files_being_written)
{
	struct dircache *c = dircache_new(60000, 8);
	struct counter k = { 0 };
	struct dirlist *l, *mine, *flat;
	struct fentry *own = calloc(2, sizeof(*own));

	cr_assert_eq(dircache_get(c, "id", "/d", fetch_one, &k, &l), 0);
	own[0].name = strdup("f");
	own[0].size = 99;
	own[1].name = strdup("a");
	own[1].size = 1;
	cr_assert_eq(dirlist_overlay(l, own, 2, &mine), 0);
	fentry_list_free(own, 2);
	cr_expect(mine->v == l->v);
	cr_expect_eq(dirlist_find(mine, "f")->size, 99);
	cr_expect_eq(dirlist_find(l, "f")->size, 0);
	cr_expect_null(dirlist_as_fetched(mine, "f"), "written here: not as fetched");
	cr_expect_null(dirlist_as_fetched(mine, "a"));
	cr_expect(dirlist_as_fetched(l, "f") == &l->v[0]);
	cr_assert_eq(dirlist_flatten(mine, &flat), 0);
	cr_assert_eq(flat->n, 2);
	cr_expect_str_eq(flat->v[0].name, "a");
	cr_expect_str_eq(flat->v[1].name, "f");
	cr_expect_eq(flat->v[1].size, 99);
	dirlist_put(flat);
	cr_assert_eq(dirlist_flatten(l, &flat), 0);
	cr_expect(flat == l, "a fetched listing is flat already");
	dirlist_put(flat);
	dirlist_put(mine);
	dirlist_put(l);
	dircache_free(c);
}

Test(dircache, a_failed_fetch_is_not_kept)
{
	struct dircache *c = dircache_new(60000, 8);
	struct counter k = { .fail = -EHOSTDOWN };
	struct dirlist *l;

	cr_assert_eq(dircache_get(c, "id", "/d", fetch_one, &k, &l), -EHOSTDOWN);
	cr_assert_null(l);
	cr_assert_eq(dircache_count(c), 0);
	dircache_free(c);
}

Test(fentry, metrics_disk_fields)
{
	const char ok[] = "{\"ts\":1,\"disk_used\":4096,\"disk_total\":1073741824,\"mem_used\":5}";
	uint64_t used = 1, total = 1;

	cr_assert_eq(fentry_parse_disk(ok, strlen(ok), &used, &total), 0);
	cr_expect_eq(used, 4096);
	cr_expect_eq(total, 1073741824);
	cr_expect_eq(fentry_parse_disk("{\"disk_used\":1}", 15, &used, &total), -EPROTO);
	cr_expect_eq(total, 0);
	cr_expect_eq(fentry_parse_disk("{\"disk_used\":-1,\"disk_total\":2}", 31, &used, &total),
		     -EPROTO);
	cr_expect_eq(fentry_parse_disk("{\"disk_used\":\"1\",\"disk_total\":2}", 32, &used, &total),
		     -EPROTO);
	/* A good first field must not be kept when the second is bad. */
	cr_expect_eq(fentry_parse_disk("{\"disk_used\":8,\"disk_total\":-4}", 31, &used, &total),
		     -EPROTO);
	cr_expect_eq(used, 0);
	cr_expect_eq(total, 0);
	cr_expect_eq(fentry_parse_disk("[1]", 3, &used, &total), -EPROTO);
	cr_expect_eq(fentry_parse_disk(NULL, 0, &used, &total), -EPROTO);
}
