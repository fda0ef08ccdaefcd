/* Option parsing and backend resolution (precedence of options and
 * environment variables). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/backend.h"
#include "config/options.h"

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
		"api_url=ftp://x", "template=a/b", "max_idle_threads", "provider=aws",
		"provider=custom", "provider=", "provider=E2B",
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

Test(options, provider)
{
	const char *argv[] = { "sbxfs", "/mnt", "-o", "provider=e2b", NULL };
	const char *bad[] = { "sbxfs", "/mnt", "-o", "provider=aws", NULL };
	struct sbxfs_opts o;
	struct fuse_args rest;
	char *err;

	cr_assert_eq(parse(&o, &rest, argv, NULL), 0);
	cr_expect_str_eq(o.provider, "e2b");
	cr_expect_not(has_arg(&rest, "provider"), "passed on to FUSE");
	opts_free(&o);
	fuse_opt_free_args(&rest);
	cr_assert_eq(parse(&o, &rest, bad, &err), -1);
	cr_expect(strstr(err, "sbxfs: bad provider 'aws': expected novita or e2b"), "%s", err);
	free(err);
	opts_free(&o);
	fuse_opt_free_args(&rest);
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

/* ---- backend resolution: every combination, through a fake environment ---- */

enum { NK, NU, ND, EK, EU, ED, N_VARS };
static const char *const var_names[N_VARS] = {
	"NOVITA_API_KEY", "NOVITA_API_URL", "NOVITA_DOMAIN",
	"E2B_API_KEY", "E2B_API_URL", "E2B_DOMAIN",
};
static const char *const var_values[N_VARS] = {
	"nk", "http://nu:1/", "nd.example", "ek", "http://eu:2", "ed.example",
};

struct fake_env {
	unsigned set;        /* bit i: var_names[i] is set */
};

static const char *fake_getenv(void *ctx, const char *name)
{
	const struct fake_env *e = ctx;

	for (int i = 0; i < N_VARS; i++)
		if (strcmp(name, var_names[i]) == 0)
			return e->set & (1u << i) ? var_values[i] : NULL;
	return NULL;
}

struct want {
	int rc;
	const char *provider, *key, *url, *domain;
};

/* The rule of backend.h and sbxfs(1), restated independently. */
static struct want expected(const char *prov, bool url, bool file, unsigned set)
{
	static char url_buf[128];
	struct want w = { 0 };
	bool novita;
	const char *dom;

#define SET(v) (set & (1u << (v)))
	if (prov)
		w.provider = prov;
	else if (url)
		w.provider = "custom";
	else if (file || SET(NK))
		w.provider = "novita";
	else if (SET(EK))
		w.provider = "e2b";
	else if (SET(NU) || SET(ND) || SET(EU) || SET(ED))
		return (struct want){ .rc = -EINVAL };
	else
		return (struct want){ .provider = "embedded" };
	if (strcmp(w.provider, "custom") == 0) {
		if (!file)
			return (struct want){ .rc = -EINVAL };
		return (struct want){ .provider = "custom", .key = "fk", .url = "http://opt:3" };
	}
	novita = strcmp(w.provider, "novita") == 0;
	if (file)
		w.key = "fk";
	else if (SET(novita ? NK : EK))
		w.key = novita ? "nk" : "ek";
	else
		return (struct want){ .rc = -EINVAL };
	dom = SET(novita ? ND : ED) ? (novita ? "nd.example" : "ed.example")
	    : novita ? "us-phx-1.sandbox.novita.ai" : "e2b.app";
	w.domain = dom;
	if (url)
		w.url = "http://opt:3";
	else if (SET(novita ? NU : EU))
		w.url = novita ? "http://nu:1" : "http://eu:2";
	else
		w.url = strcpy(url_buf, "https://api."), strcat(url_buf, dom);
#undef SET
	return w;
}

static bool eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

Test(backend, every_combination_of_variables_and_options)
{
	static const char *const provs[] = { NULL, "novita", "e2b" };
	char *keyfile = write_key_file("fk\n");
	int checked = 0;

	for (int p = 0; p < 3; p++)
	for (int opt = 0; opt < 4; opt++)
	for (unsigned set = 0; set < (1u << N_VARS); set++) {
		struct sbxfs_opts o = empty_opts();
		struct fake_env env = { set };
		struct backend b;
		char *msg = NULL;
		struct want w = expected(provs[p], opt & 1, opt & 2, set);
		int rc;

		o.provider = (char *)provs[p];
		o.api_url = opt & 1 ? (char *)"http://opt:3" : NULL;
		o.api_key_file = opt & 2 ? keyfile : NULL;
		rc = backend_resolve_env(&o, fake_getenv, &env, &b, &msg);
		cr_assert_eq(rc, w.rc, "provider=%s url=%d file=%d env=%#x: rc %d (%s)",
			     provs[p], opt & 1, (opt & 2) != 0, set, rc, msg);
		checked++;
		if (rc < 0) {
			cr_assert(msg && msg[0]);
			cr_assert_null(b.url);
			cr_assert_null(b.key);
			free(msg);
			continue;
		}
		cr_assert_null(msg);
		cr_assert_str_eq(backend_provider_name(b.provider), w.provider, "env=%#x", set);
		cr_assert(eq(b.key, w.key) && eq(b.url, w.url) && eq(b.domain, w.domain),
			  "provider=%s url=%d file=%d env=%#x: key %s url %s domain %s, want "
			  "%s %s %s", provs[p], opt & 1, (opt & 2) != 0, set, b.key, b.url,
			  b.domain, w.key, w.url, w.domain);
		cr_assert_eq(b.embedded, strcmp(w.provider, "embedded") == 0);
		/* The promise itself, whatever the table says: one provider's
		 * key never goes to the other's URL or domain, nor to a URL
		 * the user named without naming the provider. */
		if (eq(b.key, "nk"))
			cr_assert(!strstr(b.url, "eu:") && !strstr(b.url, "ed.example") &&
				  (!strstr(b.url, "opt:") || eq(o.provider, "novita")));
		if (eq(b.key, "ek"))
			cr_assert(!strstr(b.url, "nu:") && !strstr(b.url, "nd.example") &&
				  (!strstr(b.url, "opt:") || eq(o.provider, "e2b")));
		/* Both keys, nothing explicit: novita, and the user is told. */
		cr_assert_eq(b.notice != NULL && strstr(b.notice, "both") != NULL,
			     !provs[p] && opt == 0 && (set & 1u << NK) && (set & 1u << EK));
		backend_clear(&b);
	}
	cr_assert_eq(checked, 3 * 4 * 64);
	unlink(keyfile);
	free(keyfile);
}

Test(backend, unknown_provider)
{
	struct sbxfs_opts o = empty_opts();
	struct fake_env env = { 1u << NK };
	struct backend b;
	char *msg = NULL;

	o.provider = (char *)"custom";
	cr_assert_eq(backend_resolve_env(&o, fake_getenv, &env, &b, &msg), -EINVAL);
	cr_expect(msg && strstr(msg, "bad provider 'custom'"), "%s", msg);
	cr_expect_null(b.key);
	free(msg);
}

Test(backend, defaults_of_each_provider)
{
	struct sbxfs_opts o = empty_opts();
	struct fake_env env = { 1u << EK };
	struct backend b;
	char *msg;

	cr_assert_eq(backend_resolve_env(&o, fake_getenv, &env, &b, &msg), 0);
	cr_expect_str_eq(b.url, "https://api.e2b.app");
	cr_expect_str_eq(b.domain, "e2b.app");
	backend_clear(&b);
	env.set = 1u << NK;
	cr_assert_eq(backend_resolve_env(&o, fake_getenv, &env, &b, &msg), 0);
	cr_expect_str_eq(b.url, "https://api.us-phx-1.sandbox.novita.ai");
	cr_expect_str_eq(b.domain, "us-phx-1.sandbox.novita.ai");
	backend_clear(&b);
}

Test(backend, key_file_alone_and_the_e2b_variables_says_so)
{
	struct sbxfs_opts o = empty_opts();
	struct fake_env env = { 1u << ED };
	struct backend b;
	char *msg;
	char *keyfile = write_key_file("fk\n");

	o.api_key_file = keyfile;
	cr_assert_eq(backend_resolve_env(&o, fake_getenv, &env, &b, &msg), 0);
	cr_expect_eq(b.provider, PROVIDER_NOVITA);
	cr_expect(b.notice && strstr(b.notice, "provider=e2b"), "%s", b.notice);
	backend_clear(&b);
	unlink(keyfile);
	free(keyfile);
}

Test(backend, bad_domain_and_the_process_environment, .init = clean_env)
{
	struct sbxfs_opts o = empty_opts();
	struct backend b;
	char *msg = NULL;

	setenv("E2B_API_KEY", "k", 1);
	setenv("E2B_DOMAIN", "evil.example/x?", 1);
	cr_assert_eq(backend_resolve(&o, &b, &msg), -EINVAL);
	cr_expect(msg && strstr(msg, "bad E2B_DOMAIN"), "%s", msg);
	free(msg);
	setenv("E2B_DOMAIN", "", 1);
	cr_assert_eq(backend_resolve(&o, &b, &msg), 0);
	cr_expect_str_eq(b.url, "https://api.e2b.app", "empty counts as unset");
	cr_expect_str_eq(b.key, "k");
	backend_clear(&b);
}

Test(backend, bad_key_files, .init = clean_env)
{
	struct sbxfs_opts o = empty_opts();
	struct backend b;
	char *msg = NULL;
	char *blank = write_key_file("   \nkey-on-line-two\n");

	setenv("NOVITA_API_KEY", "env-key", 1);
	o.api_key_file = blank;   /* explicit: no fallback to the variable */
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
