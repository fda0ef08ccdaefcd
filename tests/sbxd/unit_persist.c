/* Persistence on SQLite: every change committed, reloaded, sandboxes that
 * ended while sbxd was down (and that expiry saved), the one-time import of
 * sandboxes.json, concurrent changes sharing commits, and a corrupt
 * database at start. */
#include "registry/persist.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1700000000000LL

static char dir[64], snap[80];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sbxd-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(snap, sizeof(snap), "%s/snap", dir);
}

static void rm_files(const char *d)
{
	const char *names[] = { PERSIST_DB_FILE, PERSIST_DB_FILE "-wal", PERSIST_DB_FILE "-shm",
				PERSIST_OLD_FILE, PERSIST_IMPORTED_FILE };
	char path[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", d, names[i]);
		unlink(path);
	}
	rmdir(d);
}

static void rm_tmp(void)
{
	rm_files(snap);
	rm_files(dir);
}

/* Copies the files of a running sbxd's state, as kill -9 would leave them. */
static void snapshot(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s/" PERSIST_DB_FILE "* %s/", snap, dir, snap);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(persist, .init = mkdir_tmp, .fini = rm_tmp);

/* Opens the state of `dir` into a new registry and journals its changes. */
static struct persist *open_in(const char *d, struct reg **r, int64_t now, int *kept)
{
	char *err = NULL;
	int k = -1;

	*r = reg_new(0);
	struct persist *p = persist_open(*r, d, now, NULL, &k, &err);
	cr_assert_not_null(p, "open: %s", err ? err : "?");
	cr_assert_eq(persist_start(p), 0);
	if (kept)
		*kept = k;
	return p;
}

static struct persist *open_at(struct reg **r, int64_t now, int *kept)
{
	return open_in(dir, r, now, kept);
}

static void close_all(struct persist *p, struct reg *r)
{
	persist_close(p);
	reg_free(r);
}

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

static const char *state_of(struct reg *r, const char *id, char buf[16])
{
	json_t *o = detail(r, id);

	snprintf(buf, 16, "%s", o ? json_string_value(json_object_get(o, "state")) : "gone");
	json_decref(o);
	return buf;
}

Test(persist, every_change_reloads)
{
	struct reg *a, *b;
	struct persist *pa = open_at(&a, T0, NULL), *pb;
	char run[21], paused[21], resumed[21], killed[21], st[16];
	struct stat sb;
	char path[128];
	int kept;

	make(a, 600, false, T0, run);
	make(a, 600, false, T0, paused);
	make(a, 600, false, T0, resumed);
	make(a, 600, false, T0, killed);
	cr_assert_eq(reg_set_timeout(a, run, 900, T0 + 10), 0);
	cr_assert_eq(reg_pause(a, paused), 0);
	cr_assert_eq(reg_pause(a, resumed), 0);
	json_t *o = NULL;
	cr_assert_eq(reg_resume(a, resumed, 1200, T0 + 20, &o), 0);
	json_decref(o);
	cr_assert_eq(reg_kill(a, killed), 0);
	/* Compared while `a` still runs: nothing waits for a close. */
	snapshot();
	pb = open_in(snap, &b, T0 + 1000, &kept);
	cr_expect_eq(kept, 3);
	const char *ids[] = { run, paused, resumed };
	for (int i = 0; i < 3; i++) {
		json_t *x = detail(a, ids[i]), *y = detail(b, ids[i]);

		cr_assert_not_null(y);
		cr_expect(json_equal(x, y), "%s differs after reload", ids[i]);
		json_decref(x);
		json_decref(y);
	}
	cr_expect_str_eq(state_of(b, killed, st), "gone");
	cr_expect_str_eq(state_of(b, paused, st), "paused");
	snprintf(path, sizeof(path), "%s/%s", dir, PERSIST_DB_FILE);
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq(sb.st_mode & 0777, 0600);
	close_all(pa, a);

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
	close_all(pb, b);
}

Test(persist, expired_while_down_and_by_expiry)
{
	struct reg *a, *b, *c;
	struct persist *pa = open_at(&a, T0, NULL), *p;
	char dies[21], pauses[21], lives[21], later[21], st[16];
	int64_t next;
	int kept;

	make(a, 10, false, T0, dies);
	make(a, 10, true, T0, pauses);
	make(a, 1000, false, T0, lives);
	make(a, 100, false, T0, later);
	close_all(pa, a);
	p = open_at(&b, T0 + 60000, &kept);
	cr_expect_eq(kept, 3);
	cr_expect_str_eq(state_of(b, dies, st), "gone");
	cr_expect_str_eq(state_of(b, pauses, st), "paused");
	cr_expect_str_eq(state_of(b, lives, st), "running");
	/* The lifecycle thread's expiry is a committed change too. */
	cr_expect_eq(reg_expire_due(b, T0 + 200000, &next), 1);
	cr_expect_str_eq(state_of(b, later, st), "gone");
	close_all(p, b);

	/* Reopened at an earlier clock: only what was saved can explain it. */
	p = open_at(&c, T0, &kept);
	cr_expect_eq(kept, 2);
	cr_expect_str_eq(state_of(c, dies, st), "gone");
	cr_expect_str_eq(state_of(c, later, st), "gone");
	cr_expect_str_eq(state_of(c, pauses, st), "paused");
	close_all(p, c);
}

/* Writes an old-format sandboxes.json holding `n` sandboxes of a registry. */
static void write_old(int n, char ids[][21])
{
	struct reg *r = reg_new(0);
	char path[128];

	for (int i = 0; i < n; i++)
		make(r, 600, i % 2, T0, ids[i]);
	cr_assert_eq(reg_pause(r, ids[0]), 0);
	json_t *doc = reg_dump(r);
	snprintf(path, sizeof(path), "%s/%s", dir, PERSIST_OLD_FILE);
	cr_assert_eq(json_dump_file(doc, path, 0), 0);
	json_decref(doc);
	reg_free(r);
}

Test(persist, imports_old_file_once)
{
	char ids[3][21], path[128], st[16];
	struct reg *a, *b;
	struct persist *p;
	int kept;

	write_old(3, ids);
	p = open_at(&a, T0 + 1000, &kept);
	cr_expect_eq(kept, 3);
	cr_expect_str_eq(state_of(a, ids[0], st), "paused");
	cr_expect_str_eq(state_of(a, ids[1], st), "running");
	snprintf(path, sizeof(path), "%s/%s", dir, PERSIST_OLD_FILE);
	cr_expect_neq(access(path, F_OK), 0, "sandboxes.json was not renamed aside");
	snprintf(path, sizeof(path), "%s/%s", dir, PERSIST_IMPORTED_FILE);
	cr_expect_eq(access(path, F_OK), 0);
	cr_assert_eq(reg_kill(a, ids[2]), 0);
	close_all(p, a);

	/* The database wins from now on: the kill stays, nothing re-imports. */
	p = open_at(&b, T0 + 2000, &kept);
	cr_expect_eq(kept, 2);
	cr_expect_str_eq(state_of(b, ids[2], st), "gone");
	close_all(p, b);
}

static void expect_open_fails(const char *needle)
{
	struct reg *r = reg_new(0);
	char *err = NULL;
	int kept;

	cr_expect_null(persist_open(r, dir, T0, NULL, &kept, &err));
	cr_assert_not_null(err);
	cr_expect(strstr(err, dir) != NULL, "no path in \"%s\"", err);
	cr_expect(strstr(err, needle) != NULL, "\"%s\" not in \"%s\"", needle, err);
	free(err);
	reg_free(r);
}

Test(persist, second_sbxd_on_one_dir_is_an_error)
{
	struct reg *a;
	struct persist *p = open_at(&a, T0, NULL);

	expect_open_fails("locked");
	close_all(p, a);
}

Test(persist, corrupt_database_is_an_error)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, PERSIST_DB_FILE);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not an SQLite database ", f);
	fclose(f);
	expect_open_fails("file is not a database");
	/* Still there for the user to look at. */
	cr_expect_eq(access(path, F_OK), 0);
}

Test(persist, junk_old_file_is_an_error)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, PERSIST_OLD_FILE);
	f = fopen(path, "w");
	fputs("{\"version\":1,\"nextSeq\":3,\"sandboxes\":[{\"sandboxID\":5}]}", f);
	fclose(f);
	expect_open_fails("malformed sandbox");
	f = fopen(path, "w");
	fputs("not json", f);
	fclose(f);
	expect_open_fails(PERSIST_OLD_FILE);
	cr_expect_eq(access(path, F_OK), 0, "a file that failed to import was moved");
}

struct worker { struct reg *r; char ids[25][21]; };

static void *create_many(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 25; i++) {
		make(w->r, 600, false, T0, w->ids[i]);
		if (i % 5 == 0)
			cr_assert_eq(reg_pause(w->r, w->ids[i]), 0);
	}
	return NULL;
}

Test(persist, concurrent_changes_all_commit)
{
	struct worker w[8];
	pthread_t t[8];
	struct reg *a, *b;
	struct persist *p = open_at(&a, T0, NULL), *q;
	char st[16];
	int kept;

	for (int i = 0; i < 8; i++) {
		w[i].r = a;
		cr_assert_eq(pthread_create(&t[i], NULL, create_many, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	snapshot();
	q = open_in(snap, &b, T0, &kept);
	cr_expect_eq(kept, 200);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 25; j++)
			cr_expect_str_eq(state_of(b, w[i].ids[j], st), j % 5 ? "running" : "paused");
	close_all(q, b);
	close_all(p, a);
}
