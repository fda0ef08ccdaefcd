/* Mount tests of the read side: listing, attributes, contents, lookup by
 * ID, snapshots, status, refresh. */
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
#include "model/values.h"

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

static void refresh(void)
{
	cr_assert_eq(put(P(".sbxfs/refresh"), "1\n"), 0);
}

/* True if directory dir (inside the mount) has an entry called name. */
static bool listed(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	cr_assert_not_null(d, "opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, name) == 0)
			found = true;
	closedir(d);
	return found;
}

/* The output of a shell command as a string (malloc'd). */
static char *shout(const char *cmd)
{
	char file[128];

	snprintf(file, sizeof(file), "%s/out", M.tmp);
	cr_assert_eq(sh("%s > '%s'", cmd, file), 0, "%s failed", cmd);
	return slurp(file, NULL);
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p += n)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

Test(tree, ls_shows_named_and_unnamed, .init = setup, .fini = teardown)
{
	char *named = rest_create("base", "alpha", NULL);
	char *anon = rest_create("base", NULL, NULL);
	char *out;

	refresh();
	out = shout("ls \"$MNT\"");
	cr_expect(has_line(out, "alpha"), "%s", out);
	cr_expect(has_line(out, anon), "%s", out);
	cr_expect_not(has_line(out, named), "a named sandbox is listed by ID:\n%s", out);
	cr_expect_not(has_line(out, ".sbxfs"), "%s", out);
	free(out);
	out = shout("ls -a \"$MNT\"");
	cr_expect(has_line(out, ".sbxfs"), "%s", out);
	free(out);
	out = shout("ls \"$MNT/alpha\"");
	cr_expect_str_eq(out, "end_at\ninfo\ninfo.json\nlogs\nmetadata\nmetrics\nsandbox_id\n"
			 "started_at\nstate\ntemplate_id\ntimeout\n");
	free(out);
	free(named);
	free(anon);
}

/* st_size is the content's length.  A file that changes on its own
 * (.sbxfs/status counts requests) is compared when a stat before and one
 * after the read agree, so a counter moving between them is no failure. */
static void expect_file(const char *path, mode_t mode)
{
	struct stat st, after;
	size_t len = 0;
	char *text = NULL;

	cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
	cr_expect_eq(st.st_mode, S_IFREG | mode, "%s mode %o", path, st.st_mode);
	cr_expect_eq(st.st_uid, getuid());
	cr_expect_eq(st.st_gid, getgid());
	if (!(mode & 0444))
		return;
	for (int tries = 0; tries < 10; tries++) {
		free(text);
		cr_assert_eq(stat(path, &st), 0);
		text = slurp(path, &len);
		cr_assert_not_null(text, "read %s: %s", path, strerror(errno));
		cr_assert_eq(stat(path, &after), 0);
		if (after.st_size == st.st_size && (size_t)st.st_size == len)
			break;
	}
	cr_expect_eq((size_t)st.st_size, len, "%s: st_size %lld, content %zu", path,
		     (long long)st.st_size, len);
	cr_expect(len > 0 && text[len - 1] == '\n', "%s does not end in a newline", path);
	free(text);
}

Test(tree, attributes, .init = setup, .fini = teardown)
{
	char *id = rest_create("base", "alpha", "\"owner\":\"ci\"");
	char *started = rest_field(id, "startedAt");
	static const char *const ro[] = {
		"info", "info.json", "sandbox_id", "template_id", "started_at", "end_at",
		"metadata/owner", "metadata/sbxfs.name",
	};
	struct stat st;
	time_t t0;

	refresh();
	cr_assert_eq(stat(P("alpha"), &st), 0);
	cr_expect_eq(st.st_mode, S_IFDIR | 0755);
	cr_expect_eq(st.st_uid, getuid());
	cr_assert_eq(sbx_parse_time(started, &t0), 0);
	cr_expect_eq(st.st_mtime, t0);
	cr_expect_eq(st.st_ctime, t0);
	cr_assert_eq(stat(P("alpha/metadata"), &st), 0);
	cr_expect_eq(st.st_mode, S_IFDIR | 0755);
	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
		expect_file(P("alpha/%s", ro[i]), 0444);
	expect_file(P("alpha/state"), 0644);
	expect_file(P("alpha/timeout"), 0644);
	expect_file(P(".sbxfs/status"), 0444);
	expect_file(P(".sbxfs/refresh"), 0200);
	cr_assert_eq(stat(P(".sbxfs"), &st), 0);
	cr_expect_eq(st.st_mode, S_IFDIR | 0755);
	free(id);
	free(started);
}

Test(tree, contents, .init = setup, .fini = teardown)
{
	char *id = rest_create("base", "alpha", "\"owner\":\"ci\"");
	char *started = rest_field(id, "startedAt");
	char *tpl = rest_field(id, "templateID");
	char want[256], *text;
	time_t t0, end = rest_end_at(id);
	json_t *j;
	long left;

	refresh();
	snprintf(want, sizeof(want), "%s\n", id);
	text = slurp(P("alpha/sandbox_id"), NULL);
	cr_expect_str_eq(text, want);
	free(text);
	snprintf(want, sizeof(want), "%s\n", tpl);
	text = slurp(P("alpha/template_id"), NULL);
	cr_expect_str_eq(text, want);
	free(text);
	text = slurp(P("alpha/state"), NULL);
	cr_expect_str_eq(text, "running\n");
	free(text);
	text = slurp(P("alpha/metadata/owner"), NULL);
	cr_expect_str_eq(text, "ci\n");
	free(text);
	sbx_parse_time(started, &t0);
	text = slurp(P("alpha/started_at"), NULL);
	cr_expect_str_eq(text, strcat(sbx_format_time(t0, want), "\n"));
	free(text);
	text = slurp(P("alpha/end_at"), NULL);
	cr_expect_str_eq(text, strcat(sbx_format_time(end, want), "\n"));
	free(text);
	text = slurp(P("alpha/timeout"), NULL);
	left = strtol(text, NULL, 10);
	cr_expect(labs(left - (long)(end - time(NULL))) <= 2, "timeout %ld", left);
	free(text);
	text = slurp(P("alpha/info"), NULL);
	snprintf(want, sizeof(want), "sandbox_id=%s", id);
	cr_expect(has_line(text, want), "%s", text);
	cr_expect(has_line(text, "state=running"), "%s", text);
	cr_expect(has_line(text, "metadata.owner=ci"), "%s", text);
	free(text);
	text = slurp(P("alpha/info.json"), NULL);
	j = json_loads(text, 0, NULL);
	cr_assert_not_null(j, "info.json is not JSON: %s", text);
	cr_expect_str_eq(json_string_value(json_object_get(j, "sandboxID")), id);
	cr_expect_null(strstr(text, "envdAccessToken"));
	cr_expect_null(strstr(text, "trafficAccessToken"));
	json_decref(j);
	free(text);
	cr_expect_null(slurp(P("alpha/metadata/nope"), NULL));
	cr_expect_eq(errno, ENOENT);
	cr_expect_null(slurp(P("alpha/nope"), NULL));
	cr_expect_eq(errno, ENOENT);
	free(id);
	free(started);
	free(tpl);
}

Test(tree, lookup_by_id_of_named, .init = setup, .fini = teardown)
{
	char *id = rest_create("base", "alpha", NULL);
	char want[128], *text;
	struct stat st;

	refresh();
	cr_assert_eq(stat(P("%s", id), &st), 0, "stat by ID: %s", strerror(errno));
	cr_expect(S_ISDIR(st.st_mode));
	snprintf(want, sizeof(want), "%s\n", id);
	text = slurp(P("%s/sandbox_id", id), NULL);
	cr_expect_str_eq(text, want);
	free(text);
	cr_expect_not(listed(M.dir, id));
	cr_expect(listed(M.dir, "alpha"));
	free(id);
}

Test(tree, killed_behind_the_mounts_back, .init = setup, .fini = teardown)
{
	char *id = rest_create("base", "alpha", NULL);
	char path[128], buf[4096], *before;
	size_t len;
	ssize_t n;
	int fd;

	refresh();
	before = slurp(P("alpha/info"), &len);
	cr_assert_not_null(before);
	fd = open(P("alpha/info"), O_RDONLY);
	cr_assert_geq(fd, 0);
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	cr_assert_eq(rest("DELETE", path, NULL, NULL), 204);
	n = read(fd, buf, sizeof(buf));
	cr_expect_eq(n, (ssize_t)len, "read of the open snapshot: %zd (%s)", n, strerror(errno));
	cr_expect(n > 0 && memcmp(buf, before, (size_t)n) == 0);
	close(fd);
	sleep(2);   /* cache_ttl=1 and the kernel's entry timeout */
	/* The first look past the TTL may get the old listing while the one
	 * refresh it started runs; the kill shows once that refresh is in. */
	for (int i = 0; i < 30 && (fd = open(P("alpha/info"), O_RDONLY)) >= 0; i++) {
		close(fd);
		usleep(100 * 1000);
	}
	cr_expect_eq(open(P("alpha/info"), O_RDONLY), -1, "still there 3 s past the TTL");
	cr_expect_eq(errno, ENOENT);
	cr_expect_not(listed(M.dir, "alpha"));
	free(before);
	free(id);
}

Test(tree, refresh_shows_outside_changes, .init = setup_long_ttl, .fini = teardown)
{
	char *a, *b;

	cr_assert_not(listed(M.dir, "late"));
	a = rest_create("base", "late", NULL);
	cr_expect_not(listed(M.dir, "late"), "the listing was not cached");
	refresh();
	cr_expect(listed(M.dir, "late"));
	b = rest_create("base", "later", NULL);
	cr_expect_eq(sh("echo > \"$MNT/.sbxfs/refresh\""), 0);
	cr_expect(listed(M.dir, "later"));
	free(a);
	free(b);
}

Test(tree, status_and_no_key_anywhere, .init = setup, .fini = teardown)
{
	char *id = rest_create("base", "alpha", NULL);
	char want[128], *text;

	refresh();
	cr_assert(listed(M.dir, "alpha"));
	text = slurp(P(".sbxfs/status"), NULL);
	cr_assert_not_null(text);
	snprintf(want, sizeof(want), "backend=%s", M.url);
	cr_expect(has_line(text, want), "%s", text);
	cr_expect(has_line(text, "reachable=yes"), "%s", text);
	cr_expect(has_line(text, "embedded=no"), "%s", text);
	cr_expect(has_line(text, "provider=custom"), "an api_url without provider: %s", text);
	cr_expect(has_line(text, "last_error=none"), "%s", text);
	cr_expect(has_line(text, "sandboxes=1"), "%s", text);
	cr_expect(has_line(text, "cache_ttl=1"), "%s", text);
	static const char *const keys[] = {
		"version=", "requests=", "retries=", "failures=", "cache_hits=",
		"cache_misses=", "cache_refreshes=",
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		cr_expect(strstr(text, keys[i]), "no %s in\n%s", keys[i], text);
	cr_expect_null(strstr(text, M.key));
	free(text);
	/* grep exits 1 when nothing matched anywhere in the tree. */
	cr_expect_eq(sh("grep -r -F --exclude=refresh -e '%s' \"$MNT\" 2>/dev/null", M.key), 1);
	cr_expect_eq(sh("grep -r -F --exclude=refresh -e '%s' \"$MNT\"/.sbxfs 2>/dev/null", M.key), 1);
	free(id);
}

Test(tree, templates_dir_lists_by_template, .init = setup, .fini = teardown)
{
	char *a = rest_create("python", "snake", NULL);
	char *b = rest_create("base", "plain", NULL);

	refresh();
	cr_expect(listed(P(".sbxfs/templates/python"), "snake"));
	cr_expect_not(listed(P(".sbxfs/templates/python"), "plain"));
	cr_expect(listed(P(".sbxfs/templates/py3tpl"), "snake"));
	cr_expect(listed(P(".sbxfs/templates"), "python"));
	cr_expect(listed(P(".sbxfs/templates/base"), "plain"));
	cr_expect(listed(P(".sbxfs"), "status"));
	free(a);
	free(b);
}

Test(tree, metadata_keys_that_are_not_file_names, .init = setup, .fini = teardown)
{
	char *id = rest_create("base", "alpha", "\"a/b\":\"slash\",\"ok\":\"fine\"");
	char *text;

	refresh();
	cr_expect(listed(P("alpha/metadata"), "ok"));
	cr_expect(listed(P("alpha/metadata"), "sbxfs.name"));
	cr_expect_not(listed(P("alpha/metadata"), "a/b"));
	cr_expect_not(listed(P("alpha/metadata"), "a"));
	text = slurp(P("alpha/info"), NULL);
	cr_expect(has_line(text, "metadata.a/b=slash"), "%s", text);
	cr_expect(has_line(text, "metadata.ok=fine"), "%s", text);
	free(text);
	free(id);
}

Test(tree, parallel_readers, .init = setup, .fini = teardown)
{
	for (int i = 0; i < 8; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%d", i);
		free(rest_create("base", name, NULL));
	}
	refresh();
	/* 8 readers at once over every file, through the multi-threaded loop. */
	cr_expect_eq(sh("cd \"$MNT\" && seq 64 | xargs -P 8 -I{} sh -c "
			"'cat p*/info p*/state p*/timeout p*/info.json > /dev/null' "
			"&& [ \"$(cat p*/state | sort -u)\" = running ]"), 0);
}
