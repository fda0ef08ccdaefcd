/* Reads of large MOUNT/<sandbox>/fs/ files: the read-ahead stream (one
 * request for a sequential read, whatever order the kernel's read-ahead
 * asks in), seeks, random reads, a download cut midway and a reader that
 * pauses.  The file is put through envd, and its GET requests counted by
 * sbxd's envd. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
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
	/* The cut one, and one more from where it stopped. */
	cr_assert_eq(gets() - before, 2, "%ld GET requests", gets() - before);
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
