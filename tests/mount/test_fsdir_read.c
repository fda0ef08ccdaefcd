/* Large transfers through MOUNT/<sandbox>/fs/: the read-ahead stream (one
 * request for a sequential read, whatever order the kernel's read-ahead
 * asks in), seeks, random reads, a download cut midway and a reader that
 * pauses; the walk-ahead of a tree walked in listing order; the upload of
 * a file sent while it is written.  Files are put and checked through
 * envd, and requests counted by sbxd's envd. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsfix.h"

#define BIG (24u << 20)

static char *id, *data;

/* Lines of 16 bytes, each the hex of its own offset: a byte read from
 * the wrong place never matches. */
static char *pattern(size_t len)
{
	char *d = malloc(len + 1);

	cr_assert_not_null(d);
	for (size_t off = 0; off < len; off += 16)
		snprintf(d + off, 17, "%015zx\n", off);
	d[len] = '\0';
	return d;
}

static void setup(void)
{
	id = fsfix_start_box();
	data = pattern(BIG);
	cr_assert_eq(eput(id, "/tmp/big.txt", data), 200);
}

static void teardown(void)
{
	free(data);
	data = NULL;
	fsfix_stop_box(&id);
}

static long gets(void)
{
	return stats("envd GET /files");
}

/* Reads [off, off+len) of the open file fd and checks it byte for byte. */
static void check_read(int fd, size_t off, size_t len)
{
	char *buf = malloc(len);
	size_t done = 0;

	cr_assert_not_null(buf);
	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));

		cr_assert_gt(n, 0, "pread at %zu: %zd %s", off + done, n, strerror(errno));
		done += (size_t)n;
	}
	cr_assert_eq(memcmp(buf, data + off, len), 0, "bytes at %zu..%zu differ", off, off + len);
	free(buf);
}

static int open_big(void)
{
	int fd = open(P("/box/fs/tmp/big.txt"), O_RDONLY);

	cr_assert_geq(fd, 0, "%s", strerror(errno));
	return fd;
}

TestSuite(fsread, .init = setup, .fini = teardown, .timeout = 120);

Test(fsread, a_sequential_read_of_a_large_file_is_one_request)
{
	long before = gets();
	size_t len;
	char *b = slurp(P("/box/fs/tmp/big.txt"), &len);

	cr_assert_eq(len, BIG);
	cr_assert_eq(memcmp(b, data, BIG), 0);
	free(b);
	cr_assert_eq(gets() - before, 1, "%ld GET requests", gets() - before);
}

Test(fsread, reads_at_random_offsets_and_a_seek_return_the_right_bytes)
{
	int fd = open_big();
	unsigned seed = 7;

	check_read(fd, 0, 1 << 20);
	check_read(fd, 16u << 20, BIG - (16u << 20));   /* a seek ahead, then to the end */
	check_read(fd, 3u << 20, 5000);                 /* back */
	for (int i = 0; i < 200; i++) {
		size_t off = (size_t)rand_r(&seed) % BIG, len = 1 + (size_t)rand_r(&seed) % 300000;

		check_read(fd, off, off + len > BIG ? BIG - off : len);
	}
	close(fd);
}

Test(fsread, a_download_cut_midway_goes_on_where_it_stopped)
{
	int fd = open_big();
	long before = gets();

	cr_assert_eq(rest("POST", "/sbxd/faults",
			  "{\"path_prefix\":\"/files\",\"cut_after_bytes\":3145728,\"count\":1}",
			  NULL), 200);
	check_read(fd, 0, BIG);
	cr_assert_eq(rest("DELETE", "/sbxd/faults", NULL, NULL), 204);
	close(fd);
	/* The cut one, and one more from where it stopped; the reads the
	 * kernel had in flight around the cut may take a Range request each
	 * (a loaded ASan build saw 8 in all). */
	cr_assert(gets() - before >= 2 && gets() - before <= 12, "%ld GET requests",
		  gets() - before);
}

Test(fsread, a_reader_that_pauses_past_the_stall_bound_reads_on)
{
	int fd = open_big();

	check_read(fd, 0, 2u << 20);
	sleep(11);   /* past FSTREAM_STALL_MS: the stream ends meanwhile */
	check_read(fd, 2u << 20, BIG - (2u << 20));
	close(fd);
}

Test(fsread, concurrent_readers_of_one_file_each_get_every_byte)
{
	pid_t kids[4];

	for (int k = 0; k < 4; k++) {
		kids[k] = fork();
		cr_assert_geq(kids[k], 0);
		if (kids[k] == 0) {
			int fd = open(P("/box/fs/tmp/big.txt"), O_RDONLY);
			char *buf = malloc(BIG);
			size_t done = 0;
			ssize_t n = 1;

			/* Drop the pages another reader brought, so that
			 * each reads through the mount. */
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
			while (fd >= 0 && buf && done < BIG && n > 0)
				if ((n = read(fd, buf + done, 1u << 20)) > 0)
					done += (size_t)n;
			_exit(done == BIG && memcmp(buf, data, BIG) == 0 ? 0 : 1);
		}
	}
	for (int k = 0; k < 4; k++) {
		int st;

		cr_assert_eq(waitpid(kids[k], &st, 0), kids[k]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reader %d failed", k);
	}
}

/* ---- walk-ahead: a tree walked in listing order ---- */

static char *wid;

static void ahead_setup(void)
{
	char p[64], body[64];

	/* A TTL long enough that nothing expires under valgrind. */
	fsfix_start("fs_cache_ttl=30");
	wid = fsfix_sandbox("walk", "py3tpl");
	for (int d = 0; d < 3; d++)
		for (int f = 0; f < 12; f++) {
			snprintf(p, sizeof(p), "/home/user/w/d%d/f%02d", d, f);
			snprintf(body, sizeof(body), "file %d/%02d\nTODO %d-%02d\n", d, f, d, f);
			cr_assert_eq(eput(wid, p, body), 200);
		}
}

static void ahead_teardown(void)
{
	fsfix_stop();
	free(wid);
	wid = NULL;
}

/* A count of .sbxfs/status. */
static long status_count(const char *key)
{
	char *s = slurp(P("/.sbxfs/status"), NULL), *at;
	long v = -1;

	cr_assert_not_null(s);
	if ((at = strstr(s, key)) != NULL)
		v = strtol(at + strlen(key), NULL, 10);
	free(s);
	return v;
}

TestSuite(fsahead, .init = ahead_setup, .fini = ahead_teardown, .timeout = 120);

Test(fsahead, grep_r_reads_each_file_once_with_files_fetched_ahead)
{
	long before = gets();
	char *out;
	size_t len;

	cr_assert_eq(sh("grep -r TODO $MNT/walk/fs/home/user/w | sort > $MNT/../grep.out"), 0);
	out = slurp(P("/../grep.out"), &len);
	for (int d = 0; d < 3; d++)
		for (int f = 0; f < 12; f++) {
			char line[128];

			snprintf(line, sizeof(line), "/walk/fs/home/user/w/d%d/f%02d:TODO %d-%02d\n",
				 d, f, d, f);
			cr_assert_not_null(strstr(out, line), "missing %s in:\n%s", line, out);
		}
	free(out);
	cr_assert_eq(gets() - before, 36, "%ld GETs for 36 files", gets() - before);
	cr_assert_gt(status_count("fs_ahead_used="), 20, "the walk was not fetched ahead");
}

Test(fsahead, a_file_changed_after_it_was_fetched_ahead_reads_new)
{
	char *b;

	/* Two opens in a row: d0/f02..f05 are fetched ahead. */
	cr_assert_eq(sh("cat $MNT/walk/fs/home/user/w/d0/f00 $MNT/walk/fs/home/user/w/d0/f01 "
			">/dev/null"), 0);
	for (int i = 0; i < 100 && status_count("fs_fetched_ahead=") < 4; i++)
		usleep(50 * 1000);   /* slow builds take a while */
	cr_assert_geq(status_count("fs_fetched_ahead="), 4);
	/* Inside the sandbox, then seen after a refresh: the new size. */
	cr_assert_eq(eput(wid, "/home/user/w/d0/f03", "changed inside\n"), 200);
	cr_assert_eq(put(P("/.sbxfs/refresh"), "1"), 0);
	b = slurp(P("/walk/fs/home/user/w/d0/f03"), NULL);
	cr_assert_str_eq(b, "changed inside\n");
	free(b);
	/* Through the mount: the directory's bodies are dropped. */
	cr_assert_eq(sh("cat $MNT/walk/fs/home/user/w/d1/f00 $MNT/walk/fs/home/user/w/d1/f01 "
			">/dev/null && echo mine > $MNT/walk/fs/home/user/w/d1/f02"), 0);
	b = slurp(P("/walk/fs/home/user/w/d1/f02"), NULL);
	cr_assert_str_eq(b, "mine\n");
	free(b);
}

#define LISTDIRS "envd POST /filesystem.Filesystem/ListDir"

/* A change to one file keeps its directory's listing (the name is asked
 * alone when looked up), so `cp -r` and `rm -r` list each directory a few
 * times, not once per file; what they did is checked through envd. */
Test(fsahead, cp_r_and_rm_r_do_not_list_the_directory_per_file)
{
	long lists, posts, status;
	json_t *l = NULL;
	char *b;

	cr_assert_eq(sh("mkdir $MNT/../cpsrc && for i in $(seq 1 40); do "
			"echo file $i > $MNT/../cpsrc/f$i; done"), 0);
	lists = stats(LISTDIRS);
	posts = stats("envd POST /files");
	cr_assert_eq(sh("cp -r $MNT/../cpsrc $MNT/walk/fs/home/user/cpr"), 0);
	cr_expect_eq(stats("envd POST /files") - posts, 40);
	/* /, /home and /home/user on the way (a fresh mount), cpr once. */
	cr_expect_leq(stats(LISTDIRS) - lists, 4, "cp -r of 40 files: %ld ListDir",
		      stats(LISTDIRS) - lists);
	cr_assert_eq(erpc(wid, "ListDir", "{\"path\":\"/home/user/cpr\",\"depth\":1}", &l),
		     200);
	cr_expect_eq(json_array_size(json_object_get(l, "entries")), 40);
	json_decref(l);
	b = eget(wid, "/home/user/cpr/f17", NULL, &status);
	cr_expect_eq(status, 200);
	cr_expect_str_eq(b, "file 17\n");
	free(b);
	/* ls -l sees every file as envd has it: the listing is fetched
	 * again, once, for the names changed since. */
	lists = stats(LISTDIRS);
	cr_assert_eq(sh("test $(ls $MNT/walk/fs/home/user/cpr | wc -l) = 40 && "
			"test \"$(stat -c %%s $MNT/walk/fs/home/user/cpr/f17)\" = 8 && "
			"diff -r $MNT/../cpsrc $MNT/walk/fs/home/user/cpr"), 0);
	cr_expect_leq(stats(LISTDIRS) - lists, 1);
	lists = stats(LISTDIRS);
	cr_assert_eq(sh("rm -r $MNT/walk/fs/home/user/cpr"), 0);
	cr_expect_leq(stats(LISTDIRS) - lists, 3, "rm -r of 40 files: %ld ListDir",
		      stats(LISTDIRS) - lists);
	cr_expect_not(eexists(wid, "/home/user/cpr"));
}

/* Each file copied in and then looked up is one change laid over the
 * directory's listing; past the few hundred a listing carries they are
 * merged into it.  No change is lost on the way, and none makes the mount
 * list the directory again: ls shows what envd has, from the cache. */
Test(fsahead, hundreds_of_changes_to_a_listing_keep_every_name)
{
	json_t *l = NULL, *entries;
	char *got, *want;
	FILE *wf;
	long lists, status;

	cr_assert_eq(sh("mkdir -p $MNT/../many $MNT/walk/fs/home/user/many && "
			"for i in $(seq 1 300); do echo file $i > $MNT/../many/g$i; done && "
			"echo old > $MNT/walk/fs/home/user/many/a0 && "
			"ls $MNT/walk/fs/home/user/many >/dev/null"), 0);
	lists = stats(LISTDIRS);
	/* Each stat after the copy is a lookup of a name changed here: one
	 * Stat, kept in the listing; then a glob reads the directory. */
	cr_assert_eq(sh("cd $MNT/walk/fs/home/user/many && for i in $(seq 1 300); do "
			"cp $MNT/../many/g$i . && stat -c %%s g$i >/dev/null || exit 1; done && "
			"stat -c %%s g* >/dev/null"), 0);
	cr_assert_eq(sh("ls $MNT/walk/fs/home/user/many | sort > $MNT/../many.ls"), 0);
	cr_expect_leq(stats(LISTDIRS) - lists, 2, "300 changes: %ld ListDir",
		      stats(LISTDIRS) - lists);
	cr_assert_eq(erpc(wid, "ListDir", "{\"path\":\"/home/user/many\",\"depth\":1}", &l),
		     200);
	entries = json_object_get(l, "entries");
	cr_assert_eq(json_array_size(entries), 301);
	cr_assert_not_null((wf = fopen(P("/../many.envd"), "w")));
	for (size_t i = 0; i < json_array_size(entries); i++)
		fprintf(wf, "%s\n", json_string_value(json_object_get(json_array_get(entries, i),
									"name")));
	fclose(wf);
	json_decref(l);
	cr_assert_eq(sh("sort -o $MNT/../many.envd $MNT/../many.envd"), 0);
	got = slurp(P("/../many.ls"), NULL);
	want = slurp(P("/../many.envd"), NULL);
	cr_assert(got && want);
	cr_expect_str_eq(got, want, "ls and envd's ListDir differ");
	free(got);
	free(want);
	got = eget(wid, "/home/user/many/g257", NULL, &status);
	cr_expect_eq(status, 200);
	cr_expect_str_eq(got, "file 257\n", "envd has other bytes");
	free(got);
	cr_assert_eq(sh("test \"$(cat $MNT/walk/fs/home/user/many/g257)\" = 'file 257' && "
			"test \"$(stat -c %%s $MNT/walk/fs/home/user/many/g300)\" = 9 && "
			"test \"$(cat $MNT/../many/g* | md5sum)\" = "
			"\"$(cat $MNT/walk/fs/home/user/many/g* | md5sum)\""), 0);
}

Test(fsahead, a_walk_that_stops_costs_at_most_the_files_ahead)
{
	long before = gets();

	cr_assert_eq(sh("cat $MNT/walk/fs/home/user/w/d2/f00 $MNT/walk/fs/home/user/w/d2/f01 "
			">/dev/null"), 0);
	usleep(300 * 1000);
	cr_assert_leq(gets() - before, 2 + 4, "%ld GETs", gets() - before);
	/* A single open is no walk. */
	before = gets();
	cr_assert_eq(sh("cat $MNT/walk/fs/home/user/w/d1/f07 >/dev/null"), 0);
	usleep(300 * 1000);
	cr_assert_eq(gets() - before, 1);
}

/* ---- a file sent while it is written ---- */

static long posts(void)
{
	return stats("envd POST /files");
}

/* Writes len bytes of data to fd at off, in 1 MiB writes. */
static void write_at(int fd, size_t off, size_t len)
{
	for (size_t done = 0; done < len;) {
		size_t k = len - done < (1u << 20) ? len - done : (1u << 20);
		ssize_t n = pwrite(fd, data + off + done, k, (off_t)(off + done));

		cr_assert_gt(n, 0, "%s", strerror(errno));
		done += (size_t)n;
	}
}

/* The sandbox's file p is exactly data's first len bytes. */
static void remote_is(const char *p, size_t len)
{
	size_t got;
	long status;
	char *b = eget(id, p, &got, &status);

	cr_assert_eq(status, 200);
	cr_assert_eq(got, len, "%s: %zu bytes, want %zu", p, got, len);
	cr_assert_eq(memcmp(b, data, len), 0, "%s differs", p);
	free(b);
}

Test(fsread, a_file_written_in_order_is_sent_while_written_in_one_request)
{
	long before = posts();
	int fd = open(P("/box/fs/tmp/up.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert_geq(fd, 0, "%s", strerror(errno));
	write_at(fd, 0, 12u << 20);
	cr_assert_eq(close(fd), 0, "%s", strerror(errno));
	remote_is("/tmp/up.txt", 12u << 20);
	cr_assert_eq(posts() - before, 1, "%ld POSTs", posts() - before);
}

/* Waits (5 s at most) for a temporary upload file in the sandbox's dir:
 * a streamed upload is under way. */
static void upload_temp_seen(const char *dir)
{
	char req[PATH_MAX + 32];
	bool seen = false;

	snprintf(req, sizeof(req), "{\"path\":\"%s\",\"depth\":1}", dir);
	for (int i = 0; i < 50 && !seen; i++) {
		json_t *l = NULL;
		char *text;

		cr_assert_eq(erpc(id, "ListDir", req, &l), 200);
		text = json_dumps(l, JSON_COMPACT);
		json_decref(l);
		seen = text && strstr(text, "upload-");
		free(text);
		if (!seen)
			usleep(100 * 1000);
	}
	cr_assert(seen, "no upload under way in %s", dir);
}

Test(fsread, a_write_out_of_order_sends_the_file_whole_at_close)
{
	int fd;
	size_t len;
	long status;
	char *b;

	cr_assert_eq(eput(id, "/tmp/up2.txt", "old\n"), 200);
	fd = open(P("/box/fs/tmp/up2.txt"), O_WRONLY | O_TRUNC);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	write_at(fd, 0, 6u << 20);         /* the upload is under way */
	upload_temp_seen("/tmp");
	write_at(fd, 4096, 8192);          /* back: it cannot go on */
	/* The upload is withdrawn: the server drops what it had, and the
	 * sandbox keeps the old file until close. */
	eno_upload_temp(id, "/tmp");
	b = eget(id, "/tmp/up2.txt", &len, &status);
	cr_assert_eq(status, 200);
	cr_assert_str_eq(b, "old\n");
	free(b);
	write_at(fd, 6u << 20, 2u << 20);
	cr_assert_eq(close(fd), 0, "%s", strerror(errno));
	remote_is("/tmp/up2.txt", 8u << 20);
	eno_upload_temp(id, "/tmp");
}

Test(fsread, a_writer_that_pauses_past_the_stall_bound_still_sends_it_all)
{
	int fd = open(P("/box/fs/tmp/up3.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert_geq(fd, 0, "%s", strerror(errno));
	write_at(fd, 0, 5u << 20);
	sleep(11);   /* past FUPLOAD_STALL_MS: the streamed upload ends */
	write_at(fd, 5u << 20, 3u << 20);
	cr_assert_eq(close(fd), 0, "%s", strerror(errno));
	remote_is("/tmp/up3.txt", 8u << 20);
}

Test(fsread, a_connection_cut_while_sending_fails_close_and_keeps_the_old_file)
{
	int fd;

	cr_assert_eq(eput(id, "/tmp/up4.txt", "old\n"), 200);
	cr_assert_eq(rest("POST", "/sbxd/faults",
			  "{\"path_prefix\":\"/files\",\"cut_after_bytes\":5242880}", NULL), 200);
	fd = open(P("/box/fs/tmp/up4.txt"), O_WRONLY | O_TRUNC);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	write_at(fd, 0, 8u << 20);
	errno = 0;
	cr_assert_eq(close(fd), -1);
	cr_assert_eq(errno, EIO, "%s", strerror(errno));
	cr_assert_eq(rest("DELETE", "/sbxd/faults", NULL, NULL), 204);
	size_t len;
	long status;
	char *b = eget(id, "/tmp/up4.txt", &len, &status);

	cr_assert_eq(status, 200);
	cr_assert_str_eq(b, "old\n");
	free(b);
}
