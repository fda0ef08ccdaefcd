/* The filesystem RPCs over HTTP, symlink escapes through every route, bad
 * input, and a 1 GiB upload and download with flat memory. */
#include "envdutil.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct efix f;
static char outside[] = "/tmp/sbxd-host-XXXXXX";

static void setup(void)
{
	char p[PATH_MAX];

	efix_start(&f);
	cr_assert_not_null(mkdtemp(outside));
	snprintf(p, sizeof(p), "%s/secret", outside);
	FILE *fp = fopen(p, "w");

	fputs("host secret", fp);
	fclose(fp);
}

static void teardown(void)
{
	char cmd[PATH_MAX];

	efix_stop(&f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", outside);
	cr_expect_eq(system(cmd), 0);
	cr_expect_eq(tsrv_complaints(), 0, "sbxd logged warnings");
}

TestSuite(fsrpc, .init = setup, .fini = teardown, .timeout = 120);

static json_t *ok_rpc(const char *method, const char *body)
{
	struct eresp r;

	erpc(&f, method, body, &r);
	cr_assert_eq(r.status, 200, "%s %s: %ld %s", method, body, r.status, r.body);
	cr_assert_str_eq(r.content_type, "application/json");
	json_t *j = eresp_json(&r);

	eresp_free(&r);
	cr_assert_not_null(j);
	return j;
}

static void err_rpc(const char *method, const char *body, long status, const char *code)
{
	struct eresp r;
	char c[64];

	erpc(&f, method, body, &r);
	cr_expect_eq(r.status, status, "%s %s: %ld %s", method, body, r.status, r.body);
	cr_expect_str_eq(eresp_code(&r, c), code, "%s %s: %s", method, body, r.body);
	eresp_free(&r);
}

static void host_mkfile(const char *sbx, const char *data)
{
	char p[PATH_MAX];
	FILE *fp = fopen(ehost(&f, sbx, p), "w");

	cr_assert_not_null(fp, "%s", p);
	fputs(data, fp);
	fclose(fp);
}

Test(fsrpc, stat_reports_entry_info)
{
	char p[PATH_MAX];

	host_mkfile("/home/user/a.txt", "hello");
	chmod(ehost(&f, "/home/user/a.txt", p), 0644);
	json_t *j = ok_rpc("Stat", "{\"path\":\"/home/user/a.txt\"}");
	json_t *e = json_object_get(j, "entry");

	cr_expect_str_eq(json_string_value(json_object_get(e, "name")), "a.txt");
	cr_expect_str_eq(json_string_value(json_object_get(e, "type")), "FILE_TYPE_FILE");
	cr_expect_str_eq(json_string_value(json_object_get(e, "size")), "5");
	cr_expect_eq(json_integer_value(json_object_get(e, "mode")), 0644);
	cr_expect_str_eq(json_string_value(json_object_get(e, "permissions")), "-rw-r--r--");
	cr_expect_str_eq(json_string_value(json_object_get(e, "owner")), "user");
	cr_expect(strlen(json_string_value(json_object_get(e, "modifiedTime"))) == 30);
	json_decref(j);
	cr_assert_eq(symlink("a.txt", ehost(&f, "/home/user/l", p)), 0);
	j = ok_rpc("Stat", "{\"path\":\"~/l\"}");
	e = json_object_get(j, "entry");
	cr_expect_str_eq(json_string_value(json_object_get(e, "type")), "FILE_TYPE_FILE");
	cr_expect_str_eq(json_string_value(json_object_get(e, "symlinkTarget")),
			 "/home/user/a.txt");
	cr_expect_str_eq(json_string_value(json_object_get(e, "permissions")), "Lrwxrwxrwx");
	json_decref(j);
	err_rpc("Stat", "{\"path\":\"/home/user/nope\"}", 404, "not_found");
}

Test(fsrpc, list_with_depth)
{
	char p[PATH_MAX];

	cr_assert_eq(mkdir(ehost(&f, "/home/user/d", p), 0755), 0);
	cr_assert_eq(mkdir(ehost(&f, "/home/user/d/e", p), 0755), 0);
	host_mkfile("/home/user/d/x.txt", "x");
	host_mkfile("/home/user/d/e/y.txt", "y");
	json_t *j = ok_rpc("ListDir", "{\"path\":\"/home/user/d\",\"depth\":1}");
	json_t *es = json_object_get(j, "entries");

	cr_expect_eq(json_array_size(es), 2);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(es, 0), "path")),
			 "/home/user/d/e");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(es, 0), "type")),
			 "FILE_TYPE_DIRECTORY");
	json_decref(j);
	j = ok_rpc("ListDir", "{\"path\":\"/home/user/d\",\"depth\":2}");
	es = json_object_get(j, "entries");
	cr_expect_eq(json_array_size(es), 3);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(es, 1), "path")),
			 "/home/user/d/e/y.txt");
	json_decref(j);
	err_rpc("ListDir", "{\"path\":\"/home/user/none\"}", 404, "not_found");
	err_rpc("ListDir", "{\"path\":\"/home/user/d/x.txt\"}", 400, "invalid_argument");
	err_rpc("ListDir", "{\"path\":\"/\",\"depth\":100000}", 400, "invalid_argument");
	err_rpc("ListDir", "{\"path\":\"/\",\"depth\":\"2\"}", 400, "invalid_argument");
}

Test(fsrpc, makedir_move_remove)
{
	char p[PATH_MAX];
	struct stat st;

	json_decref(ok_rpc("MakeDir", "{\"path\":\"/home/user/n/m\"}"));
	cr_expect_eq(stat(ehost(&f, "/home/user/n/m", p), &st), 0);
	cr_expect(S_ISDIR(st.st_mode));
	err_rpc("MakeDir", "{\"path\":\"/home/user/n/m\"}", 409, "already_exists");
	host_mkfile("/home/user/file", "f");
	err_rpc("MakeDir", "{\"path\":\"/home/user/file\"}", 400, "invalid_argument");
	json_t *j = ok_rpc("Move", "{\"source\":\"/home/user/file\","
			   "\"destination\":\"/home/user/b/a2.txt\"}");

	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "entry"), "path")),
			 "/home/user/b/a2.txt");
	json_decref(j);
	cr_expect_eq(access(ehost(&f, "/home/user/b/a2.txt", p), F_OK), 0);
	cr_expect_neq(access(ehost(&f, "/home/user/file", p), F_OK), 0);
	err_rpc("Move", "{\"source\":\"/home/user/gone\",\"destination\":\"/tmp/x\"}", 404,
		"not_found");
	j = ok_rpc("Remove", "{\"path\":\"/home/user/b\"}");
	cr_expect_eq(json_object_size(j), 0);
	json_decref(j);
	cr_expect_neq(access(ehost(&f, "/home/user/b", p), F_OK), 0);
	json_decref(ok_rpc("Remove", "{\"path\":\"/home/user/none\"}"));
}

Test(fsrpc, symlink_escapes_reach_no_host_file)
{
	char p[PATH_MAX], link[PATH_MAX + 8];
	struct eresp r;
	const char *raw[] = { "Content-Type: application/octet-stream", NULL };

	cr_assert_eq(symlink(outside, ehost(&f, "/home/user/abs", p)), 0);
	cr_assert_eq(symlink("../../../../../../../../../..", ehost(&f, "/home/user/up", p)), 0);
	snprintf(link, sizeof(link), "/files?path=/home/user/abs/secret");
	ereq(&f, "GET", link, NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 404, "%s", r.body);
	eresp_free(&r);
	snprintf(link, sizeof(link), "/files?path=/home/user/up%s/secret", outside);
	ereq(&f, "GET", link, NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 404, "%s", r.body);
	eresp_free(&r);
	snprintf(link, sizeof(link), "/files?path=../../..%s/secret", outside);
	ereq(&f, "GET", link, NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 404, "%s", r.body);
	eresp_free(&r);
	/* Writes through the links land in the root. */
	ereq(&f, "POST", "/files?path=/home/user/abs/secret", raw, "pwned", 5, &r);
	eresp_free(&r);
	snprintf(p, sizeof(p), "%s/secret", outside);
	char *s = eread_host(p, NULL);

	cr_expect_str_eq(s, "host secret");
	free(s);
	snprintf(link, sizeof(link), "{\"path\":\"/home/user/up%s\"}", outside);
	err_rpc("ListDir", link, 404, "not_found");
	/* Remove and Move of the link act on the link. */
	json_decref(ok_rpc("Remove", "{\"path\":\"/home/user/abs\"}"));
	cr_expect_eq(access(p, F_OK), 0);
	snprintf(link, sizeof(link), "{\"source\":\"/home/user/up%s/secret\","
		 "\"destination\":\"/home/user/stolen\"}", outside);
	err_rpc("Move", link, 404, "not_found");
	cr_expect_eq(access(p, F_OK), 0);
}

Test(fsrpc, bad_input)
{
	struct eresp r;
	char c[64];
	const char *plain[] = { "Content-Type: text/plain", NULL };

	err_rpc("Stat", "{\"path\":\"a\\u0000b\"}", 400, "invalid_argument");
	err_rpc("Stat", "{\"path\":7}", 400, "invalid_argument");
	err_rpc("Stat", "not json", 400, "invalid_argument");
	err_rpc("Stat", "[]", 400, "invalid_argument");
	err_rpc("Nope", "{}", 404, "unimplemented");
	err_rpc("Remove", "{\"path\":\"/\"}", 400, "invalid_argument");
	ereq(&f, "POST", "/filesystem.Filesystem/Stat", plain, "{}", 2, &r);
	cr_expect_eq(r.status, 415);
	eresp_free(&r);
	ereq(&f, "GET", "/filesystem.Filesystem/Stat", NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 405);
	eresp_free(&r);
	char *big = malloc(2u << 20);

	memset(big, ' ', 2u << 20);
	big[0] = '{';
	big[(2u << 20) - 1] = '}';
	const char *js[] = { "Content-Type: application/json", NULL };

	ereq(&f, "POST", "/filesystem.Filesystem/Stat", js, big, 2u << 20, &r);
	cr_expect_eq(r.status, 429);
	cr_expect_str_eq(eresp_code(&r, c), "resource_exhausted");
	eresp_free(&r);
	free(big);
	/* A stream method answers with an end-of-stream envelope. */
	const char *cj[] = { "Content-Type: application/connect+json", NULL };

	ereq(&f, "POST", "/process.Process/Start", cj, "\0\0\0\0\2{}", 7, &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.content_type, "application/connect+json");
	cr_expect_eq((unsigned char)r.body[0], 2);
	eresp_free(&r);
}

static long rss_kb(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (fp && fgets(line, sizeof(line), fp))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (fp)
		fclose(fp);
	return kb;
}

struct gen {
	curl_off_t left;
	unsigned long sum;
};

static size_t gen_read(char *buf, size_t sz, size_t n, void *ud)
{
	struct gen *g = ud;
	size_t k = sz * n < (size_t)g->left ? sz * n : (size_t)g->left;

	for (size_t i = 0; i < k; i++)
		buf[i] = (char)((g->left - (curl_off_t)i) & 0x7f);
	g->left -= (curl_off_t)k;
	return k;
}

static size_t count_body(char *p, size_t sz, size_t n, void *ud)
{
	(void)p;
	*(curl_off_t *)ud += (curl_off_t)(sz * n);
	return sz * n;
}

/* One streamed request: upload `up` bytes (0: none, GET), count the
 * downloaded ones. */
static long stream(const char *method, curl_off_t up, curl_off_t *down)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256], line[128];
	struct gen g = { up, 0 };
	long status = 0;

	snprintf(url, sizeof(url), "%s/files?path=/tmp/big", f.t.base);
	snprintf(line, sizeof(line), "X-Access-Token: %s", f.token);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "E2b-Sandbox-Id: %s", f.id);
	h = curl_slist_append(h, line);
	h = curl_slist_append(h, "Content-Type: application/octet-stream");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, count_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, down);
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, gen_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &g);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, up);
	}
	cr_assert_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

Test(fsrpc, one_gib_up_and_down_with_flat_memory, .timeout = 300)
{
	const curl_off_t size = (curl_off_t)1 << 30;
	curl_off_t down = 0;
	long before = rss_kb();
	char p[PATH_MAX];
	struct stat st;

	cr_assert_eq(stream("POST", size, &down), 200);
	cr_expect_eq(stat(ehost(&f, "/tmp/big", p), &st), 0);
	cr_expect_eq(st.st_size, size);
	down = 0;
	cr_assert_eq(stream("GET", 0, &down), 200);
	cr_expect_eq(down, size);
	/* Both ways together grew this process (server and client) by less
	 * than 64 MiB. */
	cr_expect_lt(rss_kb() - before, 64 * 1024, "RSS %ld -> %ld kB", before, rss_kb());
	unlink(p);
}

/* A request envelope around `json`; returns its length. */
static size_t frame(const char *json, char *out)
{
	size_t n = strlen(json);

	out[0] = 0;
	out[1] = (char)(n >> 24), out[2] = (char)(n >> 16), out[3] = (char)(n >> 8);
	out[4] = (char)n;
	memcpy(out + 5, json, n);
	return n + 5;
}

/* The envelopes of a stream reply as a JSON array of {"flags":n,"msg":{}}. */
static json_t *envelopes(const struct eresp *r)
{
	json_t *a = json_array();
	size_t i = 0;

	while (i + 5 <= r->len) {
		const unsigned char *b = (const unsigned char *)r->body + i;
		size_t n = (size_t)b[1] << 24 | (size_t)b[2] << 16 | (size_t)b[3] << 8 | b[4];

		cr_assert_leq(i + 5 + n, r->len, "truncated envelope");
		json_array_append_new(a, json_pack("{s:i, s:o}", "flags", b[0], "msg",
						   json_loadb((const char *)b + 5, n, 0, NULL)));
		i += 5 + n;
	}
	cr_assert_eq(i, r->len, "trailing bytes after the envelopes");
	return a;
}

static void *touch_later(void *arg)
{
	char p[PATH_MAX];

	(void)arg;
	usleep(300 * 1000);
	FILE *fp = fopen(ehost(&f, "/home/user/w/w.txt", p), "w");

	fputs("w", fp);
	fclose(fp);
	mkdir(ehost(&f, "/home/user/w/sub/deeper", p), 0755);
	usleep(200 * 1000);
	fp = fopen(ehost(&f, "/home/user/w/sub/deeper/f.txt", p), "w");
	fclose(fp);
	return NULL;
}

static bool has_event(json_t *envs, const char *name, const char *type)
{
	size_t i;
	json_t *e;

	json_array_foreach(envs, i, e) {
		json_t *fs = json_object_get(json_object_get(e, "msg"), "filesystem");

		if (fs && !strcmp(json_string_value(json_object_get(fs, "name")), name) &&
		    !strcmp(json_string_value(json_object_get(fs, "type")), type))
			return true;
	}
	return false;
}

Test(fsrpc, watchdir_streams_events_keepalives_and_ends_at_deadline)
{
	char req[128];
	size_t rlen = frame("{\"path\":\"/home/user/w\",\"recursive\":true}", req);
	const char *h[] = { "Content-Type: application/connect+json", "Connect-Protocol-Version: 1",
			    "Keepalive-Ping-Interval: 1", "Connect-Timeout-Ms: 2500", NULL };
	char p[PATH_MAX];
	struct eresp r;
	pthread_t th;

	cr_assert_eq(mkdir(ehost(&f, "/home/user/w", p), 0755), 0);
	cr_assert_eq(mkdir(ehost(&f, "/home/user/w/sub", p), 0755), 0);
	pthread_create(&th, NULL, touch_later, NULL);
	ereq(&f, "POST", "/filesystem.Filesystem/WatchDir", h, req, rlen, &r);
	pthread_join(th, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.content_type, "application/connect+json");
	json_t *envs = envelopes(&r);
	size_t n = json_array_size(envs);
	json_t *first = json_object_get(json_array_get(envs, 0), "msg");
	json_t *last = json_array_get(envs, n - 1);

	cr_assert_geq(n, 4, "%s", r.body);
	cr_expect(json_object_get(first, "start") != NULL, "start event first");
	cr_expect(has_event(envs, "w.txt", "EVENT_TYPE_CREATE"));
	cr_expect(has_event(envs, "w.txt", "EVENT_TYPE_WRITE"));
	cr_expect(has_event(envs, "sub/deeper", "EVENT_TYPE_CREATE"));
	cr_expect(has_event(envs, "sub/deeper/f.txt", "EVENT_TYPE_CREATE"));
	bool keepalive = false;
	size_t i;
	json_t *e;

	json_array_foreach(envs, i, e)
		keepalive |= json_object_get(json_object_get(e, "msg"), "keepalive") != NULL;
	cr_expect(keepalive, "an idle second brings a keepalive");
	cr_expect_eq(json_integer_value(json_object_get(last, "flags")), 2);
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(
		last, "msg"), "error"), "code")), "deadline_exceeded");
	json_decref(envs);
	eresp_free(&r);
}

Test(fsrpc, watchdir_errors_end_the_stream)
{
	char missing[64];
	size_t mlen = frame("{\"path\":\"/home/user/none\"}", missing);
	const char *h[] = { "Content-Type: application/connect+json", NULL };
	struct eresp r;

	ereq(&f, "POST", "/filesystem.Filesystem/WatchDir", h, missing, mlen, &r);
	cr_expect_eq(r.status, 200);
	json_t *envs = envelopes(&r);

	cr_expect_eq(json_array_size(envs), 1);
	cr_expect(strstr(r.body + 5, "not_found"), "%s", r.body + 5);
	json_decref(envs);
	eresp_free(&r);
	ereq(&f, "POST", "/filesystem.Filesystem/WatchDir", h, "\0\0\0\0\x09{}", 7, &r);
	cr_expect_eq(r.status, 200);
	cr_expect(r.len > 5 && strstr(r.body + 5, "invalid_argument"), "malformed envelope");
	eresp_free(&r);
}

Test(fsrpc, polled_watchers)
{
	char p[PATH_MAX], body[128];
	json_t *j = ok_rpc("CreateWatcher", "{\"path\":\"/home/user\"}");
	const char *id = json_string_value(json_object_get(j, "watcherId"));

	cr_assert_not_null(id);
	snprintf(body, sizeof(body), "{\"watcherId\":\"%s\"}", id);
	json_decref(j);
	host_mkfile("/home/user/polled.txt", "x");
	j = ok_rpc("GetWatcherEvents", body);
	cr_expect_geq(json_array_size(json_object_get(j, "events")), 1);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j,
		"events"), 0), "name")), "polled.txt");
	json_decref(j);
	j = ok_rpc("GetWatcherEvents", body);
	cr_expect_eq(json_array_size(json_object_get(j, "events")), 0, "drained");
	json_decref(j);
	json_decref(ok_rpc("RemoveWatcher", body));
	err_rpc("GetWatcherEvents", body, 404, "not_found");
	err_rpc("CreateWatcher", "{\"path\":\"/home/user/polled.txt\"}", 400, "invalid_argument");
	(void)p;
}

Test(fsrpc, watcher_flood_is_limited)
{
	struct eresp r;
	int ok = 0, limited = 0;
	char c[64];

	for (int i = 0; i < 80; i++) {
		erpc(&f, "CreateWatcher", "{\"path\":\"/tmp\"}", &r);
		ok += r.status == 200;
		limited += r.status == 429 && !strcmp(eresp_code(&r, c), "resource_exhausted");
		eresp_free(&r);
	}
	cr_expect_eq(ok, 64);
	cr_expect_eq(limited, 16);
}
