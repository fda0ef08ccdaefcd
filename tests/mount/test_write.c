/* Mount tests of the effects: mkdir, rmdir, timeout and state writes, and
 * the operations the tree refuses.  Every effect is checked over REST. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mnt.h"

static void setup(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 1 });
}

static void setup_long_ttl(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 30 });
}

static void teardown(void)
{
	mnt_stop();
}

/* The ID of the sandbox whose sbxfs.name is name, or NULL (malloc'd). */
static char *id_by_name(const char *name)
{
	json_t *arr = NULL, *o;
	char *id = NULL;
	size_t i;

	cr_assert_eq(rest("GET", "/v2/sandboxes?state=running,paused&limit=100", NULL, &arr), 200);
	json_array_foreach(arr, i, o) {
		const char *n = json_string_value(json_object_get(json_object_get(o, "metadata"),
								  "sbxfs.name"));
		if (n && strcmp(n, name) == 0)
			id = strdup(json_string_value(json_object_get(o, "sandboxID")));
	}
	json_decref(arr);
	return id;
}

static bool listed(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, name) == 0)
			found = true;
	closedir(d);
	return found;
}

Test(write, mkdir_creates, .init = setup, .fini = teardown)
{
	char path[128], *id, *text;
	struct stat st;

	cr_assert_eq(mkdir(P("beta"), 0700), 0, "mkdir: %s", strerror(errno));
	id = id_by_name("beta");
	cr_assert_not_null(id, "no sandbox named beta on the server");
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	cr_expect_eq(rest("GET", path, NULL, NULL), 200);
	text = rest_field(id, "templateID");
	cr_expect_str_eq(text, "base");
	free(text);
	cr_assert_eq(stat(P("beta"), &st), 0);
	cr_expect_eq(st.st_mode, S_IFDIR | 0755, "mode bits are ignored");
	cr_expect(listed(M.dir, "beta"));
	free(id);
}

/* mkdir is one request; the resources a create reply lacks are fetched by
 * the first read of info (one GET), not left blank and not paid by mkdir. */
Test(write, mkdir_then_info_is_complete, .init = setup_long_ttl, .fini = teardown)
{
	long creates, gets, lists;
	char *text, *again;
	size_t len, len2;
	struct stat st;

	creates = stats("POST /sandboxes");
	cr_assert_eq(mkdir(P("gamma"), 0755), 0, "mkdir: %s", strerror(errno));
	cr_expect_eq(stats("POST /sandboxes"), creates + 1);
	lists = stats("GET /v2/sandboxes");
	gets = stats("GET /sandboxes/{id}");
	cr_assert_eq(stat(P("gamma/info"), &st), 0);
	text = slurp(P("gamma/info"), &len);
	cr_assert_not_null(text);
	cr_expect_eq((size_t)st.st_size, len, "st_size %lld, content %zu",
		     (long long)st.st_size, len);
	cr_expect_not_null(strstr(text, "\ncpu_count=2\n"), "%s", text);
	cr_expect_null(strstr(text, "memory_mb=\n"), "%s", text);
	cr_expect_eq(stats("GET /sandboxes/{id}"), gets + 1, "one GET completes it");
	again = slurp(P("gamma/info.json"), &len2);
	cr_assert_not_null(again);
	cr_expect_not_null(strstr(again, "\"memoryMB\""), "%s", again);
	cr_expect_eq(stats("GET /sandboxes/{id}"), gets + 1, "completed once only");
	cr_expect_eq(stats("GET /v2/sandboxes"), lists, "no listing refresh needed");
	free(text);
	free(again);
}

Test(write, mkdir_bad_names_and_existing, .init = setup, .fini = teardown)
{
	static const char *const bad[] = {
		"-dash", "_under", "has space", "a:b", ".hidden",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	char *id = rest_create("base", "alpha", NULL);
	size_t before = rest_count();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(mkdir(P("%s", bad[i]), 0755), -1, "%s", bad[i]);
		cr_expect_eq(errno, EINVAL, "mkdir '%s': %s", bad[i], strerror(errno));
	}
	cr_expect_eq(mkdir(P(".sbxfs/templates/base/-x"), 0755), -1);
	cr_expect_eq(errno, EINVAL);
	cr_expect_eq(mkdir(P("alpha"), 0755), -1);
	cr_expect_eq(errno, EEXIST);
	cr_expect_eq(mkdir(P("%s", id), 0755), -1);
	cr_expect_eq(errno, EEXIST, "mkdir of an existing ID: %s", strerror(errno));
	cr_expect_eq(mkdir(P("alpha/sub"), 0755), -1);
	cr_expect_eq(errno, EPERM);
	cr_expect_eq(mkdir(P(".sbxfs"), 0755), -1);
	cr_expect_eq(errno, EEXIST);
	cr_expect_eq(rest_count(), before, "a bad mkdir created a sandbox");
	free(id);
}

Test(write, mkdir_from_template, .init = setup, .fini = teardown)
{
	char *id, *tpl, *text;

	cr_assert_eq(mkdir(P(".sbxfs/templates/python/snake"), 0755), 0, "%s", strerror(errno));
	id = id_by_name("snake");
	cr_assert_not_null(id);
	tpl = rest_field(id, "templateID");
	cr_expect_str_eq(tpl, "py3tpl");
	text = slurp(P(".sbxfs/templates/python/snake/template_id"), NULL);
	cr_expect_str_eq(text, "py3tpl\n");
	free(text);
	text = slurp(P("snake/state"), NULL);
	cr_expect_str_eq(text, "running\n");
	free(text);
	cr_expect_eq(mkdir(P(".sbxfs/templates/no-such-template/x"), 0755), -1);
	cr_expect(errno == ENOENT || errno == EINVAL, "%s", strerror(errno));
	free(id);
	free(tpl);
}

Test(write, rmdir_kills, .init = setup, .fini = teardown)
{
	char *id = rest_create("base", "alpha", NULL);
	char *anon = rest_create("base", NULL, NULL);
	char path[128];

	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	cr_assert(listed(M.dir, "alpha"));
	cr_assert_eq(rmdir(P("alpha")), 0, "rmdir: %s", strerror(errno));
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	cr_expect_eq(rest("GET", path, NULL, NULL), 404);
	cr_expect_not(listed(M.dir, "alpha"), "still listed after rmdir");
	cr_expect_eq(sh("rmdir \"$MNT/%s\"", anon), 0);
	snprintf(path, sizeof(path), "/sandboxes/%s", anon);
	cr_expect_eq(rest("GET", path, NULL, NULL), 404);
	cr_expect_eq(rmdir(P("alpha")), -1);
	cr_expect_eq(errno, ENOENT);
	cr_expect_eq(rmdir(P(".sbxfs")), -1);
	cr_expect_eq(errno, EPERM);
	free(id);
	free(anon);
}

Test(write, timeout, .init = setup, .fini = teardown)
{
	static const char *const bad[] = {
		"0", "-1", "abc", "\n", " ", "10x", "1 2", "600\n600\n", "99999999999999999999",
		"1.5",
	};
	char *id = rest_create("base", "alpha", NULL);
	time_t end, now;
	int fd;

	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	cr_assert_eq(sh("echo 600 > \"$MNT/alpha/timeout\""), 0);
	now = time(NULL);
	end = rest_end_at(id);
	cr_expect(end >= now + 598 && end <= now + 602, "endAt %ld, now+600 = %ld",
		  (long)end, (long)now + 600);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(put(P("alpha/timeout"), bad[i]), -EINVAL, "'%s' accepted", bad[i]);
	}
	cr_expect_eq(rest_end_at(id), end, "a bad write changed endAt");
	/* O_TRUNC open, then a write with a unit. */
	fd = open(P("alpha/timeout"), O_WRONLY | O_TRUNC);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_expect_eq(write(fd, "2m", 2), 2);
	close(fd);
	now = time(NULL);
	end = rest_end_at(id);
	cr_expect(end >= now + 118 && end <= now + 122);
	cr_expect_eq(truncate(P("alpha/timeout"), 0), 0, "%s", strerror(errno));
	free(id);
}

/* An open file stays bound to the sandbox it was opened on: when its name
 * moves to another sandbox before the write (the first killed, a second
 * created under the same name), the write fails with ENOENT and the second
 * sandbox is untouched, checked over REST. */
Test(write, write_reaches_the_sandbox_opened, .init = setup_long_ttl, .fini = teardown)
{
	char *a = rest_create("base", "n", NULL), *b;
	char path[128];
	time_t end_b, now;
	ssize_t n;
	int fd;

	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	fd = open(P("n/timeout"), O_WRONLY);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	snprintf(path, sizeof(path), "/sandboxes/%s", a);
	cr_assert_eq(rest("DELETE", path, NULL, NULL), 204);
	b = rest_create("base", "n", NULL);
	end_b = rest_end_at(b);
	cr_assert_neq(end_b, 0);
	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	errno = 0;
	n = write(fd, "900", 3);
	cr_expect_eq(n, -1, "the write went through (%zd)", n);
	cr_expect_eq(errno, ENOENT, "%s", strerror(errno));
	close(fd);
	cr_expect_eq(rest_end_at(b), end_b, "the write reached the other sandbox");
	cr_expect_eq(rest("GET", path, NULL, NULL), 404);
	/* A fresh open finds the new sandbox under the name. */
	cr_assert_eq(put(P("n/timeout"), "900"), 0);
	now = time(NULL);
	end_b = rest_end_at(b);
	cr_expect(end_b >= now + 898 && end_b <= now + 902, "endAt %ld, now+900 = %ld",
		  (long)end_b, (long)now + 900);
	free(a);
	free(b);
}

static char *state_of(const char *id)
{
	return rest_field(id, "state");
}

Test(write, state, .init = setup_long_ttl, .fini = teardown)
{
	char *id = rest_create("base", "alpha", NULL);
	char *s;
	long before;

	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	cr_assert_eq(sh("echo paused > \"$MNT/alpha/state\""), 0);
	s = state_of(id);
	cr_expect_str_eq(s, "paused");
	free(s);
	s = slurp(P("alpha/state"), NULL);
	cr_expect_str_eq(s, "paused\n");
	free(s);
	/* Writing the current state sends nothing. */
	before = stats(NULL);
	cr_expect_eq(put(P("alpha/state"), "paused\n"), 0);
	cr_expect_eq(stats(NULL), before);
	cr_expect_eq(put(P("alpha/state"), "running"), 0);
	s = state_of(id);
	cr_expect_str_eq(s, "running");
	free(s);
	cr_expect_eq(put(P("alpha/state"), "stopped"), -EINVAL);
	cr_expect_eq(put(P("alpha/state"), "RUNNING"), -EINVAL);
	s = state_of(id);
	cr_expect_str_eq(s, "running");
	free(s);
	free(id);
}

Test(write, refused_operations_send_nothing, .init = setup_long_ttl, .fini = teardown)
{
	char *id = rest_create("base", "alpha", NULL);
	struct stat st;
	long before;
	int fd;

	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	cr_assert_eq(stat(P("alpha/info"), &st), 0);
	cr_assert_eq(stat(P("alpha/state"), &st), 0);
	before = stats(NULL);
	cr_expect_eq(unlink(P("alpha/info")), -1);
	cr_expect_eq(errno, EPERM);
	cr_expect_eq(rename(P("alpha"), P("beta")), -1);
	cr_expect_eq(errno, EPERM);
	cr_expect_eq(rename(P("alpha/info"), P("alpha/x")), -1);
	cr_expect_eq(errno, EPERM);
	cr_expect_eq(chmod(P("alpha/info"), 0644), -1);
	cr_expect_eq(errno, EPERM);
	cr_expect_eq(chown(P("alpha/state"), 0, 0), -1);
	cr_expect_eq(errno, EPERM);
	fd = open(P("alpha/newfile"), O_WRONLY | O_CREAT, 0644);
	cr_expect_eq(fd, -1);
	cr_expect_eq(errno, EPERM);
	fd = open(P("newtop"), O_WRONLY | O_CREAT, 0644);
	cr_expect_eq(fd, -1);
	cr_expect_eq(errno, EPERM);
	cr_expect_eq(symlink("info", P("alpha/link")), -1);
	cr_expect_eq(errno, EPERM);
	cr_expect_eq(link(P("alpha/info"), P("alpha/hard")), -1);
	cr_expect_eq(errno, EPERM);
	cr_expect_eq(open(P("alpha/info"), O_WRONLY), -1);
	cr_expect_eq(errno, EACCES);
	cr_expect_eq(truncate(P("alpha/info"), 0), -1);
	cr_expect_eq(errno, EACCES);
	cr_expect_eq(sh("touch \"$MNT/alpha/state\" 2>/dev/null"), 1);
	cr_expect_eq(sh("rm -f \"$MNT/alpha/info\" 2>/dev/null"), 1);
	cr_expect_eq(stats(NULL), before, "a refused operation sent a request");
	free(id);
}

static void setup_warn(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 30, .log_level = "warn", .allow_log = true });
}

Test(write, backend_errors_map_to_errno, .init = setup_warn, .fini = teardown)
{
	char *id = rest_create("base", "alpha", NULL);
	char fault[256], path[128], *text;
	time_t end = rest_end_at(id);

	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	cr_assert_eq(stat(P("alpha/state"), &(struct stat){ 0 }), 0);

	/* 500 on set timeout: EIO, the detail in status and the log. */
	snprintf(fault, sizeof(fault), "{\"status\":500,\"path_prefix\":\"/sandboxes/%s/timeout\"}",
		 id);
	cr_assert_eq(rest("POST", "/sbxd/faults", fault, NULL), 200);
	cr_expect_eq(put(P("alpha/timeout"), "900"), -EIO);
	cr_assert_eq(rest("DELETE", "/sbxd/faults", NULL, NULL), 204);
	cr_expect_eq(rest_end_at(id), end);
	text = slurp(P(".sbxfs/status"), NULL);
	cr_expect(strstr(text, "last_error=500 "), "%s", text);
	free(text);
	text = slurp(M.logfile, NULL);
	cr_expect(text && strstr(text, "500"), "the failure was not logged: %s", text);
	free(text);

	/* 409 on pause (paused behind the mount's back): EBUSY, then the
	 * cache is dropped and the state shows the truth. */
	snprintf(path, sizeof(path), "/sandboxes/%s/pause", id);
	cr_assert_eq(rest("POST", path, "{}", NULL), 204);
	cr_expect_eq(put(P("alpha/state"), "paused"), -EBUSY);
	text = slurp(P("alpha/state"), NULL);
	cr_expect_str_eq(text, "paused\n");
	free(text);

	/* 429 without Retry-After on create: a quota, EDQUOT, not retried. */
	cr_assert_eq(rest("POST", "/sbxd/faults",
			  "{\"status\":429,\"path_prefix\":\"/sandboxes\",\"count\":1}", NULL), 200);
	cr_expect_eq(mkdir(P("beta"), 0755), -1);
	cr_expect(errno == EDQUOT || errno == EAGAIN, "%s", strerror(errno));
	cr_expect_eq(rest_count(), 1);
	free(id);
}
