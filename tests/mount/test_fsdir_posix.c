/* A syscall suite of our own against MOUNT/<sandbox>/fs/: what POSIX
 * promises, with the deviations envd forces (sbxfs(1), A SANDBOX'S FILES)
 * asserted as such.  Effects are checked through envd. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsfix.h"

static char *id;

static void setup(void)
{
	id = fsfix_start_box();
}

static void teardown(void)
{
	fsfix_stop_box(&id);
}

static char *remote(const char *p)
{
	long status;
	char *b = eget(id, p, NULL, &status);

	cr_assert_eq(status, 200, "GET %s: %ld", p, status);
	return b;
}

#define F(name) P("/box/fs/tmp/%s", name)

TestSuite(posix, .init = setup, .fini = teardown, .timeout = 120);

Test(posix, o_creat_o_excl_refuses_an_existing_file)
{
	int fd = open(F("x"), O_CREAT | O_EXCL | O_WRONLY, 0644);

	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_assert_eq(close(fd), 0);
	cr_assert_eq(open(F("x"), O_CREAT | O_EXCL | O_WRONLY, 0644), -1);
	cr_assert_eq(errno, EEXIST);
	cr_assert(eexists(id, "/tmp/x"));
}

Test(posix, o_append_writes_at_the_end_whatever_the_offset)
{
	int fd;

	cr_assert_eq(sh("printf abc > $MNT/box/fs/tmp/a"), 0);
	fd = open(F("a"), O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	cr_assert_eq(write(fd, "de", 2), 2);
	cr_assert_eq(close(fd), 0);
	char *b = remote("/tmp/a");

	cr_assert_str_eq(b, "abcde");
	free(b);
}

Test(posix, o_trunc_and_ftruncate_and_truncate)
{
	int fd;
	char *b;

	cr_assert_eq(sh("printf 0123456789 > $MNT/box/fs/tmp/t"), 0);
	cr_assert_eq(truncate(F("t"), 4), 0);
	b = remote("/tmp/t");
	cr_assert_str_eq(b, "0123");
	free(b);
	fd = open(F("t"), O_RDWR);
	cr_assert_eq(ftruncate(fd, 2), 0);
	cr_assert_eq(close(fd), 0);
	b = remote("/tmp/t");
	cr_assert_str_eq(b, "01");
	free(b);
	fd = open(F("t"), O_WRONLY | O_TRUNC);
	cr_assert_eq(close(fd), 0);
	b = remote("/tmp/t");
	cr_assert_str_eq(b, "");
	free(b);
}

Test(posix, pwrite_and_pread_at_offsets_and_a_hole)
{
	int fd = open(F("o"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	char buf[16] = { 0 };
	struct stat st;

	cr_assert_eq(pwrite(fd, "xyz", 3, 10), 3);
	cr_assert_eq(pwrite(fd, "ab", 2, 0), 2);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 13);
	cr_assert_eq(pread(fd, buf, 3, 10), 3);
	cr_assert_str_eq(buf, "xyz");
	cr_assert_eq(close(fd), 0);
	size_t len;
	long status;
	char *b = eget(id, "/tmp/o", &len, &status);

	cr_assert_eq(len, 13);
	cr_assert_eq(memcmp(b, "ab\0\0\0\0\0\0\0\0xyz", 13), 0);
	free(b);
	fd = open(F("o"), O_RDONLY);
	cr_assert_eq(lseek(fd, 10, SEEK_SET), 10);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read(fd, buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "xyz");
	cr_assert_eq(read(fd, buf, sizeof(buf)), 0);
	cr_assert_eq(close(fd), 0);
}

Test(posix, readdir_with_telldir_and_seekdir)
{
	DIR *d;
	struct dirent *e;
	long pos = -1;
	char first[256] = "", again[256] = "";
	int n = 0;

	cr_assert_eq(sh("mkdir $MNT/box/fs/tmp/d && for i in 1 2 3 4 5; do : > "
			"$MNT/box/fs/tmp/d/f$i; done"), 0);
	d = opendir(F("d"));
	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		if (++n == 4) {
			pos = telldir(d);
		} else if (n == 5) {
			snprintf(first, sizeof(first), "%s", e->d_name);
		}
	}
	cr_assert_eq(n, 7);   /* . .. f1..f5 */
	seekdir(d, pos);
	e = readdir(d);
	cr_assert_not_null(e);
	snprintf(again, sizeof(again), "%s", e->d_name);
	cr_assert_str_eq(again, first);
	rewinddir(d);
	for (n = 0; readdir(d); n++)
		;
	cr_assert_eq(n, 7);
	closedir(d);
}

Test(posix, rename_rules)
{
	cr_assert_eq(sh("mkdir -p $MNT/box/fs/tmp/r/full && : > $MNT/box/fs/tmp/r/full/x && "
			"mkdir $MNT/box/fs/tmp/r/empty && : > $MNT/box/fs/tmp/r/f"), 0);
	cr_assert_eq(rename(F("r/f"), F("r/empty")), -1);
	cr_assert_eq(errno, EISDIR);
	cr_assert_eq(rename(F("r/empty"), F("r/f")), -1);
	cr_assert_eq(errno, ENOTDIR);
	cr_assert_eq(rename(F("r/empty"), F("r/full")), -1);
	cr_assert_eq(errno, ENOTEMPTY);
	cr_assert_eq(rename(F("r/full"), F("r/full/x/y")), -1);
	cr_assert_eq(rename(F("r/nope"), F("r/n2")), -1);
	cr_assert_eq(errno, ENOENT);
	/* A directory replaces an empty one. */
	cr_assert_eq(rename(F("r/full"), F("r/empty")), 0, "%s", strerror(errno));
	cr_assert(eexists(id, "/tmp/r/empty/x"));
	cr_assert_not(eexists(id, "/tmp/r/full"));
	cr_assert_eq(rename(F("r/empty"), F("r/moved")), 0);
	cr_assert(eexists(id, "/tmp/r/moved/x"));
	cr_assert_not(eexists(id, "/tmp/r/empty"));
	cr_assert_eq(rename(F("r/f"), P("/box/info")), -1);
	cr_assert_eq(errno, EXDEV);
}

Test(posix, unlink_of_an_open_file)
{
	int fd;
	char buf[8] = { 0 };

	cr_assert_eq(sh("printf keep > $MNT/box/fs/tmp/u"), 0);
	fd = open(F("u"), O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(unlink(F("u")), 0);
	cr_assert_not(eexists(id, "/tmp/u"));
	/* The kernel renames it aside (hard_remove is off) or keeps the
	 * handle: either way what was read is gone from the sandbox. */
	(void)read(fd, buf, sizeof(buf));
	cr_assert_eq(close(fd), 0);
	cr_assert_not(eexists(id, "/tmp/u"));
}

Test(posix, mkdir_and_rmdir_errors)
{
	cr_assert_eq(mkdir(F("m"), 0755), 0);
	cr_assert_eq(mkdir(F("m"), 0755), -1);
	cr_assert_eq(errno, EEXIST);
	cr_assert_eq(mkdir(F("no/such/m"), 0755), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(sh(": > $MNT/box/fs/tmp/m/f"), 0);
	cr_assert_eq(rmdir(F("m")), -1);
	cr_assert_eq(errno, ENOTEMPTY);
	cr_assert_eq(rmdir(F("m/f")), -1);
	cr_assert_eq(errno, ENOTDIR);
	cr_assert_eq(unlink(F("m")), -1);
	cr_assert_eq(errno, EISDIR);
	cr_assert_eq(unlink(F("m/f")), 0);
	cr_assert_eq(rmdir(F("m")), 0);
	cr_assert_not(eexists(id, "/tmp/m"));
	cr_assert_eq(rmdir(F("m")), -1);
	cr_assert_eq(errno, ENOENT);
}

Test(posix, open_of_a_directory_for_writing_is_eisdir)
{
	cr_assert_eq(open(P("/box/fs/tmp"), O_WRONLY), -1);
	cr_assert_eq(errno, EISDIR);
	cr_assert_eq(open(F("none"), O_RDONLY), -1);
	cr_assert_eq(errno, ENOENT);
}
