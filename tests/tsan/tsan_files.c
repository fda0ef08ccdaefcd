/* ThreadSanitizer driver for MOUNT/<sandbox>/fs/'s store: eight threads
 * look up, list, upload, rename, remove and hold files open for writing
 * (the own-change overlay) in one sandbox of an in-process sbxd (dir
 * runtime), while another drops every listing, as a refresh does.  Then
 * read-ahead streams: two readers share each, one stream is stopped
 * under its readers, and one is still running at files_fini.  Then two
 * walkers read a directory in listing order with the walk-ahead on, while
 * another thread drops what it fetched.  Last, uploads sent while written:
 * one finished, one aborted midway.  Exits non-zero on a wrong result;
 * TSan reports races. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "cache/dircache.h"
#include "envd/client.h"
#include "sbxd.h"
#include "store/files.h"
#include "store/fstream.h"
#include "store/fupload.h"
#include "store/prefetch.h"
#include "tsanfix.h"

#define KEY "tsan-files-key-0123456789"
#define THREADS 8
#define ROUNDS 40

static struct files fl;
static char id[64];
static int failed;
static int stop_dropping;
static struct fstream *atexit_stream;   /* running until files_fini */

/* err: 0, or the -errno of what failed. */
static void check(int err, const char *what)
{
	if (err) {
		fprintf(stderr, "tsan_files: %s: %s\n", what, strerror(-err));
		__atomic_store_n(&failed, 1, __ATOMIC_SEQ_CST);
	}
}

static void *worker(void *arg)
{
	long t = (long)arg;
	char dir[64], a[96], b[96];
	int fd = fileno(tmpfile());

	snprintf(dir, sizeof(dir), "/tmp/t%ld", t);
	check(files_mkdir(&fl, id, dir), "mkdir");
	(void)!write(fd, "data", 4);
	for (int i = 0; i < ROUNDS; i++) {
		struct fentry e;
		struct dirlist *l = NULL;

		snprintf(a, sizeof(a), "%s/a%d", dir, i);
		snprintf(b, sizeof(b), "%s/b%d", dir, i);
		check(files_own_add(&fl, id, a, 0644), "own_add");
		files_own_set(&fl, id, a, 4);
		check(files_upload(&fl, id, a, fd, 4), "upload");
		files_own_del(&fl, id, a);
		check(files_lookup(&fl, id, a, &e), "lookup");
		check(e.size == 4 ? 0 : -EIO, "size");
		fentry_clear(&e);
		check(files_rename(&fl, id, a, b, 0), "rename");
		check(files_list(&fl, id, dir, &l), "list");
		dirlist_put(l);
		check(files_lookup(&fl, id, "/tmp", &e), "lookup /tmp");
		fentry_clear(&e);
		if (i % 2)
			check(files_unlink(&fl, id, b), "unlink");
	}
	close(fd);
	return NULL;
}

static void *dropper(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop_dropping, __ATOMIC_SEQ_CST)) {
		dircache_drop_all(fl.dirs, NULL);
		usleep(2000);
	}
	return NULL;
}

/* ---- read-ahead streams ---- */

#define SBIG (12u << 20)
#define CHUNK (128u * 1024)

static char *sdata;

struct sreader {
	struct fstream *s;
	unsigned first;      /* reads chunks first, first + 2, ... */
	int stop_at;         /* > 0: fstream_stop()s s after this many chunks */
};

/* One chunk of the big file, from the stream or (when it is not the
 * stream's to serve) by a Range request, checked. */
static int read_chunk(struct fstream *s, size_t off, char *buf)
{
	size_t len = SBIG - off < CHUNK ? SBIG - off : CHUNK, done = 0;

	while (done < len) {
		ssize_t n = fstream_read(s, buf + done, len - done, off + done);

		if (n == -EAGAIN || n == -ERANGE) {
			struct http_membuf m = { buf + done, 0, len - done };
			struct http_sink sink = { http_membuf_write, &m };
			uint64_t got = 0;

			check(files_read(&fl, id, "/tmp/s.bin", off + done, len - done, &sink, &got,
					 NULL), "range read");
			n = (ssize_t)m.len;
		}
		if (n <= 0) {
			check(n < 0 ? (int)n : -EIO, "stream read");
			return -1;
		}
		done += (size_t)n;
	}
	check(memcmp(buf, sdata + off, len) ? -EIO : 0, "stream bytes");
	return 0;
}

static void *sreader(void *arg)
{
	struct sreader *r = arg;
	char *buf = malloc(CHUNK);
	int n = 0;

	for (size_t c = r->first; buf && c * CHUNK < SBIG; c += 2, n++) {
		if (r->stop_at && n == r->stop_at)
			fstream_stop(fstream_hold(r->s));   /* ends it under the other reader */
		if (read_chunk(r->s, c * CHUNK, buf) < 0)
			break;
	}
	free(buf);
	return NULL;
}

static void streams(void)
{
	FILE *tf = tmpfile();
	int fd = fileno(tf);
	char buf[CHUNK];

	sdata = malloc(SBIG);
	for (size_t i = 0; i < SBIG; i++)
		sdata[i] = (char)(i * 2654435761u >> 13);
	(void)!write(fd, sdata, SBIG);
	check(files_upload(&fl, id, "/tmp/s.bin", fd, SBIG), "upload big");
	fclose(tf);
	for (int round = 0; round < 3; round++) {
		struct fstream *s = fstream_start(&fl, id, "/tmp/s.bin", 0, SBIG);
		struct sreader r[2] = { { s, 0, 0 }, { s, 1, round == 2 ? 20 : 0 } };
		pthread_t t[2];

		if (!s) {
			check(-ENOMEM, "fstream_start");
			continue;
		}
		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, sreader, &r[i]);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		fstream_stop(s);
	}
	/* Left running for files_fini to end. */
	{
		struct fstream *s = fstream_start(&fl, id, "/tmp/s.bin", 0, SBIG);

		if (s && read_chunk(s, 0, buf) == 0)
			atexit_stream = s;
	}
}

/* ---- walk-ahead ---- */

#define WFILES 24
static int stop_walk_drops;

static void *walker(void *arg)
{
	(void)arg;
	for (int round = 0; round < 4; round++)
		for (int i = 0; i < WFILES; i++) {
			char path[64], want[32], *buf = NULL;
			struct fentry e;
			size_t len = 0;

			snprintf(path, sizeof(path), "/tmp/w/f%02d", i);
			snprintf(want, sizeof(want), "body %02d\n", i);
			check(files_lookup(&fl, id, path, &e), "walk lookup");
			prefetch_opened(fl.pf, id, path);
			if (prefetch_take(fl.pf, id, path, e.size, e.mtime_ms, &buf, &len) < 0) {
				struct http_membuf m = { malloc(64), 0, 64 };
				struct http_sink sink = { http_membuf_write, &m };
				uint64_t got = 0;

				check(files_read(&fl, id, path, 0, e.size, &sink, &got, NULL),
				      "walk read");
				buf = m.p;
				len = m.len;
			}
			check(len == strlen(want) && memcmp(buf, want, len) == 0 ? 0 : -EIO,
			      "walk bytes");
			free(buf);
			fentry_clear(&e);
		}
	return NULL;
}

static void *walk_dropper(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop_walk_drops, __ATOMIC_SEQ_CST)) {
		prefetch_drop(fl.pf, id, "/tmp/w");
		usleep(3000);
		dircache_drop_all(fl.dirs, id);
		usleep(3000);
	}
	return NULL;
}

static void walks(void)
{
	pthread_t t[3];

	fl.pf = prefetch_new(&fl, 2000);
	for (int i = 0; i < WFILES; i++) {
		char path[64], body[32];
		FILE *tf = tmpfile();

		snprintf(path, sizeof(path), "/tmp/w/f%02d", i);
		snprintf(body, sizeof(body), "body %02d\n", i);
		(void)!write(fileno(tf), body, strlen(body));
		check(files_upload(&fl, id, path, fileno(tf), strlen(body)), "walk upload");
		fclose(tf);
	}
	pthread_create(&t[2], NULL, walk_dropper, NULL);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, walker, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	__atomic_store_n(&stop_walk_drops, 1, __ATOMIC_SEQ_CST);
	pthread_join(t[2], NULL);
	{
		unsigned long long fetched, used;

		prefetch_counts(fl.pf, &fetched, &used);
		check(fetched > 0 ? 0 : -ENODATA, "nothing was fetched ahead");
	}
	/* files_fini frees the walk-ahead, its threads and what they hold. */
}

/* ---- uploads sent while written ---- */

static void uploads(void)
{
	for (int round = 0; round < 2; round++) {
		FILE *tf = tmpfile();
		int fd = fileno(tf);
		struct fupload *u = fupload_start(&fl, id, "/tmp/up.bin", fd);
		size_t step = 256 * 1024;

		if (u == NULL) {
			check(-ENOMEM, "fupload_start");
			fclose(tf);
			continue;
		}
		for (size_t off = 0; off < SBIG / 2; off += step) {
			(void)!pwrite(fd, sdata + off, step, (off_t)off);
			fupload_wrote(u, off + step);
			if (round == 1 && off == SBIG / 4) {
				fupload_abort(u);
				u = NULL;
				break;
			}
		}
		if (u)
			check(fupload_finish(u, SBIG / 2), "fupload_finish");
		fclose(tf);
	}
	{
		char *buf = malloc(SBIG / 2);
		struct http_membuf m = { buf, 0, SBIG / 2 };
		struct http_sink sink = { http_membuf_write, &m };
		uint64_t got = 0;

		check(files_read(&fl, id, "/tmp/up.bin", 0, SBIG / 2, &sink, &got, NULL), "read up");
		check(m.len == SBIG / 2 && memcmp(buf, sdata, SBIG / 2) == 0 ? 0 : -EIO, "up bytes");
		free(buf);
	}
}

int main(void)
{
	struct tsanfix fx;
	struct envdc_config ec = { .sandbox_url = fx.base };
	pthread_t t[THREADS], d;
	struct api_error ae;
	char *err = NULL;
	struct sbx *s;

	if (tsanfix_start(&fx, KEY, "dir") < 0)
		return 1;
	fl.api = fx.api;
	fl.envd = envdc_new(&ec, &err);
	fl.dirs = dircache_new(1000, 4);   /* small: eviction under load too */
	fl.max_file = 64 << 20;
	files_init(&fl);
	if (!fl.api || !fl.envd || !fl.dirs || api_create(fl.api, "base", 300, NULL, &s, &ae)) {
		fprintf(stderr, "tsan_files: setup failed\n");
		return 1;
	}
	snprintf(id, sizeof(id), "%s", s->id);
	sbx_unref(s);
	pthread_create(&d, NULL, dropper, NULL);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	__atomic_store_n(&stop_dropping, 1, __ATOMIC_SEQ_CST);
	pthread_join(d, NULL);
	streams();
	walks();
	uploads();
	files_fini(&fl);
	fstream_put(atexit_stream);
	free(sdata);
	dircache_free(fl.dirs);
	envdc_free(fl.envd);
	tsanfix_stop(&fx);
	return failed;
}
