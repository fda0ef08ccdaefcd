#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "common/scrub.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);

	cr_assert_not_null(f);
	fread(buf, 1, 65535, f);
	fclose(f);
	return buf;
}

Test(log, levels)
{
	enum log_level l;

	cr_expect_eq(log_parse_level("error", &l), 0);
	cr_expect_eq(l, LOG_LVL_ERROR);
	cr_expect_eq(log_parse_level("warn", &l), 0);
	cr_expect_eq(l, LOG_LVL_WARN);
	cr_expect_eq(log_parse_level("info", &l), 0);
	cr_expect_eq(l, LOG_LVL_INFO);
	cr_expect_eq(log_parse_level("debug", &l), 0);
	cr_expect_eq(l, LOG_LVL_DEBUG);
	cr_expect_eq(log_parse_level("DEBUG", &l), -EINVAL);
	cr_expect_eq(log_parse_level("", &l), -EINVAL);
	cr_expect_eq(log_parse_level(NULL, &l), -EINVAL);
	cr_expect_eq(log_parse_level("warning", &l), -EINVAL);
}

Test(log, file_sink)
{
	char path[] = "/tmp/sbxfs-log-test-XXXXXX";
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(log_open(path, LOG_LVL_INFO), 0);
	cr_expect(log_enabled(LOG_LVL_ERROR));
	cr_expect(log_enabled(LOG_LVL_INFO));
	cr_expect_not(log_enabled(LOG_LVL_DEBUG));
	log_info("hello %d", 42);
	log_debug("invisible");
	log_error("two\nlines\x1b[0m");
	log_close();
	log_info("to stderr now");

	char *text = slurp(path);
	unlink(path);
	cr_expect(strstr(text, " info: hello 42\n"), "%s", text);
	cr_expect_null(strstr(text, "invisible"));
	cr_expect(strstr(text, " error: two?lines?[0m\n"), "%s", text);
	cr_expect_null(strstr(text, "stderr now"));
	/* "2026-11-28T14:14:27.123Z sbxfs[pid] info: ..." */
	cr_expect_eq(text[4], '-');
	cr_expect_eq(text[10], 'T');
	cr_expect_eq(text[23], 'Z');
	cr_expect(strstr(text, " sbxfs["));
	int lines = 0;
	for (char *p = text; *p; p++)
		lines += *p == '\n';
	cr_expect_eq(lines, 2);
	free(text);
}

Test(log, bad_targets)
{
	cr_expect_eq(log_open("/nonexistent-dir/x.log", LOG_LVL_INFO), -ENOENT);
	cr_expect_eq(log_open("", LOG_LVL_INFO), -EINVAL);
	cr_expect_eq(log_open(NULL, LOG_LVL_INFO), -EINVAL);
	cr_expect_eq(log_open("stderr", (enum log_level)9), -EINVAL);
	cr_expect_eq(log_open("stderr", LOG_LVL_WARN), 0);
	cr_expect_not(log_enabled(LOG_LVL_INFO));
	cr_expect_eq(log_open("syslog", LOG_LVL_ERROR), 0);
	log_error("sbxfs unit test: syslog sink works");
	log_close();
}

Test(log, long_lines_truncated)
{
	char path[] = "/tmp/sbxfs-log-test-XXXXXX";
	int fd = mkstemp(path);
	char big[5000];

	close(fd);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(log_open(path, LOG_LVL_DEBUG), 0);
	log_warn("%s", big);
	log_close();
	char *text = slurp(path);
	unlink(path);
	cr_expect_lt(strlen(text), 1200);
	cr_expect_eq(text[strlen(text) - 1], '\n');
	free(text);
}

/* Whatever the caller passes, a secret never reaches the sink: not in a
 * short line, not past the cut of a long one. */
Test(log, secrets_never_reach_the_sink)
{
	char path[] = "/tmp/sbxfs-log-test-XXXXXX";
	const char *key = "sk_log_0123456789abcdef";
	char pad[1200];
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	close(fd);
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	cr_assert_eq(scrub_add(key), 0);
	cr_assert_eq(log_open(path, LOG_LVL_DEBUG), 0);
	log_warn("server said: bad key %s", key);
	log_debug("%s", key);
	log_error("%.1010s%s", pad, key);
	log_info("%s%s", pad, key);
	log_close();
	scrub_reset();

	char *text = slurp(path);
	unlink(path);
	cr_expect_null(strstr(text, "sk_log_"), "%s", text);
	cr_expect_null(strstr(text, "0123456789abcdef"), "%s", text);
	cr_expect(strstr(text, " warn: server said: bad key ***\n"), "%s", text);
	cr_expect(strstr(text, " debug: ***\n"), "%s", text);
	free(text);
}
