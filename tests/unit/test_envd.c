/* The envd client and store/files against sbxd's envd in-process on a
 * loopback port, each sandbox served from a temporary directory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/dircache.h"
#include "envd/client.h"
#include "common/scrub.h"
#include "envdfix.h"
#include "store/files.h"

static void setup(void)
{
	envdfix_up(false);
}

TestSuite(envdc, .init = setup, .fini = envdfix_down, .timeout = 60);

/* A file of the sandbox with text, for an upload. */
static int spool_of(const char *text)
{
	char t[] = "/tmp/sbxfs-envdc-spool-XXXXXX";
	int fd = mkstemp(t);

	cr_assert_geq(fd, 0);
	unlink(t);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

struct mem {
	char buf[256];
	size_t len;
};

static int to_mem(const char *d, size_t n, void *ctx)
{
	struct mem *m = ctx;

	if (n > sizeof(m->buf) - 1 - m->len)
		return -EIO;
	memcpy(m->buf + m->len, d, n);
	m->len += n;
	m->buf[m->len] = '\0';
	return 0;
}

Test(envdc, upload_stat_list_ranged_read_move_and_remove)
{
	struct envdc_error e;
	struct fentry f, *v;
	struct mem m = { .len = 0 };
	struct http_sink sink = { to_mem, &m };
	uint64_t got;
	size_t n;
	int fd = spool_of("hello world");

	cr_assert_eq(envdc_upload(ec, &tg, "/home/user/a.txt", fd, 11, &e), 0, "%s", e.message);
	close(fd);
	cr_assert_eq(envdc_stat(ec, &tg, "/home/user/a.txt", &f, &e), 0);
	cr_assert_eq(f.size, 11);
	cr_assert_eq(f.type, FENTRY_FILE);
	fentry_clear(&f);
	cr_assert_eq(envdc_mkdir(ec, &tg, "/home/user/d", &e), 0);
	cr_assert_eq(envdc_list(ec, &tg, "/home/user", &v, &n, &e), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0].name, "a.txt");
	cr_assert_eq(v[1].type, FENTRY_DIR);
	fentry_list_free(v, n);
	cr_assert_eq(envdc_read(ec, &tg, "/home/user/a.txt", 6, 5, &sink, &got, NULL, &e), 0);
	cr_assert_str_eq(m.buf, "world");
	cr_assert_eq(got, 5);
	cr_assert_eq(envdc_move(ec, &tg, "/home/user/a.txt", "/home/user/d/b.txt", &e), 0);
	cr_assert_eq(envdc_stat(ec, &tg, "/home/user/a.txt", &f, &e), -ENOENT);
	cr_assert_eq(envdc_remove(ec, &tg, "/home/user/d", &e), 0);
	cr_assert_eq(envdc_stat(ec, &tg, "/home/user/d/b.txt", &f, &e), -ENOENT);
}

Test(envdc, errors_map_to_the_errno_a_filesystem_gives)
{
	struct envdc_error e;
	struct envdc_target bad = tg, gone = { "nosuchsandbox", "x", NULL };
	struct mem m = { .len = 0 };
	struct http_sink sink = { to_mem, &m };
	struct fentry f, *v;
	uint64_t got;
	size_t n;
	int fd = spool_of("x");

	cr_assert_eq(envdc_upload(ec, &tg, "/home/user/f", fd, 1, &e), 0);
	close(fd);
	cr_assert_eq(envdc_list(ec, &tg, "/home/user/f", &v, &n, &e), -ENOTDIR);
	cr_assert_eq(envdc_read(ec, &tg, "/home/user", 0, 0, &sink, &got, NULL, &e), -EISDIR);
	cr_assert_eq(envdc_read(ec, &tg, "/home/user/none", 0, 0, &sink, &got, NULL, &e), -ENOENT);
	cr_assert_eq(envdc_mkdir(ec, &tg, "/home/user", &e), -EEXIST);
	bad.token = "wrong-token";
	cr_assert_eq(envdc_stat(ec, &bad, "/home/user", &f, &e), -EACCES);
	cr_assert_eq(e.http_status, 401);
	cr_assert_eq(envdc_stat(ec, &gone, "/home/user", &f, &e), -EHOSTDOWN);
}

Test(envdc, without_a_url_or_domain_nothing_is_sent)
{
	struct envdc_config c = { .deadline_ms = 1000 };
	struct envdc_error e;
	struct fentry f;
	char *err = NULL;
	struct envdc *nodom = envdc_new(&c, &err);

	cr_assert_not_null(nodom);
	cr_assert_eq(envdc_stat(nodom, &tg, "/", &f, &e), -EHOSTUNREACH);
	envdc_free(nodom);
}

Test(envdc, the_store_fetches_the_token_once_and_scrubs_it)
{
	struct dircache *dc = dircache_new(60000, 16);
	struct files fl = { .envd = ec, .api = api, .dirs = dc, .max_file = 1 << 20 };
	struct fentry f;
	char out[256];
	int fd = spool_of("abc");

	files_init(&fl);
	cr_assert_eq(files_upload(&fl, box->id, "/home/user/s", fd, 3), 0);
	cr_assert_eq(files_upload(&fl, box->id, "/home/user/big", fd, 2 << 20), -EFBIG);
	close(fd);
	cr_assert_eq(files_lookup(&fl, box->id, "/home/user/s", &f), 0);
	cr_assert_eq(f.size, 3);
	fentry_clear(&f);
	cr_assert_eq(files_lookup(&fl, box->id, "/home/user/big", &f), -ENOENT);
	scrub_text(out, sizeof(out), tg.token, strlen(tg.token));
	cr_assert_str_eq(out, "***");
	cr_assert_eq(files_mkdir(&fl, box->id, "/home/user/e"), 0);
	cr_assert_eq(files_upload(&fl, box->id, "/home/user/e/x", spool_of(""), 0), 0);
	cr_assert_eq(files_rmdir(&fl, box->id, "/home/user/e"), -ENOTEMPTY);
	cr_assert_eq(files_unlink(&fl, box->id, "/home/user/e"), -EISDIR);
	cr_assert_eq(files_rename(&fl, box->id, "/home/user/s", "/home/user/e/x", 1), -EEXIST);
	cr_assert_eq(files_rename(&fl, box->id, "/home/user/s", "/home/user/e", 0), -EISDIR);
	cr_assert_eq(files_rename(&fl, box->id, "/home/user/e", "/home/user/e/y", 0), -EINVAL);
	files_fini(&fl);
	dircache_free(dc);
}

Test(envdc, the_page_cache_records_are_found_by_path_and_bounded)
{
	struct files fl = { .envd = ec, .api = api, .max_file = 1 << 20 };
	char p[64];

	files_init(&fl);
	cr_assert_not(files_pages_same(&fl, "a", "/f", 10, 5));   /* first open */
	cr_assert(files_pages_same(&fl, "a", "/f", 10, 5));
	cr_assert_not(files_pages_same(&fl, "b", "/f", 10, 5));   /* another sandbox */
	cr_assert_not(files_pages_same(&fl, "a", "/f", 11, 5));   /* changed */
	cr_assert(files_pages_same(&fl, "a", "/f", 11, 5));
	files_pages_forget(&fl, "a", "/f");
	cr_assert_not(files_pages_same(&fl, "a", "/f", 11, 5));
	/* The least recently opened go past FILES_SEEN_MAX: /f, opened
	 * again in between, stays; /g does not. */
	cr_assert_not(files_pages_same(&fl, "a", "/g", 1, 1));
	for (int i = 0; i < FILES_SEEN_MAX; i++) {
		snprintf(p, sizeof(p), "/d/%d", i);
		files_pages_same(&fl, "a", p, 1, 1);
		if (i == FILES_SEEN_MAX / 2)
			cr_assert(files_pages_same(&fl, "a", "/f", 11, 5));
	}
	cr_assert_eq(fl.n_seen, FILES_SEEN_MAX);
	cr_assert(files_pages_same(&fl, "a", "/f", 11, 5));
	cr_assert_not(files_pages_same(&fl, "a", "/g", 1, 1));
	files_fini(&fl);
}
