/* envd over HTTP: routing, auth, users, /files and the filesystem RPCs,
 * against an in-process sbxd whose sandbox root is a temp directory.
 * Effects are checked on the host side of that root. */
#include "envdutil.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static struct efix f;

static void setup(void)
{
	efix_start(&f);
}

static void teardown(void)
{
	efix_stop(&f);
	cr_expect_eq(tsrv_complaints(), 0, "sbxd logged warnings");
}

TestSuite(envd, .init = setup, .fini = teardown, .timeout = 60);

static void put_file(const char *path, const char *data)
{
	char q[512];
	struct eresp r;
	const char *h[] = { "Content-Type: application/octet-stream", NULL };

	snprintf(q, sizeof(q), "/files?path=%s", path);
	ereq(&f, "POST", q, h, data, strlen(data), &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	eresp_free(&r);
}

Test(envd, health_needs_no_token_and_routes_by_host)
{
	struct eresp r;
	char host[128];
	const char *no[] = { "X-No-Token: 1", NULL };

	ereq(&f, "GET", "/health", no, NULL, 0, &r);
	cr_expect_eq(r.status, 204);
	eresp_free(&r);
	snprintf(host, sizeof(host), "Host: 49983-%s.sbxd.local", f.id);
	const char *byhost[] = { "X-No-Id: 1", host, NULL };

	ereq(&f, "GET", "/health", byhost, NULL, 0, &r);
	cr_expect_eq(r.status, 204);
	eresp_free(&r);
}

Test(envd, unknown_or_killed_sandbox_is_502)
{
	struct eresp r;
	struct resp k;
	const char *h[] = { "X-No-Id: 1", "E2b-Sandbox-Id: nosuchsandbox", NULL };

	ereq(&f, "GET", "/health", h, NULL, 0, &r);
	cr_expect_eq(r.status, 502);
	json_t *j = eresp_json(&r);

	cr_expect_str_eq(json_string_value(json_object_get(j, "sandboxId")), "nosuchsandbox");
	cr_expect_str_eq(json_string_value(json_object_get(j, "message")),
			 "The sandbox was not found");
	cr_expect_eq(json_integer_value(json_object_get(j, "code")), 502);
	json_decref(j);
	eresp_free(&r);
	char path[64];

	snprintf(path, sizeof(path), "/sandboxes/%s", f.id);
	http(&f.t, "DELETE", path, TEST_KEY, NULL, &k);
	cr_assert_eq(k.status, 204);
	resp_free(&k);
	erpc(&f, "Stat", "{\"path\":\"/\"}", &r);
	cr_expect_eq(r.status, 502);
	eresp_free(&r);
}

Test(envd, access_token_is_required)
{
	struct eresp r;
	const char *none[] = { "X-No-Token: 1", "Content-Type: application/json", NULL };
	const char *bad[] = { "X-Access-Token: nope", NULL };
	const char *apikey[] = { "X-No-Token: 1", "X-API-Key: " TEST_KEY,
				 "Content-Type: application/json", NULL };

	ereq(&f, "POST", "/filesystem.Filesystem/Stat", none, "{}", 2, &r);
	cr_expect_eq(r.status, 401);
	cr_expect(strstr(r.body, "unauthorized access"), "%s", r.body);
	eresp_free(&r);
	ereq(&f, "GET", "/files?path=/etc/hostname", bad, NULL, 0, &r);
	cr_expect_eq(r.status, 401);
	eresp_free(&r);
	ereq(&f, "POST", "/filesystem.Filesystem/Stat", apikey, "{}", 2, &r);
	cr_expect_eq(r.status, 401, "the API key is no envd credential");
	eresp_free(&r);
}

Test(envd, users_by_basic_auth_and_query)
{
	struct eresp r;
	char code[64];
	const char *root[] = { "Authorization: Basic cm9vdDo=", "Content-Type: application/json",
			       NULL };
	const char *eve[] = { "Authorization: Basic ZXZlOg==", "Content-Type: application/json",
			      NULL };

	/* The path "" is the user's home. */
	ereq(&f, "POST", "/filesystem.Filesystem/Stat", root, "{\"path\":\"\"}", 11, &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	cr_expect(strstr(r.body, "\"path\":\"/root\""), "%s", r.body);
	eresp_free(&r);
	ereq(&f, "POST", "/filesystem.Filesystem/Stat", eve, "{}", 2, &r);
	cr_expect_eq(r.status, 401);
	cr_expect_str_eq(eresp_code(&r, code), "unauthenticated");
	eresp_free(&r);
	ereq(&f, "GET", "/files?path=x&username=eve", NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 401);
	eresp_free(&r);
	put_file("rel.txt&username=root", "r");
	char p[PATH_MAX];

	cr_expect_eq(access(ehost(&f, "/root/rel.txt", p), F_OK), 0);
}

Test(envd, write_then_read_with_ranges)
{
	struct eresp r;
	char p[PATH_MAX];
	const char *range[] = { "Range: bytes=1-3", NULL };
	const char *tail[] = { "Range: bytes=-2", NULL };
	const char *bad[] = { "Range: bytes=9-", NULL };

	put_file("%2Fhome%2Fuser%2Fdeep%2Fa.txt", "hello");
	char *host = eread_host(ehost(&f, "/home/user/deep/a.txt", p), NULL);

	cr_assert_str_eq(host ? host : "", "hello");
	free(host);
	ereq(&f, "GET", "/files?path=/home/user/deep/a.txt", NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, "hello");
	eresp_free(&r);
	ereq(&f, "GET", "/files?path=deep/a.txt", range, NULL, 0, &r);
	cr_expect_eq(r.status, 206);
	cr_expect_str_eq(r.body, "ell");
	cr_expect_str_eq(r.content_range, "bytes 1-3/5");
	eresp_free(&r);
	ereq(&f, "GET", "/files?path=deep/a.txt", tail, NULL, 0, &r);
	cr_expect_str_eq(r.body, "lo");
	eresp_free(&r);
	ereq(&f, "GET", "/files?path=deep/a.txt", bad, NULL, 0, &r);
	cr_expect_eq(r.status, 416);
	eresp_free(&r);
	put_file("/home/user/empty", "");
	ereq(&f, "GET", "/files?path=/home/user/empty", NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 200);
	cr_expect_eq(r.len, 0);
	eresp_free(&r);
}

Test(envd, read_errors)
{
	struct eresp r;

	ereq(&f, "GET", "/files?path=/home/user/nope", NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 404);
	cr_expect(strstr(r.body, "does not exist"), "%s", r.body);
	eresp_free(&r);
	ereq(&f, "GET", "/files?path=/home/user", NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 400);
	cr_expect(strstr(r.body, "is a directory"), "%s", r.body);
	eresp_free(&r);
	ereq(&f, "GET", "/files?path=/home/user/a%00b", NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 400);
	eresp_free(&r);
}

Test(envd, multipart_several_files)
{
	static const char body[] =
		"--XyZ\r\n"
		"Content-Disposition: form-data; name=\"file\"; filename=\"/home/user/d/x.txt\"\r\n"
		"Content-Type: application/octet-stream\r\n\r\n"
		"x\r\n--Xy-not-yet\r\n"
		"\r\n--XyZ\r\n"
		"Content-Disposition: form-data; name=\"other\"\r\n\r\nignored\r\n"
		"--XyZ\r\n"
		"Content-Disposition: form-data; name=\"file\"; filename=\"d/y.txt\"\r\n\r\n"
		"yy\r\n--XyZ--\r\n";
	const char *h[] = { "Content-Type: multipart/form-data; boundary=XyZ", NULL };
	struct eresp r;
	char p[PATH_MAX];

	ereq(&f, "POST", "/files", h, body, sizeof(body) - 1, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *j = eresp_json(&r);

	cr_expect_eq(json_array_size(j), 2);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(j, 1), "path")),
			 "/home/user/d/y.txt");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "type")),
			 "file");
	json_decref(j);
	eresp_free(&r);
	char *x = eread_host(ehost(&f, "/home/user/d/x.txt", p), NULL);

	cr_expect_str_eq(x ? x : "", "x\r\n--Xy-not-yet\r\n");
	free(x);
	x = eread_host(ehost(&f, "/home/user/d/y.txt", p), NULL);
	cr_expect_str_eq(x ? x : "", "yy");
	free(x);
}

Test(envd, upload_errors_change_nothing)
{
	const char *mp[] = { "Content-Type: multipart/form-data; boundary=B", NULL };
	const char *txt[] = { "Content-Type: text/plain", NULL };
	const char *raw[] = { "Content-Type: application/octet-stream", NULL };
	const char *br[] = { "Content-Type: application/octet-stream",
			     "Content-Encoding: br", NULL };
	struct eresp r;

	ereq(&f, "POST", "/files", mp, "--B\r\nbroken", 12, &r);
	cr_expect_eq(r.status, 400, "%s", r.body);
	eresp_free(&r);
	ereq(&f, "POST", "/files?path=a", txt, "x", 1, &r);
	cr_expect_eq(r.status, 400);
	cr_expect(strstr(r.body, "unsupported content type"), "%s", r.body);
	eresp_free(&r);
	ereq(&f, "POST", "/files", raw, "x", 1, &r);
	cr_expect_eq(r.status, 400);
	cr_expect(strstr(r.body, "path query parameter is required"), "%s", r.body);
	eresp_free(&r);
	ereq(&f, "POST", "/files?path=b", br, "x", 1, &r);
	cr_expect_eq(r.status, 400);
	eresp_free(&r);
	ereq(&f, "POST", "/files?path=/home/user", raw, "x", 1, &r);
	cr_expect_eq(r.status, 400);
	cr_expect(strstr(r.body, "is a directory"), "%s", r.body);
	eresp_free(&r);
	char p[PATH_MAX];

	cr_expect_neq(access(ehost(&f, "/home/user/a", p), F_OK), 0);
	cr_expect_neq(access(ehost(&f, "/home/user/b", p), F_OK), 0);
}

Test(envd, gzip_upload)
{
	const char *h[] = { "Content-Type: application/octet-stream", "Content-Encoding: gzip",
			    NULL };
	static char plain[300000], gz[400000];
	z_stream z = { 0 };
	struct eresp r;
	char p[PATH_MAX];
	size_t n;

	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (char)('a' + i * 7 % 26);
	cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)plain, z.avail_in = sizeof(plain);
	z.next_out = (Bytef *)gz, z.avail_out = sizeof(gz);
	cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	ereq(&f, "POST", "/files?path=g.bin", h, gz, z.total_out, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	eresp_free(&r);
	char *got = eread_host(ehost(&f, "/home/user/g.bin", p), &n);

	cr_assert_eq(n, sizeof(plain));
	cr_expect_eq(memcmp(got, plain, n), 0);
	free(got);
	ereq(&f, "POST", "/files?path=bad.bin", h, "notgzip", 7, &r);
	cr_expect_eq(r.status, 400);
	eresp_free(&r);
}

Test(envd, chunked_upload)
{
	const char *h[] = { "Content-Type: application/octet-stream",
			    "Transfer-Encoding: chunked", NULL };
	struct eresp r;
	char p[PATH_MAX];

	ereq(&f, "POST", "/files?path=c.txt", h, "chunked body", 12, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	eresp_free(&r);
	char *got = eread_host(ehost(&f, "/home/user/c.txt", p), NULL);

	cr_expect_str_eq(got ? got : "", "chunked body");
	free(got);
}

/* A second sandbox on f's root, from the 1 MiB template. */
static struct efix tiny_box(void)
{
	struct efix tiny = f;
	struct resp c;
	json_t *j;

	http(&f.t, "POST", "/sandboxes", TEST_KEY, "{\"templateID\":\"tiny\"}", &c);
	cr_assert_eq(c.status, 201);
	j = resp_json(&c);
	snprintf(tiny.id, sizeof(tiny.id), "%s", json_string_value(json_object_get(j, "sandboxID")));
	snprintf(tiny.token, sizeof(tiny.token), "%s",
		 json_string_value(json_object_get(j, "envdAccessToken")));
	json_decref(j);
	resp_free(&c);
	return tiny;
}

/* Uploads n bytes of data to path in box, expecting status. */
static void upload_expect(const struct efix *box, const char *path, const char *data, size_t n,
			  long status, const char *why)
{
	const char *h[] = { "Content-Type: application/octet-stream", NULL };
	char q[256];
	struct eresp r;

	snprintf(q, sizeof(q), "/files?path=%s", path);
	ereq(box, "POST", q, h, data, n, &r);
	cr_expect_eq(r.status, status, "%s %zu bytes (%s): %s", path, n, why, r.body);
	eresp_free(&r);
}

Test(envd, disk_quota_gives_507)
{
	struct efix tiny = tiny_box();
	static char two_mib[2 << 20];
	char p[PATH_MAX];
	struct stat st;

	upload_expect(&tiny, "/tmp/full", two_mib, sizeof(two_mib), 507, "over 1 MiB");
	cr_expect_neq(stat(ehost(&f, "/tmp/full", p), &st), 0, "a failed upload leaves nothing");
	upload_expect(&f, "/tmp/full", two_mib, sizeof(two_mib), 200, "the 4 GiB sandbox");
}

/* The quota counts what earlier uploads wrote at once (sbxd does not walk
 * the sandbox's tree on every upload), a replaced file's old bytes as
 * freed, and a Remove's freed bytes on the next upload. */
Test(envd, disk_quota_counts_each_upload_and_what_remove_frees)
{
	struct efix tiny = tiny_box();
	static char k600[600 << 10];
	char p[PATH_MAX];
	struct stat st;
	struct eresp r;

	upload_expect(&tiny, "/tmp/a", k600, sizeof(k600), 200, "fits");
	upload_expect(&tiny, "/tmp/b", k600, sizeof(k600), 507, "a's and b's exceed 1 MiB");
	cr_expect_neq(stat(ehost(&tiny, "/tmp/b", p), &st), 0, "a failed upload leaves nothing");
	upload_expect(&tiny, "/tmp/a", k600, 10 << 10, 200, "a made smaller");
	upload_expect(&tiny, "/tmp/b", k600, sizeof(k600), 200, "a's old bytes were freed");
	upload_expect(&tiny, "/tmp/c", k600, sizeof(k600), 507, "b's and c's exceed 1 MiB");
	erpc(&tiny, "Remove", "{\"path\":\"/tmp/b\"}", &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	eresp_free(&r);
	upload_expect(&tiny, "/tmp/c", k600, sizeof(k600), 200, "b was removed");
}

/* Upload temporaries (".NAME.upload-*") in the sandbox's /tmp. */
static int upload_temps(void)
{
	char p[PATH_MAX];
	DIR *d = opendir(ehost(&f, "/tmp", p));
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		n += strstr(de->d_name, ".upload-") != NULL;
	closedir(d);
	return n;
}

/* A client that sends part of an upload as fast as it can and closes:
 * its FIN comes with the last bytes, which libmicrohttpd's epoll loop can
 * miss, leaving the connection and the temporary file until the idle
 * timeout.  sbxd notices within a second and drops both. */
Test(envd, an_upload_cut_by_the_client_leaves_no_temporary_file)
{
	static char chunk[1 << 20];
	char hdr[512];
	int fd[4];

	for (int i = 0; i < 4; i++) {
		int len = snprintf(hdr, sizeof(hdr),
				   "POST /files?path=/tmp/cut%d.bin HTTP/1.1\r\nHost: x\r\n"
				   "X-Access-Token: %s\r\nE2b-Sandbox-Id: %s\r\n"
				   "Content-Type: application/octet-stream\r\n"
				   "Content-Length: %d\r\n\r\n", i, f.token, f.id, 64 << 20);

		fd[i] = tsrv_connect(&f.t);
		cr_assert_eq(send(fd[i], hdr, (size_t)len, MSG_NOSIGNAL), len);
		for (int k = 0; k < 4 + 3 * i; k++)
			cr_assert_eq(send(fd[i], chunk, sizeof(chunk), MSG_NOSIGNAL),
				     (ssize_t)sizeof(chunk));
		close(fd[i]);
	}
	/* The sweep runs every second; a loaded machine gets some more. */
	for (int t = 0; t < 100 && upload_temps() > 0; t++)
		usleep(100 * 1000);
	cr_expect_eq(upload_temps(), 0, "temporary files of cut uploads are still there");
	for (int i = 0; i < 4; i++) {
		struct stat st;
		char p[PATH_MAX], name[32];

		snprintf(name, sizeof(name), "/tmp/cut%d.bin", i);
		cr_expect_neq(stat(ehost(&f, name, p), &st), 0, "%s exists", name);
	}
}
