/* The filesystem RPCs over HTTP, symlink escapes through every route, bad
 * input, and a 1 GiB upload and download with flat memory. */
#include "envdutil.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
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
