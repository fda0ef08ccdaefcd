/* Option parsing and backend resolution (precedence of options and
 * environment variables). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"

static const char *const backend_vars[] = {
	"NOVITA_API_URL", "E2B_API_URL", "NOVITA_DOMAIN", "E2B_DOMAIN",
	"NOVITA_API_KEY", "E2B_API_KEY",
};

static void clean_env(void)
{
	for (size_t i = 0; i < sizeof(backend_vars) / sizeof(backend_vars[0]); i++)
		unsetenv(backend_vars[i]);
}

/* Parses argv (NULL-terminated) into o; the remaining args in *rest. */
static int parse(struct sbxfs_opts *o, struct fuse_args *rest, const char **argv, char **errtext)
{
	int argc = 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&buf, &len);
	int r;

	while (argv[argc])
		argc++;
	*rest = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	for (int i = 0; i < argc; i++)
		fuse_opt_add_arg(rest, argv[i]);
	r = opts_parse(rest, o, err);
	fclose(err);
	if (errtext)
		*errtext = buf;
	else
		free(buf);
	return r;
}

static bool has_arg(const struct fuse_args *a, const char *s)
{
	for (int i = 0; i < a->argc; i++)
		if (strstr(a->argv[i], s))
			return true;
	return false;
}

Test(options, defaults)
{
	const char *argv[] = { "sbxfs", "/mnt", NULL };
	struct sbxfs_opts o;
	struct fuse_args rest;

	cr_assert_eq(parse(&o, &rest, argv, NULL), 0);
	cr_assert_str_eq(o.template_id, "base");
	cr_assert_eq(o.timeout, 300);
	cr_assert_eq(o.cache_ttl, 2);
	cr_assert_eq(o.connect_timeout, 5);
	cr_assert_eq(o.request_timeout, 15);
	cr_assert_eq(o.retry_deadline, 30);
	cr_assert_not(o.log_level_set);
	cr_assert(has_arg(&rest, "/mnt"));
	opts_free(&o);
	fuse_opt_free_args(&rest);
}

Test(options, own_values_and_fuse_passthrough)
{
	const char *argv[] = { "sbxfs", "/mnt", "-f", "-o",
		"api_url=http://h:1,template=tpl,timeout=10m,cache_ttl=0,allow_other,ro",
		"-o", "request_timeout=3,retry_deadline=7,log_level=debug,uid=5", NULL };
	struct sbxfs_opts o;
	struct fuse_args rest;

	cr_assert_eq(parse(&o, &rest, argv, NULL), 0);
	cr_assert_str_eq(o.api_url, "http://h:1");
	cr_assert_str_eq(o.template_id, "tpl");
	cr_assert_eq(o.timeout, 600);
	cr_assert_eq(o.cache_ttl, 0);
	cr_assert_eq(o.request_timeout, 3);
	cr_assert_eq(o.retry_deadline, 7);
	cr_assert(o.log_level_set);
	cr_assert_eq(o.log_level, LOG_LVL_DEBUG);
	cr_assert(o.allow_other);
	cr_assert(has_arg(&rest, "allow_other"));
	cr_assert(has_arg(&rest, "default_permissions"));
	cr_assert(has_arg(&rest, "ro"));
	cr_assert(has_arg(&rest, "uid=5"));
	cr_assert(has_arg(&rest, "-f"));
	cr_assert_not(has_arg(&rest, "api_url"));
	cr_assert_not(has_arg(&rest, "template"));
	opts_free(&o);
	fuse_opt_free_args(&rest);
}

Test(options, unknown_option_is_an_error)
{
	const char *argv[] = { "sbxfs", "/mnt", "-o", "ro,foo", NULL };
	struct sbxfs_opts o;
	struct fuse_args rest;
	char *err;

	cr_assert_eq(parse(&o, &rest, argv, &err), -1);
	cr_assert(strstr(err, "sbxfs: unknown option 'foo'"), "%s", err);
	free(err);
	opts_free(&o);
	fuse_opt_free_args(&rest);
}

Test(options, no_api_key_option)
{
	const char *argv[] = { "sbxfs", "/mnt", "-o", "api_key=secret", NULL };
	struct sbxfs_opts o;
	struct fuse_args rest;
	char *err;

	cr_assert_eq(parse(&o, &rest, argv, &err), -1);
	cr_assert(strstr(err, "api_key_file"), "%s", err);
	cr_assert_null(strstr(err, "secret"));
	free(err);
	opts_free(&o);
	fuse_opt_free_args(&rest);
}

Test(options, bad_values)
{
	const char *bad[] = {
		"timeout=0", "timeout=abc", "timeout=-5", "cache_ttl=x", "cache_ttl=-1",
		"connect_timeout=0", "request_timeout=1.5", "log_level=loud",
		"api_url=ftp://x", "template=a/b", "max_idle_threads",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = { "sbxfs", "/mnt", "-o", bad[i], NULL };
		struct sbxfs_opts o;
		struct fuse_args rest;

		cr_expect_eq(parse(&o, &rest, argv, NULL), -1, "%s accepted", bad[i]);
		opts_free(&o);
		fuse_opt_free_args(&rest);
	}
}

Test(options, fuse_option_table)
{
	cr_assert(opts_is_fuse_option("allow_other"));
	cr_assert(opts_is_fuse_option("default_permissions"));
	cr_assert(opts_is_fuse_option("uid=1000"));
	cr_assert(opts_is_fuse_option("entry_timeout=1"));
	cr_assert_not(opts_is_fuse_option("uid"));
	cr_assert_not(opts_is_fuse_option("ro=1"));
	cr_assert_not(opts_is_fuse_option("foo"));
	cr_assert_not(opts_is_fuse_option("allow"));
}

Test(options, relative_key_file_becomes_absolute)
{
	const char *argv[] = { "sbxfs", "/mnt", "-o", "api_key_file=k.txt", NULL };
	struct sbxfs_opts o;
	struct fuse_args rest;

	cr_assert_eq(parse(&o, &rest, argv, NULL), 0);
	cr_assert_eq(o.api_key_file[0], '/');
	cr_assert(strstr(o.api_key_file, "/k.txt"));
	opts_free(&o);
	fuse_opt_free_args(&rest);
}

/* ---- backend resolution ---- */

static struct sbxfs_opts empty_opts(void)
{
	struct sbxfs_opts o;

	memset(&o, 0, sizeof(o));
	return o;
}

static char *write_key_file(const char *content)
{
	char *path = strdup("/tmp/sbxfs-key-XXXXXX");
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	return path;
}

Test(backend, nothing_configured_means_embedded, .init = clean_env)
{
	struct sbxfs_opts o = empty_opts();
	struct backend b;
	char *msg;

	cr_assert_eq(backend_resolve(&o, &b, &msg), 0);
	cr_assert(b.embedded);
	cr_assert_null(b.url);
	cr_assert_null(b.key);
	backend_clear(&b);
}

Test(backend, url_precedence, .init = clean_env)
{
	struct sbxfs_opts o = empty_opts();
	struct backend b;
	char *msg;

	setenv("E2B_API_KEY", "k", 1);
	setenv("E2B_DOMAIN", "e2b.example", 1);
	cr_assert_eq(backend_resolve(&o, &b, &msg), 0);
	cr_assert_str_eq(b.url, "https://api.e2b.example");
	backend_clear(&b);

	setenv("NOVITA_DOMAIN", "novita.example", 1);
	cr_assert_eq(backend_resolve(&o, &b, &msg), 0);
	cr_assert_str_eq(b.url, "https://api.novita.example");
	backend_clear(&b);

	setenv("E2B_API_URL", "http://e2b-url:1/", 1);
	cr_assert_eq(backend_resolve(&o, &b, &msg), 0);
	cr_assert_str_eq(b.url, "http://e2b-url:1");
	backend_clear(&b);

	setenv("NOVITA_API_URL", "http://novita-url:2", 1);
	cr_assert_eq(backend_resolve(&o, &b, &msg), 0);
	cr_assert_str_eq(b.url, "http://novita-url:2");
	backend_clear(&b);

	o.api_url = (char *)"http://option:3";
	cr_assert_eq(backend_resolve(&o, &b, &msg), 0);
	cr_assert_str_eq(b.url, "http://option:3");
	cr_assert_not(b.embedded);
	backend_clear(&b);
}

Test(backend, empty_variables_count_as_unset, .init = clean_env)
{
	struct sbxfs_opts o = empty_opts();
	struct backend b;
	char *msg;

	setenv("NOVITA_API_URL", "", 1);
	setenv("E2B_API_URL", "http://e2b:1", 1);
	setenv("NOVITA_API_KEY", "", 1);
	setenv("E2B_API_KEY", "ek", 1);
	cr_assert_eq(backend_resolve(&o, &b, &msg), 0);
	cr_assert_str_eq(b.url, "http://e2b:1");
	cr_assert_str_eq(b.key, "ek");
	backend_clear(&b);
}

Test(backend, key_precedence, .init = clean_env)
{
	struct sbxfs_opts o = empty_opts();
	struct backend b;
	char *msg;
	char *path = write_key_file("  file-key \nsecond line\n");

	setenv("E2B_API_URL", "http://x:1", 1);
	setenv("E2B_API_KEY", "e2b-key", 1);
	cr_assert_eq(backend_resolve(&o, &b, &msg), 0);
	cr_assert_str_eq(b.key, "e2b-key");
	backend_clear(&b);

	setenv("NOVITA_API_KEY", "novita-key", 1);
	cr_assert_eq(backend_resolve(&o, &b, &msg), 0);
	cr_assert_str_eq(b.key, "novita-key");
	backend_clear(&b);

	o.api_key_file = path;
	cr_assert_eq(backend_resolve(&o, &b, &msg), 0);
	cr_assert_str_eq(b.key, "file-key");
	backend_clear(&b);
	unlink(path);
	free(path);
}

Test(backend, url_without_key_is_an_error, .init = clean_env)
{
	struct sbxfs_opts o = empty_opts();
	struct backend b;
	char *msg = NULL;

	setenv("E2B_DOMAIN", "example.org", 1);
	cr_assert_eq(backend_resolve(&o, &b, &msg), -EINVAL);
	cr_assert(msg && strstr(msg, "no API key"), "%s", msg);
	cr_assert_null(b.url);
	free(msg);
}

Test(backend, key_without_url_uses_default, .init = clean_env)
{
	struct sbxfs_opts o = empty_opts();
	struct backend b;
	char *msg;

	setenv("NOVITA_API_KEY", "k", 1);
	cr_assert_eq(backend_resolve(&o, &b, &msg), 0);
	cr_assert_str_eq(b.url, SBXFS_DEFAULT_API_URL);
	cr_assert_not(b.embedded);
	backend_clear(&b);
}

Test(backend, bad_key_files, .init = clean_env)
{
	struct sbxfs_opts o = empty_opts();
	struct backend b;
	char *msg = NULL;
	char *blank = write_key_file("   \nkey-on-line-two\n");

	setenv("NOVITA_API_KEY", "env-key", 1);
	o.api_key_file = blank;
	cr_assert_eq(backend_resolve(&o, &b, &msg), -EINVAL);
	cr_assert(msg && strstr(msg, "first line"), "%s", msg);
	cr_assert_null(strstr(msg, "key-on-line-two"));
	free(msg);
	msg = NULL;
	o.api_key_file = (char *)"/nonexistent/key";
	cr_assert_eq(backend_resolve(&o, &b, &msg), -ENOENT);
	cr_assert(msg && strstr(msg, "/nonexistent/key"));
	free(msg);
	unlink(blank);
	free(blank);
}
