/* Key files (common/keyfile.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/keyfile.h"

static char dir[] = "/tmp/common-keyfile-XXXXXX";
static char path[256];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
}

static void teardown(void)
{
	char link[300];

	snprintf(link, sizeof(link), "%s/link", dir);
	unlink(link);
	unlink(path);
	rmdir(dir);
}

static void put(const char *text, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "we");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(text, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, mode), 0);
}

TestSuite(keyfile, .init = setup, .fini = teardown);

Test(keyfile, first_line_trimmed)
{
	char *key = NULL;

	put(" \tsk_abc 123\t \r\nsecond line\n", 29, 0600);
	cr_assert_eq(keyfile_read(path, &key), 0);
	cr_expect_str_eq(key, "sk_abc 123");
	free(key);
	put("no-newline", 10, 0600);
	cr_assert_eq(keyfile_read(path, &key), 0);
	cr_expect_str_eq(key, "no-newline");
	free(key);
}

Test(keyfile, empty_first_line_is_einval)
{
	char *key = (char *)"x";

	put(" \t\nsk_on_line_two\n", 18, 0600);
	cr_expect_eq(keyfile_read(path, &key), -EINVAL);
	cr_expect_null(key);
	put("", 0, 0600);
	cr_expect_eq(keyfile_read(path, &key), -EINVAL);
	cr_expect_null(key);
}

Test(keyfile, missing_file_is_enoent)
{
	char *key = (char *)"x";

	cr_expect_eq(keyfile_read(path, &key), -ENOENT);
	cr_expect_null(key);
	cr_expect_eq(keyfile_read(dir, &key), -EISDIR);
}

Test(keyfile, long_line_is_cut)
{
	size_t n = KEYFILE_LINE_MAX + 100;
	char *text = malloc(n), *key = NULL;

	memset(text, 'k', n);
	put(text, n, 0600);
	free(text);
	cr_assert_eq(keyfile_read(path, &key), 0);
	cr_expect_eq(strlen(key), KEYFILE_LINE_MAX - 1);
	free(key);
}

Test(keyfile, private_means_ours_regular_and_closed)
{
	char link[300];

	cr_expect_not(keyfile_is_private(path), "missing");
	put("k\n", 2, 0600);
	cr_expect(keyfile_is_private(path));
	put("k\n", 2, 0400);
	cr_expect(keyfile_is_private(path));
	put("k\n", 2, 0640);
	cr_expect_not(keyfile_is_private(path), "group-readable");
	put("k\n", 2, 0602);
	cr_expect_not(keyfile_is_private(path), "world-writable");
	put("k\n", 2, 0600);
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(symlink(path, link), 0);
	cr_expect_not(keyfile_is_private(link), "a symlink is not trusted");
	cr_expect_not(keyfile_is_private(dir), "a directory");
	if (getuid() == 0) {
		cr_assert_eq(chown(path, 1, 1), 0);
		cr_expect_not(keyfile_is_private(path), "someone else's file");
	}
}
