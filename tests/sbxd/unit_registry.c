/* The registry: create, find, list pages, kill, pause/resume/connect,
 * expiry driven by an explicit clock, the sandbox limit, and a journal whose
 * failed commits must change nothing. */
#include "registry/registry.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#define T0 1700000000000LL

static struct sandbox_spec spec(unsigned timeout, bool auto_pause, const json_t *md)
{
	return (struct sandbox_spec){
		.template_id = "base", .alias = "base", .envd_version = "0.2.0",
		.cpu_count = 2, .memory_mb = 512, .disk_mb = 512,
		.timeout_s = timeout, .auto_pause = auto_pause, .allow_internet = -1,
		.metadata = md,
	};
}

static void make(struct reg *r, unsigned timeout, bool auto_pause, const json_t *md,
		 int64_t now, char id[21])
{
	struct sandbox_spec sp = spec(timeout, auto_pause, md);
	json_t *out = NULL;

	cr_assert_eq(reg_create(r, &sp, now, &out), 0);
	const char *s = json_string_value(json_object_get(out, "sandboxID"));
	cr_assert(s && strlen(s) == 20);
	for (const char *p = s; *p; p++)
		cr_assert((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'), "%s", s);
	memcpy(id, s, 21);
	json_decref(out);
}

static const char *state_of(struct reg *r, const char *id)
{
	static char buf[16];
	json_t *o;

	if (reg_get(r, id, SBX_VIEW_DETAIL, &o) < 0)
		return "gone";
	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(o, "state")));
	json_decref(o);
	return buf;
}

Test(registry, create_get_kill)
{
	struct reg *r = reg_new(10);
	char id[21];
	json_t *o;

	make(r, 60, false, NULL, T0, id);
	cr_assert_eq(reg_get(r, id, SBX_VIEW_DETAIL, &o), 0);
	cr_expect_str_eq(json_string_value(json_object_get(o, "endAt")), "2023-11-14T22:14:20.000Z");
	cr_expect_str_eq(json_string_value(json_object_get(o, "startedAt")), "2023-11-14T22:13:20.000Z");
	cr_expect_str_eq(json_string_value(json_object_get(o, "templateID")), "base");
	cr_expect_eq(json_integer_value(json_object_get(o, "memoryMB")), 512);
	json_decref(o);
	cr_expect_eq(reg_count(r), 1);
	cr_expect_eq(reg_kill(r, id), 0);
	cr_expect_eq(reg_kill(r, id), -ENOENT);
	cr_expect_eq(reg_get(r, id, SBX_VIEW_DETAIL, &o), -ENOENT);
	cr_expect_eq(reg_count(r), 0);
	reg_free(r);
}

Test(registry, limit)
{
	struct reg *r = reg_new(3);
	char id[21];
	json_t *out;
	struct sandbox_spec sp = spec(60, false, NULL);

	for (int i = 0; i < 3; i++)
		make(r, 60, false, NULL, T0, id);
	cr_expect_eq(reg_create(r, &sp, T0, &out), -EAGAIN);
	cr_expect_eq(reg_kill(r, id), 0);
	make(r, 60, false, NULL, T0, id);
	reg_free(r);
}

/* Walks all pages of `f` and returns the IDs seen, newest first. */
static size_t walk(struct reg *r, struct reg_filter f, char ids[][21], size_t max)
{
	size_t n = 0;
	uint64_t next;

	do {
		json_t *arr, *o;
		size_t i;

		cr_assert_eq(reg_list(r, &f, &arr, &next), 0);
		cr_assert_leq(json_array_size(arr), f.limit ? f.limit : (size_t)-1);
		json_array_foreach(arr, i, o) {
			cr_assert_lt(n, max);
			snprintf(ids[n++], 21, "%s", json_string_value(json_object_get(o, "sandboxID")));
		}
		json_decref(arr);
		f.cursor = next;
	} while (next);
	return n;
}

Test(registry, pages_newest_first_and_stable)
{
	struct reg *r = reg_new(0);
	static char made[250][21], seen[400][21];
	struct reg_filter f = { .limit = 7, .started_after_ms = INT64_MIN };

	for (int i = 0; i < 250; i++)
		make(r, 60, false, NULL, T0 + i, made[i]);
	cr_assert_eq(walk(r, f, seen, 400), 250);
	for (int i = 0; i < 250; i++)
		cr_expect_str_eq(seen[i], made[249 - i]);

	/* A create between pages must not shift the rest of the walk. */
	json_t *arr;
	uint64_t next;
	cr_assert_eq(reg_list(r, &f, &arr, &next), 0);
	json_decref(arr);
	char extra[21];
	make(r, 60, false, NULL, T0 + 999, extra);
	f.cursor = next;
	cr_assert_eq(reg_list(r, &f, &arr, &next), 0);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "sandboxID")),
			 made[249 - 7]);
	json_decref(arr);

	/* An exact multiple of the limit ends without an empty page. */
	f.cursor = 0;
	f.limit = 251;
	cr_assert_eq(reg_list(r, &f, &arr, &next), 0);
	cr_expect_eq(json_array_size(arr), 251);
	cr_expect_eq(next, 0);
	json_decref(arr);
	reg_free(r);
}

Test(registry, filters)
{
	struct reg *r = reg_new(0);
	char a[21], b[21], c[21], seen[10][21];
	json_t *md1 = json_pack("{s:s, s:s}", "user", "x", "app", "y");
	json_t *md2 = json_pack("{s:s}", "user", "z");
	json_t *want = json_pack("{s:s}", "user", "x");
	struct reg_filter f = { .limit = 100, .started_after_ms = INT64_MIN };

	make(r, 60, false, md1, T0, a);
	make(r, 60, false, md2, T0 + 1000, b);
	make(r, 60, false, NULL, T0 + 2000, c);
	cr_assert_eq(reg_pause(r, b), 0);

	f.metadata = want;
	cr_assert_eq(walk(r, f, seen, 10), 1);
	cr_expect_str_eq(seen[0], a);
	f.metadata = NULL;
	f.states = REG_PAUSED;
	cr_assert_eq(walk(r, f, seen, 10), 1);
	cr_expect_str_eq(seen[0], b);
	f.states = REG_RUNNING;
	cr_expect_eq(walk(r, f, seen, 10), 2);
	f.states = 0;
	f.started_after_ms = T0 + 1000;
	cr_expect_eq(walk(r, f, seen, 10), 2);
	f.started_after_ms = INT64_MIN;
	f.ascending = 1;
	f.limit = 1;
	cr_assert_eq(walk(r, f, seen, 10), 3);
	cr_expect_str_eq(seen[0], a);
	cr_expect_str_eq(seen[2], c);
	json_decref(md1);
	json_decref(md2);
	json_decref(want);
	reg_free(r);
}

Test(registry, pause_resume_connect)
{
	struct reg *r = reg_new(0);
	char id[21];
	json_t *o;
	int resumed = -1;

	make(r, 60, false, NULL, T0, id);
	cr_expect_eq(reg_resume(r, id, 60, T0, &o), -EBUSY);
	cr_expect_eq(reg_pause(r, id), 0);
	cr_expect_str_eq(state_of(r, id), "paused");
	cr_expect_eq(reg_pause(r, id), -EBUSY);
	cr_expect_eq(reg_pause(r, "nope"), -ENOENT);

	cr_assert_eq(reg_connect(r, id, 30, T0 + 5000, &o, &resumed), 0);
	cr_expect_eq(resumed, 1);
	json_decref(o);
	cr_expect_str_eq(state_of(r, id), "running");

	/* Connect on a running sandbox only ever extends its end. */
	cr_assert_eq(reg_connect(r, id, 1, T0 + 6000, &o, &resumed), 0);
	cr_expect_eq(resumed, 0);
	json_decref(o);
	cr_assert_eq(reg_get(r, id, SBX_VIEW_DETAIL, &o), 0);
	cr_expect_str_eq(json_string_value(json_object_get(o, "endAt")), "2023-11-14T22:13:55.000Z");
	json_decref(o);

	cr_assert_eq(reg_pause(r, id), 0);
	cr_assert_eq(reg_resume(r, id, 10, T0, &o), 0);
	json_decref(o);
	cr_expect_str_eq(state_of(r, id), "running");
	cr_expect_eq(reg_connect(r, "nope", 1, T0, &o, &resumed), -ENOENT);
	reg_free(r);
}

Test(registry, expiry_by_clock)
{
	struct reg *r = reg_new(0);
	char gone[21], paused[21], later[21];
	int64_t next;

	make(r, 2, false, NULL, T0, gone);
	make(r, 2, true, NULL, T0, paused);
	make(r, 10, false, NULL, T0, later);

	cr_expect_eq(reg_expire_due(r, T0 + 1999, &next), 0);
	cr_expect_eq(next, T0 + 2000);
	cr_expect_eq(reg_expire_due(r, T0 + 2000, &next), 2);
	cr_expect_str_eq(state_of(r, gone), "gone");
	cr_expect_str_eq(state_of(r, paused), "paused");
	cr_expect_str_eq(state_of(r, later), "running");
	cr_expect_eq(next, T0 + 10000);

	/* A paused sandbox keeps no timer; a timeout change re-arms. */
	cr_expect_eq(reg_set_timeout(r, later, 1, T0 + 2000), 0);
	cr_expect_eq(reg_expire_due(r, T0 + 2500, &next), 0);
	cr_expect_eq(next, T0 + 3000);
	cr_expect_eq(reg_expire_due(r, T0 + 100000, &next), 1);
	cr_expect_eq(next, INT64_MAX);
	cr_expect_str_eq(state_of(r, paused), "paused");
	cr_expect_eq(reg_count(r), 1);

	/* Refresh extends but never shortens. */
	int resumed;
	json_t *o;
	cr_assert_eq(reg_connect(r, paused, 100, T0, &o, &resumed), 0);
	json_decref(o);
	cr_expect_eq(reg_refresh(r, paused, 5, T0), 0);
	reg_expire_due(r, T0, &next);
	cr_expect_eq(next, T0 + 100000);
	cr_expect_eq(reg_refresh(r, paused, 200, T0), 0);
	reg_expire_due(r, T0, &next);
	cr_expect_eq(next, T0 + 200000);
	reg_free(r);
}

Test(registry, many_timer_changes_stay_bounded)
{
	struct reg *r = reg_new(0);
	char id[21];
	int64_t next;

	make(r, 10, false, NULL, T0, id);
	for (int i = 0; i < 100000; i++)
		cr_assert_eq(reg_set_timeout(r, id, 10 + (unsigned)(i % 7), T0), 0);
	reg_set_timeout(r, id, 3, T0);
	cr_expect_eq(reg_expire_due(r, T0 + 2999, &next), 0);
	cr_expect_eq(next, T0 + 3000);
	cr_expect_eq(reg_expire_due(r, T0 + 3000, &next), 1);
	reg_free(r);
}

/* A journal that refuses while `fail` is set and counts what it stored. */
struct jr { int fail, commits, changes; };

static int jr_commit(void *ctx, const struct reg_change *c, size_t n)
{
	struct jr *j = ctx;

	(void)c;
	if (j->fail)
		return -ENOSPC;
	j->commits++;
	j->changes += (int)n;
	return 0;
}

static json_t *view(struct reg *r, const char *id)
{
	json_t *o = NULL;

	return reg_get(r, id, SBX_VIEW_STORED, &o) == 0 ? o : NULL;
}

Test(registry, failed_journal_changes_nothing)
{
	struct reg *r = reg_new(0);
	struct jr j = { 0 };
	char run[21], paused[21], dies[21];
	json_t *out = NULL;
	int64_t next;
	int resumed;

	reg_set_journal(r, jr_commit, &j);
	make(r, 600, false, NULL, T0, run);
	make(r, 600, false, NULL, T0, paused);
	make(r, 5, false, NULL, T0, dies);
	cr_assert_eq(reg_pause(r, paused), 0);
	cr_expect_eq(j.changes, 4);
	json_t *a = view(r, run), *b = view(r, paused), *c = view(r, dies);

	j.fail = 1;
	struct sandbox_spec sp = spec(60, false, NULL);
	cr_expect_eq(reg_create(r, &sp, T0, &out), -ENOSPC);
	cr_expect_eq(reg_set_timeout(r, run, 30, T0), -ENOSPC);
	cr_expect_eq(reg_refresh(r, run, 3000, T0), -ENOSPC);
	cr_expect_eq(reg_pause(r, run), -ENOSPC);
	cr_expect_eq(reg_kill(r, run), -ENOSPC);
	cr_expect_eq(reg_resume(r, paused, 60, T0, &out), -ENOSPC);
	cr_expect_eq(reg_connect(r, paused, 60, T0, &out, &resumed), -ENOSPC);
	/* An expiry that cannot be saved does not happen, and is retried. */
	cr_expect_eq(reg_expire_due(r, T0 + 10000, &next), 0);
	cr_expect_eq(next, T0 + 10000 + 1000);
	cr_expect_eq(reg_count(r), 3);
	json_t *a2 = view(r, run), *b2 = view(r, paused), *c2 = view(r, dies);
	cr_expect(json_equal(a, a2) && json_equal(b, b2) && json_equal(c, c2),
		  "a failed commit changed memory");

	j.fail = 0;
	cr_expect_eq(reg_expire_due(r, T0 + 11000, &next), 1);
	cr_expect_eq(reg_count(r), 2);
	cr_expect_eq(j.changes, 5);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(a2);
	json_decref(b2);
	json_decref(c2);
	reg_free(r);
}
