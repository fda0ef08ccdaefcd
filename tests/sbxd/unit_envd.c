/* envd's pure parts: Connect framing and codes, the multipart parser,
 * path expansion and resolution inside a root (escapes included), and the
 * per-sandbox disk usage that spares the uploads a walk each. */
#include "envd/connect.h"
#include "envd/multipart.h"
#include "envd/path.h"
#include "envd/route.h"
#include "envd/usage.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

Test(connect, codes_map_to_statuses)
{
	cr_expect_eq(cx_code_status("not_found"), 404);
	cr_expect_eq(cx_code_status("already_exists"), 409);
	cr_expect_eq(cx_code_status("unauthenticated"), 401);
	cr_expect_eq(cx_code_status("deadline_exceeded"), 504);
	cr_expect_eq(cx_code_status("bogus"), 500);
	cr_expect_str_eq(cx_errno_code(-ENOENT), "not_found");
	cr_expect_str_eq(cx_errno_code(-ENOTDIR), "invalid_argument");
}

Test(connect, frames_round_trip)
{
	json_t *o = json_pack("{s:{s:{s:i}}}", "event", "start", "pid", 7), *back = NULL;
	size_t len;
	unsigned char *b = cx_frame(0, o, &len);
	char err[128];

	cr_assert_not_null(b);
	cr_expect_eq(b[0], 0);
	cr_expect_eq(len, 5 + strlen("{\"event\":{\"start\":{\"pid\":7}}}"));
	cr_expect_eq(b[4], len - 5);
	cr_assert_eq(cx_request_message(b, len, &back, err, sizeof(err)), 0, "%s", err);
	cr_expect(json_equal(o, back));
	json_decref(back);
	/* Truncated, two messages, compressed, an array: all refused. */
	cr_expect_eq(cx_request_message(b, len - 1, &back, err, sizeof(err)), -EINVAL);
	unsigned char two[256];

	memcpy(two, b, len);
	memcpy(two + len, b, len);
	cr_expect_eq(cx_request_message(two, 2 * len, &back, err, sizeof(err)), -EINVAL);
	two[0] = CX_FLAG_COMPRESSED;
	cr_expect_eq(cx_request_message(two, len, &back, err, sizeof(err)), -EINVAL);
	free(b);
	json_decref(o);
	unsigned char arr[] = { 0, 0, 0, 0, 2, '[', ']' };

	cr_expect_eq(cx_request_message(arr, sizeof(arr), &back, err, sizeof(err)), -EINVAL);
	unsigned char huge[] = { 0, 0x7f, 0xff, 0xff, 0xff };

	cr_expect_eq(cx_request_message(huge, sizeof(huge), &back, err, sizeof(err)), -EMSGSIZE);
	cr_expect_null(back);
}

Test(connect, end_of_stream)
{
	size_t len;
	unsigned char *b = cx_frame_end(NULL, NULL, &len);

	cr_expect_eq(len, 7);
	cr_expect_eq(b[0], CX_FLAG_END);
	cr_expect_eq(memcmp(b + 5, "{}", 2), 0);
	free(b);
	b = cx_frame_end("not_found", "gone", &len);
	cr_expect(strstr((char *)b + 5, "\"code\":\"not_found\"") != NULL);
	free(b);
}

struct parts {
	char log[4096];
	size_t n;
};

static int on_begin(void *ctx, const char *name, const char *fn, int has)
{
	struct parts *p = ctx;

	p->n += (size_t)snprintf(p->log + p->n, sizeof(p->log) - p->n, "[%s|%s|%d:", name, fn, has);
	return 0;
}

static int on_data(void *ctx, const char *d, size_t n)
{
	struct parts *p = ctx;

	p->n += (size_t)snprintf(p->log + p->n, sizeof(p->log) - p->n, "%.*s", (int)n, d);
	return 0;
}

static int on_end(void *ctx)
{
	struct parts *p = ctx;

	p->n += (size_t)snprintf(p->log + p->n, sizeof(p->log) - p->n, "]");
	return 0;
}

/* Feeds `body` split every `step` bytes. */
static int parse(const char *body, size_t step, struct parts *p)
{
	struct mp_callbacks cb = { on_begin, on_data, on_end, p };
	struct mp *m = mp_new("b0", &cb);
	size_t len = strlen(body);
	int rc = 0;

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < len && rc == 0; i += step)
		rc = mp_feed(m, body + i, len - i < step ? len - i : step);
	if (rc == 0)
		rc = mp_finish(m);
	mp_free(m);
	return rc;
}

Test(multipart, any_split_gives_the_same_parts)
{
	const char *body = "preamble\r\n--b0\r\nContent-Disposition: form-data; name=\"file\"; "
			   "filename=\"/a \\\"q\\\".txt\"\r\n\r\n\r\r\n-\r\n--b\r\n--bx"
			   "\r\n--b0\r\ncontent-disposition: form-data; name=f2\r\n\r\n"
			   "\r\n--b0--\r\nepilogue";
	const char *want = "[file|/a \"q\".txt|1:\r\r\n-\r\n--b\r\n--bx][f2||0:]";
	struct parts p;

	for (size_t step = 1; step <= strlen(body); step++) {
		int rc = parse(body, step, &p);

		cr_assert_eq(rc, 0, "step %zu: %d %s", step, rc, p.log);
		cr_assert_str_eq(p.log, want, "step %zu", step);
	}
}

static int count_data(void *ctx, const char *d, size_t n)
{
	(void)d;
	(void)n;
	++*(size_t *)ctx;
	return 0;
}

static int no_part(void *ctx, const char *name, const char *fn, int has)
{
	(void)ctx, (void)name, (void)fn, (void)has;
	return 0;
}

static int no_end(void *ctx)
{
	(void)ctx;
	return 0;
}

/* Data full of CRs (random bytes hold one every 256) is given in runs,
 * not cut at each CR: each piece costs the upload a write(2). */
Test(multipart, data_with_crs_comes_in_runs)
{
	static char body[256 * 1024];
	size_t calls = 0, len;
	struct mp_callbacks cb = { no_part, count_data, no_end, &calls };
	struct mp *m = mp_new("b0", &cb);

	len = (size_t)snprintf(body, sizeof(body),
			       "--b0\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n");
	while (len + 64 < sizeof(body)) {
		memcpy(body + len, "\r\n--b\rx", 8);
		len += 8;
	}
	len += (size_t)snprintf(body + len, sizeof(body) - len, "\r\n--b0--\r\n");
	cr_assert_not_null(m);
	for (size_t i = 0; i < len; i += 64 * 1024)
		cr_assert_eq(mp_feed(m, body + i, len - i < 64 * 1024 ? len - i : 64 * 1024), 0);
	cr_assert_eq(mp_finish(m), 0);
	mp_free(m);
	cr_assert_leq(calls, 8, "%zu pieces for %zu bytes", calls, len);
}

static int keep_data(void *ctx, const char *d, size_t n)
{
	struct parts *p = ctx;

	cr_assert_leq(n, sizeof(p->log) - p->n);
	memcpy(p->log + p->n, d, n);
	p->n += n;
	return 0;
}

/* Data with the delimiter's prefixes everywhere, cut at every place
 * relative to them, comes out byte for byte. */
Test(multipart, prefixes_of_the_delimiter_are_data)
{
	static const char *bits[] = { "\r", "\r\n", "\r\n-", "\r\n--", "\r\n--b", "x", "\n--b" };
	static char body[4096], want[4096];
	size_t len, wlen = 0;
	unsigned seed = 7;

	len = (size_t)snprintf(body, sizeof(body),
			       "--b0\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n");
	while (wlen < 2000) {
		const char *b;

		seed = seed * 1103515245u + 12345u;
		b = bits[(seed >> 16) % 7];
		memcpy(want + wlen, b, strlen(b));
		wlen += strlen(b);
	}
	memcpy(body + len, want, wlen);
	len += wlen;
	len += (size_t)snprintf(body + len, sizeof(body) - len, "\r\n--b0--\r\n");
	for (size_t step = 1; step <= 9; step++) {
		struct parts p = { 0 };
		struct mp_callbacks cb = { no_part, keep_data, no_end, &p };
		struct mp *m = mp_new("b0", &cb);

		cr_assert_not_null(m);
		for (size_t i = 0; i < len; i += step)
			cr_assert_eq(mp_feed(m, body + i, len - i < step ? len - i : step), 0);
		cr_assert_eq(mp_finish(m), 0, "step %zu", step);
		mp_free(m);
		cr_assert_eq(p.n, wlen, "step %zu: %zu bytes, not %zu", step, p.n, wlen);
		cr_assert(memcmp(p.log, want, wlen) == 0, "step %zu", step);
	}
}

Test(multipart, malformed)
{
	struct parts p;
	char b[80];

	cr_expect_eq(parse("--b0\r\nno end", 3, &p), -EBADMSG);
	cr_expect_eq(parse("--b0xx", 3, &p), -EBADMSG);
	cr_expect_eq(mp_boundary("multipart/form-data; boundary=\"q r\"", b, sizeof(b)), 0);
	cr_expect_str_eq(b, "q r");
	cr_expect_eq(mp_boundary("multipart/form-data", b, sizeof(b)), -EINVAL);
	cr_expect_eq(mp_boundary("text/plain; boundary=x", b, sizeof(b)), -EINVAL);
}

Test(path, expand)
{
	char out[PATH_MAX];

	cr_expect_eq(ep_expand("", 0, "/home/user", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/home/user");
	cr_expect_eq(ep_expand("~/a/./b//c/..", 13, "/home/user", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/home/user/a/b");
	cr_expect_eq(ep_expand("../../../../etc", 15, "/home/user", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/etc");
	cr_expect_eq(ep_expand("/..", 3, "/home/user", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/");
	cr_expect_eq(ep_expand("a\0b", 3, "/home/user", out, sizeof(out)), -EINVAL);
	cr_expect_eq(ep_expand("~root/x", 7, "/home/user", out, sizeof(out)), -EINVAL);
}

Test(path, symlinks_never_leave_the_root)
{
	char root[] = "/tmp/sbxd-ep-XXXXXX", outside[] = "/tmp/sbxd-out-XXXXXX", p[PATH_MAX];
	char cmd[256];
	int rfd, fd;

	cr_assert_not_null(mkdtemp(root));
	cr_assert_not_null(mkdtemp(outside));
	snprintf(p, sizeof(p), "%s/secret", outside);
	close(open(p, O_CREAT | O_WRONLY, 0600));
	snprintf(p, sizeof(p), "%s/abs", root);
	cr_assert_eq(symlink(outside, p), 0);
	snprintf(p, sizeof(p), "%s/rel", root);
	cr_assert_eq(symlink("../../../../../../..", p), 0);
	rfd = open(root, O_PATH | O_DIRECTORY);
	/* An absolute link resolves in the root: there is no such file. */
	snprintf(p, sizeof(p), "%s/secret", outside);
	cr_expect_eq(ep_open(rfd, p, O_RDONLY, 0), -ENOENT);
	snprintf(p, sizeof(p), "/abs/secret");
	cr_expect_eq(ep_open(rfd, p, O_RDONLY, 0), -ENOENT);
	snprintf(p, sizeof(p), "/rel/%s/secret", outside);
	cr_expect_eq(ep_open(rfd, p, O_RDONLY, 0), -ENOENT);
	/* Creating through them lands inside the root, or not at all. */
	fd = ep_open(rfd, "/rel/newfile", O_WRONLY | O_CREAT, 0644);
	cr_expect_geq(fd, 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/newfile", root);
	cr_expect_eq(access(p, F_OK), 0);
	/* rm -rf through a link removes the link, never its target. */
	cr_expect_eq(ep_remove(rfd, "/abs"), 0);
	snprintf(p, sizeof(p), "%s/secret", outside);
	cr_expect_eq(access(p, F_OK), 0);
	int created;

	cr_expect_eq(ep_mkdirs(rfd, "/x/y/z", getuid(), getgid(), &created), 0);
	cr_expect_eq(created, 1);
	cr_expect_eq(ep_mkdirs(rfd, "/x/y/z", getuid(), getgid(), &created), 0);
	cr_expect_eq(created, 0);
	cr_expect_eq(ep_mkdirs(rfd, "/newfile/q", getuid(), getgid(), &created), -ENOTDIR);
	cr_expect_eq(ep_remove(rfd, "/x"), 0);
	cr_expect_eq(ep_remove(rfd, "/x"), 0);
	close(rfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", root, outside);
	cr_expect_eq(system(cmd), 0);
}

Test(route, ids_and_users)
{
	char id[65], user[64];

	cr_expect(envd_route("abc", NULL, NULL, id));
	cr_expect_str_eq(id, "abc");
	cr_expect(envd_route(NULL, "nov1", "49983-other.x", id));
	cr_expect_str_eq(id, "nov1");
	cr_expect(envd_route(NULL, NULL, "49983-h0st.sbxd.local:1234", id));
	cr_expect_str_eq(id, "h0st");
	cr_expect(envd_route(NULL, NULL, "49983-../x.y", id));
	cr_expect_str_eq(id, "");
	cr_expect_not(envd_route(NULL, NULL, "127.0.0.1:80", id));
	cr_expect_not(envd_route(NULL, NULL, "8080-abc.x", id));
	cr_expect_eq(envd_user_from("Basic cm9vdDo=", NULL, user, sizeof(user)), 0);
	cr_expect_str_eq(user, "root");
	cr_expect_eq(envd_user_from("Basic cm9vdDo=", "user", user, sizeof(user)), 0);
	cr_expect_str_eq(user, "user");
	cr_expect_eq(envd_user_from(NULL, NULL, user, sizeof(user)), 0);
	cr_expect_str_eq(user, "");
	cr_expect_eq(envd_user_from("Bearer x", NULL, user, sizeof(user)), -1);
	cr_expect_eq(envd_user_from("Basic !!", NULL, user, sizeof(user)), -1);
}

static void write_bytes(const char *dir, const char *name, size_t n)
{
	char p[PATH_MAX];
	char *b = calloc(1, n);
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	cr_assert_not_null(fp = fopen(p, "w"));
	cr_assert_eq(fwrite(b, 1, n, fp), n);
	cr_assert_eq(fclose(fp), 0);
	free(b);
}

Test(usage, a_walk_is_reused_with_what_uploads_add_until_forgotten)
{
	char root[] = "/tmp/sbxd-usage-XXXXXX", cmd[64];
	struct usage *u = usage_new(3600 * 1000);
	int rfd;
	int64_t a;

	cr_assert_not_null(mkdtemp(root));
	write_bytes(root, "f1", 64 << 10);
	cr_assert_geq(rfd = open(root, O_PATH | O_DIRECTORY), 0);
	a = usage_get(u, "s1", rfd);
	cr_expect_geq(a, 64 << 10, "the walk counts f1: %lld", (long long)a);
	/* Written behind its back: not seen until the next walk. */
	write_bytes(root, "f2", 256 << 10);
	cr_expect_eq(usage_get(u, "s1", rfd), a, "a fresh walk is reused");
	usage_add(u, "s1", 1000);
	cr_expect_eq(usage_get(u, "s1", rfd), a + 1000);
	usage_add(u, "s1", -(a + 5000));
	cr_expect_eq(usage_get(u, "s1", rfd), 0, "never below nothing");
	usage_add(u, "nobody", 1000);   /* no walk to add to: ignored */
	usage_forget(u, "s1");
	cr_expect_geq(usage_get(u, "s1", rfd), a + (256 << 10), "forgotten: walked again");
	usage_free(u);
	close(rfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_expect_eq(system(cmd), 0);
}

Test(usage, stale_walks_and_the_least_recently_used_go)
{
	char root[] = "/tmp/sbxd-usage-XXXXXX", cmd[64], id[16];
	struct usage *u = usage_new(0), *lru = usage_new(3600 * 1000);
	int rfd;
	int64_t a;

	cr_assert_not_null(mkdtemp(root));
	cr_assert_geq(rfd = open(root, O_PATH | O_DIRECTORY), 0);
	a = usage_get(u, "s1", rfd);
	write_bytes(root, "f", 128 << 10);
	/* With no time to live, every call walks (when the walk takes no
	 * measurable time, twenty times it is no time either). */
	for (int i = 0; i < 100 && usage_get(u, "s1", rfd) < a + (128 << 10); i++)
		usleep(1000);
	cr_expect_geq(usage_get(u, "s1", rfd), a + (128 << 10));
	/* One more sandbox than there are slots: the first one used goes. */
	cr_expect_eq(usage_get(lru, "first", rfd), a + (128 << 10));
	usage_add(lru, "first", 1);
	for (int i = 0; i < USAGE_SLOTS; i++) {
		snprintf(id, sizeof(id), "s%d", i);
		usage_get(lru, id, rfd);
	}
	cr_expect_eq(usage_get(lru, "first", rfd), a + (128 << 10), "evicted: walked again");
	usage_free(u);
	usage_free(lru);
	close(rfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_expect_eq(system(cmd), 0);
}
