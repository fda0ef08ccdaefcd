/* The command line as mount(8) gives it: an optional SOURCE before the
 * mountpoint (fstab's first field) and the generic mount options that
 * mount.fuse3 passes on. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/options.h"
#include "fs/status.h"

/* Parses argv (NULL-terminated); the remaining args in *rest, what
 * opts_parse printed in *errtext (caller frees). */
static int parse(struct sbxfs_opts *o, struct fuse_args *rest, const char **argv,
		 char **errtext)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&buf, &len);
	int r;

	*rest = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	for (int i = 0; argv[i]; i++)
		fuse_opt_add_arg(rest, argv[i]);
	r = opts_parse(rest, o, err);
	fclose(err);
	*errtext = buf;
	return r;
}

/* The -o options left for FUSE, joined with ',' (malloc'd). */
static char *fuse_opts(const struct fuse_args *a)
{
	char *out = strdup("");

	for (int i = 1; i < a->argc; i++) {
		const char *v = NULL;

		if (strcmp(a->argv[i], "-o") == 0 && i + 1 < a->argc)
			v = a->argv[++i];
		else if (strncmp(a->argv[i], "-o", 2) == 0)
			v = a->argv[i] + 2;
		if (v) {
			char *n;

			cr_assert_geq(asprintf(&n, "%s%s,", out, v), 0);
			free(out);
			out = n;
		}
	}
	return out;
}

/* The non-option arguments left (what fuse_parse_cmdline sees). */
static int nonopts(const struct fuse_args *a, const char **first)
{
	int n = 0;

	for (int i = 1; i < a->argc; i++) {
		if (strcmp(a->argv[i], "-o") == 0) {
			i++;
			continue;
		}
		if (a->argv[i][0] == '-')
			continue;
		if (n++ == 0)
			*first = a->argv[i];
	}
	return n;
}

Test(source, mount_fuse3_command_line)
{
	/* What mount.fuse3 ran for the fstab line of sbxfs(1). */
	const char *argv[] = { "sbxfs", "sbxfs", "/mnt/sbx", "-o",
		"rw,nosuid,nodev,noatime,noexec,api_key_file=/etc/sbxfs/key", NULL };
	struct sbxfs_opts o;
	struct fuse_args rest;
	const char *mp = NULL;
	char *err, *fo;

	cr_assert_eq(parse(&o, &rest, argv, &err), 0, "%s", err);
	cr_expect_str_eq(err, "");
	cr_expect_str_eq(o.source, "sbxfs");
	cr_expect_null(o.api_url, "a plain SOURCE is not a URL");
	cr_expect_str_eq(o.api_key_file, "/etc/sbxfs/key");
	cr_expect_eq(nonopts(&rest, &mp), 1, "only the mountpoint is left for FUSE");
	cr_expect_str_eq(mp, "/mnt/sbx");
	fo = fuse_opts(&rest);
	cr_expect(strstr(fo, "fsname=sbxfs"), "%s", fo);
	cr_expect(strstr(fo, "subtype=sbxfs"), "%s", fo);
	cr_expect(strstr(fo, "noexec"), "%s", fo);
	free(fo);
	free(err);
	opts_free(&o);
	fuse_opt_free_args(&rest);
}

Test(source, url_source_is_the_api_url)
{
	const char *argv[] = { "sbxfs", "https://api.e2b.app/", "/mnt/sbx", NULL };
	struct sbxfs_opts o;
	struct fuse_args rest;
	char *err, *fo;

	cr_assert_eq(parse(&o, &rest, argv, &err), 0, "%s", err);
	cr_expect_str_eq(o.api_url, "https://api.e2b.app/");
	fo = fuse_opts(&rest);
	cr_expect(strstr(fo, "fsname=https://api.e2b.app/"), "%s", fo);
	free(fo);
	free(err);
	opts_free(&o);
	fuse_opt_free_args(&rest);
}

Test(source, same_url_twice_is_fine_different_is_an_error)
{
	const char *same[] = { "sbxfs", "http://h:1", "/m", "-o", "api_url=http://h:1", NULL };
	const char *diff[] = { "sbxfs", "http://h:1", "/m", "-o", "api_url=http://h:2", NULL };
	struct sbxfs_opts o;
	struct fuse_args rest;
	char *err;

	cr_expect_eq(parse(&o, &rest, same, &err), 0, "%s", err);
	free(err);
	opts_free(&o);
	fuse_opt_free_args(&rest);
	cr_expect_eq(parse(&o, &rest, diff, &err), -1);
	cr_expect(strstr(err, "disagree"), "%s", err);
	free(err);
	opts_free(&o);
	fuse_opt_free_args(&rest);
}

Test(source, commas_escaped_and_explicit_fsname_wins)
{
	const char *label[] = { "sbxfs", "a,b", "/m", NULL };
	const char *named[] = { "sbxfs", "src", "/m", "-o", "fsname=mine", NULL };
	struct sbxfs_opts o;
	struct fuse_args rest;
	char *err, *fo;

	cr_assert_eq(parse(&o, &rest, label, &err), 0, "%s", err);
	fo = fuse_opts(&rest);
	cr_expect(strstr(fo, "fsname=a\\,b"), "%s", fo);
	free(fo);
	free(err);
	opts_free(&o);
	fuse_opt_free_args(&rest);

	cr_assert_eq(parse(&o, &rest, named, &err), 0, "%s", err);
	fo = fuse_opts(&rest);
	cr_expect(strstr(fo, "fsname=mine"), "%s", fo);
	cr_expect_null(strstr(fo, "fsname=src"), "%s", fo);
	free(fo);
	free(err);
	opts_free(&o);
	fuse_opt_free_args(&rest);
}

Test(source, mountpoint_alone_and_too_many)
{
	const char *one[] = { "sbxfs", "/m", NULL };
	const char *three[] = { "sbxfs", "a", "/m", "extra", NULL };
	const char *empty[] = { "sbxfs", "", "/m", NULL };
	struct sbxfs_opts o;
	struct fuse_args rest;
	const char *mp = NULL;
	char *err, *fo;

	cr_assert_eq(parse(&o, &rest, one, &err), 0, "%s", err);
	cr_expect_null(o.source);
	cr_expect_eq(nonopts(&rest, &mp), 1);
	cr_expect_str_eq(mp, "/m");
	fo = fuse_opts(&rest);
	cr_expect_null(strstr(fo, "fsname="), "no SOURCE, no fsname: %s", fo);
	free(fo);
	free(err);
	opts_free(&o);
	fuse_opt_free_args(&rest);

	cr_expect_eq(parse(&o, &rest, three, &err), -1);
	cr_expect(strstr(err, "unexpected argument 'extra'"), "%s", err);
	free(err);
	opts_free(&o);
	fuse_opt_free_args(&rest);

	cr_expect_eq(parse(&o, &rest, empty, &err), -1);
	cr_expect(strstr(err, "empty source"), "%s", err);
	free(err);
	opts_free(&o);
	fuse_opt_free_args(&rest);
}

/* Every option mount(8) and mount.fuse3 were seen to pass on for fstab
 * lines (generic VFS flags) is accepted and left for FUSE. */
Test(source, generic_mount_options_pass)
{
	static const char *const flags[] = {
		"rw", "ro", "suid", "nosuid", "dev", "nodev", "exec", "noexec",
		"sync", "async", "dirsync", "atime", "noatime", "diratime",
		"nodiratime", "relatime", "norelatime", "strictatime", "lazytime",
	};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		const char *argv[] = { "sbxfs", "sbxfs", "/m", "-o", flags[i], NULL };
		struct sbxfs_opts o;
		struct fuse_args rest;
		char *err, *fo;

		cr_expect_eq(parse(&o, &rest, argv, &err), 0, "-o %s: %s", flags[i], err);
		fo = fuse_opts(&rest);
		cr_expect(strstr(fo, flags[i]), "-o %s not passed on: %s", flags[i], fo);
		free(fo);
		free(err);
		opts_free(&o);
		fuse_opt_free_args(&rest);
	}
}

Test(status, has_a_build_line)
{
	struct status_info si = { .version = "0.1.0", .backend = "http://h:1" };
	size_t len;
	char *t = status_render(&si, &len);

	cr_assert_not_null(t);
	cr_expect(strstr(t, "\nbuild=buildtype="), "%s", t);
	cr_expect(strstr(t, " fuse=3."), "%s", t);
	cr_expect(strstr(t, " libcurl="), "%s", t);
	free(t);
}
