/* Persistence: save, reload, and sandboxes that ended while sbxd was down. */
#include "persist.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1700000000000LL

static char dir[64];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sbxd-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void rm_tmp(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/sandboxes.json", dir);
	unlink(path);
	rmdir(dir);
}

TestSuite(persist, .init = mkdir_tmp, .fini = rm_tmp);

static void make(struct reg *r, unsigned timeout, bool auto_pause, int64_t now, char id[21])
{
	json_t *md = json_pack("{s:s}", "owner", "me");
	struct sandbox_spec sp = {
		.template_id = "py", .alias = "python", .envd_version = "0.2.0",
		.cpu_count = 4, .memory_mb = 1024, .disk_mb = 2048, .timeout_s = timeout,
		.auto_pause = auto_pause, .allow_internet = 1, .metadata = md,
	};
	json_t *out;

	cr_assert_eq(reg_create(r, &sp, now, &out), 0);
	snprintf(id, 21, "%s", json_string_value(json_object_get(out, "sandboxID")));
	json_decref(out);
	json_decref(md);
}

static json_t *detail(struct reg *r, const char *id)
{
	json_t *o = NULL;

	return reg_get(r, id, SBX_VIEW_DETAIL, &o) == 0 ? o : NULL;
}

Test(persist, save_and_reload)
{
	struct reg *a = reg_new(0), *b = reg_new(0);
	char run[21], paused[21];
	struct stat st;
	char path[128];

	make(a, 600, false, T0, run);
	make(a, 600, false, T0, paused);
	cr_assert_eq(reg_pause(a, paused), 0);
	cr_assert_eq(persist_save(a, dir), 0);
	snprintf(path, sizeof(path), "%s/sandboxes.json", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);

	cr_assert_eq(persist_load(b, dir, T0 + 1000, NULL), 2);
	const char *ids[] = { run, paused };
	for (int i = 0; i < 2; i++) {
		json_t *x = detail(a, ids[i]), *y = detail(b, ids[i]);

		cr_assert_not_null(y);
		cr_expect(json_equal(x, y), "%s differs after reload", ids[i]);
		json_decref(x);
		json_decref(y);
	}
	/* New sandboxes continue the sequence: they list first. */
	char fresh[21];
	make(b, 600, false, T0 + 2000, fresh);
	struct reg_filter f = { .limit = 1, .started_after_ms = INT64_MIN };
	json_t *arr;
	uint64_t next;
	cr_assert_eq(reg_list(b, &f, &arr, &next), 0);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "sandboxID")),
			 fresh);
	json_decref(arr);
	reg_free(a);
	reg_free(b);
}

Test(persist, expired_while_down)
{
	struct reg *a = reg_new(0), *b = reg_new(0);
	char dies[21], pauses[21], lives[21];

	make(a, 10, false, T0, dies);
	make(a, 10, true, T0, pauses);
	make(a, 1000, false, T0, lives);
	cr_assert_eq(persist_save(a, dir), 0);
	cr_assert_eq(persist_load(b, dir, T0 + 60000, NULL), 2);
	json_t *o = detail(b, dies);
	cr_expect_null(o);
	o = detail(b, pauses);
	cr_assert_not_null(o);
	cr_expect_str_eq(json_string_value(json_object_get(o, "state")), "paused");
	json_decref(o);
	o = detail(b, lives);
	cr_assert_not_null(o);
	cr_expect_str_eq(json_string_value(json_object_get(o, "state")), "running");
	json_decref(o);
	reg_free(a);
	reg_free(b);
}

Test(persist, missing_file_is_empty_and_junk_is_an_error)
{
	struct reg *r = reg_new(0);
	char path[128], *err = NULL;
	FILE *f;

	cr_expect_eq(persist_load(r, dir, T0, NULL), 0);
	snprintf(path, sizeof(path), "%s/sandboxes.json", dir);
	f = fopen(path, "w");
	fputs("{\"version\":1,\"nextSeq\":3,\"sandboxes\":[{\"sandboxID\":5}]}", f);
	fclose(f);
	cr_expect_lt(persist_load(r, dir, T0, &err), 0);
	cr_expect_not_null(err);
	free(err);
	err = NULL;
	f = fopen(path, "w");
	fputs("not json", f);
	fclose(f);
	cr_expect_lt(persist_load(r, dir, T0, &err), 0);
	free(err);
	reg_free(r);
}
