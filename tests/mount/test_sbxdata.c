/* Mount tests of MOUNT/<sbx>/logs and MOUNT/<sbx>/metrics: contents
 * checked against the REST routes (libcurl), growth seen by fstat the way
 * tail -f polls, and the requests a listing or a read costs, counted by
 * sbxd. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/rfc3339.h"
#include "mnt.h"

#define LOGS_ROUTE "GET /v2/sandboxes/{id}/logs"
#define METRICS_ROUTE "GET /sandboxes/{id}/metrics"

static void setup(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 1 });
}

static void teardown(void)
{
	mnt_stop();
}

static void refresh(void)
{
	cr_assert_eq(put(P(".sbxfs/refresh"), "1\n"), 0);
}

/* The sandbox's log entries as GET /v2/sandboxes/{id}/logs gives them,
 * oldest first. */
static json_t *api_logs(const char *id)
{
	char path[256];
	json_t *o = NULL, *logs;
	long st;

	snprintf(path, sizeof(path), "/v2/sandboxes/%s/logs?direction=forward", id);
	st = rest("GET", path, NULL, &o);
	cr_assert_eq(st, 200, "logs: HTTP %ld", st);
	logs = json_incref(json_object_get(o, "logs"));
	json_decref(o);
	cr_assert(json_is_array(logs));
	return logs;
}

/* Checks text holds exactly entries [from, end) of logs, one line each,
 * starting `TIME LEVEL MESSAGE` (sbxd's entries have no fields here, so
 * a line ends there). */
static void expect_lines(const char *text, size_t len, const json_t *logs, size_t from)
{
	const char *p = text, *end = text + len;
	char want[1024];
	size_t i;

	for (i = from; i < json_array_size(logs); i++) {
		const json_t *e = json_array_get(logs, i);
		const char *lvl = json_string_value(json_object_get(e, "level"));
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char up[16] = "";
		int64_t ms;

		for (size_t k = 0; lvl[k] && k < sizeof(up) - 1; k++)
			up[k] = (char)(lvl[k] >= 'a' && lvl[k] <= 'z' ? lvl[k] - 32 : lvl[k]);
		cr_assert_eq(rfc3339_parse(json_string_value(json_object_get(e, "timestamp")),
					   &ms), 0);
		snprintf(want, sizeof(want), "%s %s %s", json_string_value(json_object_get(e,
			 "timestamp")), up, json_string_value(json_object_get(e, "message")));
		cr_assert_not_null(nl, "line %zu missing, want \"%s\" in:\n%.*s", i, want,
				   (int)len, text);
		cr_expect_eq((size_t)(nl - p), strlen(want), "line %zu: \"%.*s\", want \"%s\"", i,
			     (int)(nl - p), p, want);
		cr_expect_eq(memcmp(p, want, strlen(want)), 0, "line %zu: \"%.*s\", want \"%s\"",
			     i, (int)(nl - p), p, want);
		p = nl + 1;
	}
	cr_expect_eq(p, end, "more lines than the API has: \"%.*s\"", (int)(end - p), p);
}

static void post(const char *id, const char *what)
{
	char path[256];
	long st;

	snprintf(path, sizeof(path), "/sandboxes/%s/%s", id, what);
	st = rest("POST", path, "{}", NULL);
	cr_assert(st >= 200 && st < 300, "%s: HTTP %ld", what, st);
}

Test(sbxdata, logs_show_the_lifecycle_and_grow_like_a_log_file, .init = setup,
     .fini = teardown)
{
	char *id = rest_create("base", "alpha", NULL);
	json_t *logs, *more;
	size_t len, n0;
	struct stat st, st2;
	char *text, buf[4096];
	ssize_t got;
	int fd;

	refresh();
	text = slurp(P("alpha/logs"), &len);
	cr_assert_not_null(text, "cat logs: %s", strerror(errno));
	logs = api_logs(id);
	n0 = json_array_size(logs);
	cr_assert_geq(n0, 1, "sbxd logged no creation");
	expect_lines(text, len, logs, 0);
	cr_assert_eq(stat(P("alpha/logs"), &st), 0);
	cr_expect_eq((size_t)st.st_size, len, "stat after cat: %lld, read %zu",
		     (long long)st.st_size, len);

	/* tail -f: an open file, fstat until it grows, read from the old end */
	fd = open(P("alpha/logs"), O_RDONLY);
	cr_assert_geq(fd, 0, "open logs: %s", strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	cr_expect_eq((size_t)st.st_size, len);
	post(id, "pause");
	post(id, "connect");
	more = api_logs(id);
	cr_assert_eq(json_array_size(more), n0 + 2, "pause and resume not logged");
	/* bounded: the attribute cache and the fetch interval are 1 s each */
	for (int i = 0; i < 40 && fstat(fd, &st2) == 0 && st2.st_size == st.st_size; i++)
		usleep(100 * 1000);
	cr_assert_gt(st2.st_size, st.st_size, "fstat never saw the log grow");
	got = pread(fd, buf, sizeof(buf), st.st_size);
	cr_assert_eq(got, st2.st_size - st.st_size, "read %zd new bytes, size grew by %lld",
		     got, (long long)(st2.st_size - st.st_size));
	expect_lines(buf, (size_t)got, more, n0);
	cr_expect_eq(pread(fd, buf, sizeof(buf), st2.st_size), 0, "no EOF at the end");
	close(fd);
	/* a stat by path now knows the new size (without a request) */
	cr_assert_eq(stat(P("alpha/logs"), &st), 0);
	cr_expect_eq(st.st_size, st2.st_size);
	free(text);
	text = slurp(P("alpha/logs"), &len);
	expect_lines(text, len, more, 0);
	json_decref(logs);
	json_decref(more);
	free(text);
	free(id);
}

static int count_of(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* GNU tail -f itself: it polls a FUSE file (no inotify for it) with stat
 * and reads from where it was. */
Test(sbxdata, tail_f_follows_new_lines, .init = setup, .fini = teardown)
{
	char *id = rest_create("base", "alpha", NULL);
	char out[128], pidf[128], *text = NULL;
	long pid = 0;
	FILE *f;

	refresh();
	snprintf(out, sizeof(out), "%s/tail.out", M.tmp);
	snprintf(pidf, sizeof(pidf), "%s/tail.pid", M.tmp);
	/* bounded by timeout(1) should the kill below not happen */
	cr_assert_eq(sh("timeout 20 tail -s 0.2 -f \"$MNT/alpha/logs\" > '%s' 2>&1 & "
			"echo $! > '%s'", out, pidf), 0);
	for (int i = 0; i < 50 && !(text && strstr(text, " INFO Sandbox created")); i++) {
		free(text);
		usleep(100 * 1000);
		text = slurp(out, NULL);
	}
	cr_expect(text && strstr(text, " INFO Sandbox created"), "tail -f showed: %s", text);
	post(id, "pause");
	for (int i = 0; i < 50 && !(text && strstr(text, " INFO Sandbox paused")); i++) {
		free(text);
		usleep(100 * 1000);
		text = slurp(out, NULL);
	}
	cr_expect(text && strstr(text, " INFO Sandbox paused\n"), "tail -f showed: %s", text);
	cr_expect(text && count_of(text, "Sandbox created") == 1 &&
		  count_of(text, "Sandbox paused") == 1, "a line came twice: %s", text);
	if ((f = fopen(pidf, "r")) != NULL) {
		if (fscanf(f, "%ld", &pid) == 1 && pid > 0)
			kill((pid_t)pid, SIGTERM);
		fclose(f);
	}
	/* gone before the unmount (bounded: 2 s) */
	for (int i = 0; pid > 0 && i < 20 && kill((pid_t)pid, 0) == 0; i++)
		usleep(100 * 1000);
	free(text);
	free(id);
}

/* `key=value` of text as a long long; fails when absent. */
static long long value_of(const char *text, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "%s=", key);
	for (p = text; (p = strstr(p, pat)) != NULL; p++)
		if (p == text || p[-1] == '\n')
			return strtoll(p + strlen(pat), NULL, 10);
	cr_assert_fail("no %s in:\n%s", key, text);
	return -1;
}

Test(sbxdata, metrics_match_the_rest_route, .init = setup, .fini = teardown)
{
	char *id = rest_create("base", "alpha", NULL);
	static const char *const keys[] = {
		"cpu_count", "cpu_used_pct", "mem_used", "mem_total", "disk_used", "disk_total",
		"timestamp",
	};
	json_t *arr = NULL, *m;
	char path[256], *text;
	const char *p;
	int64_t ts_ms;
	size_t len;
	long st;

	refresh();
	text = slurp(P("alpha/metrics"), &len);
	cr_assert_not_null(text, "cat metrics: %s", strerror(errno));
	snprintf(path, sizeof(path), "/sandboxes/%s/metrics", id);
	st = rest("GET", path, NULL, &arr);
	cr_assert_eq(st, 200);
	cr_assert_eq(json_array_size(arr), 1);
	m = json_array_get(arr, 0);
	p = text;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		cr_expect_eq(strncmp(p, keys[i], strlen(keys[i])), 0, "line %zu: want %s in:\n%s",
			     i, keys[i], text);
		cr_expect_eq(p[strlen(keys[i])], '=');
		p = strchr(p, '\n');
		cr_assert_not_null(p);
		p++;
	}
	cr_expect_eq(*p, '\0', "more than the seven lines:\n%s", text);
	cr_expect_eq(value_of(text, "cpu_count"), json_integer_value(json_object_get(m,
		     "cpuCount")));
	cr_expect_eq(value_of(text, "mem_total"), json_integer_value(json_object_get(m,
		     "memTotal")));
	cr_expect_eq(value_of(text, "disk_total"), json_integer_value(json_object_get(m,
		     "diskTotal")));
	cr_expect_gt(value_of(text, "mem_total"), 0);
	{
		const char *v = strstr(text, "\ntimestamp=") + 11;
		char ts[RFC3339_LEN] = "";
		int64_t ours;

		memcpy(ts, v, strcspn(v, "\n") < sizeof(ts) ? strcspn(v, "\n") : 0);
		cr_assert_eq(rfc3339_parse(ts, &ours), 0, "timestamp \"%s\"", ts);
		cr_assert_eq(rfc3339_parse(json_string_value(json_object_get(m, "timestamp")),
					   &ts_ms), 0);
		/* the two GETs a moment apart */
		cr_expect(ours <= ts_ms && ts_ms - ours <= 5000, "timestamp %s, the API's %s", ts,
			  json_string_value(json_object_get(m, "timestamp")));
	}
	json_decref(arr);
	free(text);
	free(id);
}

Test(sbxdata, a_listing_or_info_fetches_neither, .init = setup, .fini = teardown)
{
	char *ids[3] = { rest_create("base", "alpha", NULL), rest_create("base", "beta", NULL),
			 rest_create("base", NULL, NULL) };
	long l0, m0;
	struct stat st;
	size_t len;
	char *text;

	refresh();
	l0 = stats(LOGS_ROUTE);
	m0 = stats(METRICS_ROUTE);
	cr_assert_eq(sh("ls -l \"$MNT\" \"$MNT\"/* > /dev/null && cat \"$MNT\"/alpha/info "
			"\"$MNT\"/beta/state > /dev/null"), 0);
	cr_assert_eq(stat(P("alpha/logs"), &st), 0);
	cr_expect_eq(st.st_size, 0, "logs never read: nothing held");
	cr_assert_eq(stat(P("alpha/metrics"), &st), 0);
	cr_expect_eq(st.st_mode, S_IFREG | 0444);
	cr_expect_eq(stats(LOGS_ROUTE) - l0, 0, "a listing fetched logs");
	cr_expect_eq(stats(METRICS_ROUTE) - m0, 0, "a listing fetched metrics");
	text = slurp(P("alpha/logs"), &len);
	cr_assert_not_null(text);
	cr_expect_eq(stats(LOGS_ROUTE) - l0, 1, "cat logs: one request");
	free(text);
	text = slurp(P("alpha/metrics"), NULL);
	cr_assert_not_null(text);
	cr_expect_eq(stats(METRICS_ROUTE) - m0, 1, "cat metrics: one request");
	free(text);
	l0 = stats(LOGS_ROUTE);
	cr_assert_eq(sh("ls -l \"$MNT\"/alpha > '%s/ls.out'", M.tmp), 0);
	cr_expect_eq(stats(LOGS_ROUTE) - l0, 0, "ls -l of a read sandbox fetched logs");
	cr_assert_eq(stat(P("alpha/logs"), &st), 0);
	cr_expect_eq((size_t)st.st_size, len, "ls -l shows the size held");
	for (int i = 0; i < 3; i++)
		free(ids[i]);
}

Test(sbxdata, paused_readable_killed_gone_and_never_written, .init = setup,
     .fini = teardown)
{
	char *id = rest_create("base", "alpha", NULL);
	char path[256], *text;
	int fd;

	post(id, "pause");
	refresh();
	text = slurp(P("alpha/logs"), NULL);
	cr_assert_not_null(text, "logs of a paused sandbox: %s", strerror(errno));
	cr_expect(strstr(text, " INFO Sandbox paused\n"), "%s", text);
	free(text);
	text = slurp(P("alpha/metrics"), NULL);
	cr_assert_not_null(text, "metrics of a paused sandbox: %s", strerror(errno));
	free(text);
	text = rest_field(id, "state");
	cr_expect_str_eq(text, "paused", "a read resumed the sandbox");
	free(text);
	cr_expect_lt(open(P("alpha/logs"), O_WRONLY), 0);
	cr_expect_eq(errno, EACCES);
	cr_expect_lt(open(P("alpha/metrics"), O_RDWR), 0);
	cr_expect_eq(errno, EACCES);
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	cr_assert_lt(rest("DELETE", path, NULL, NULL), 300);
	refresh();
	fd = open(P("alpha/logs"), O_RDONLY);
	cr_expect_lt(fd, 0, "logs of a killed sandbox opened");
	cr_expect_eq(errno, ENOENT);
	fd = open(P("alpha/metrics"), O_RDONLY);
	cr_expect_lt(fd, 0, "metrics of a killed sandbox opened");
	cr_expect_eq(errno, ENOENT);
	free(id);
}
