/* Path parsing: every node kind, bad names, depth limits. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs/path.h"

static struct path_node parse_ok(const char *p)
{
	struct path_node n;

	cr_assert_eq(path_parse(p, &n), 0, "parsing %s", p);
	return n;
}

static void parse_fails(const char *p, int err)
{
	struct path_node n;

	cr_assert_eq(path_parse(p, &n), err, "parsing %s", p);
}

static void span_is(struct path_span s, const char *want)
{
	cr_assert(path_span_eq(s, want), "span '%.*s' != '%s'", (int)s.len, s.p, want);
}

Test(path, root_and_sandbox)
{
	struct path_node n = parse_ok("/");

	cr_assert_eq(n.kind, PATH_ROOT);
	n = parse_ok("/my-box");
	cr_assert_eq(n.kind, PATH_SBX);
	span_is(n.sbx, "my-box");
	cr_assert_eq(n.tpl.len, 0);
	n = parse_ok("/i2ctxjkzuvxbpm1w0tkbc");
	cr_assert_eq(n.kind, PATH_SBX);
}

Test(path, sandbox_files)
{
	static const char *const names[] = {
		"info", "info.json", "state", "timeout", "sandbox_id", "template_id",
		"started_at", "end_at", "logs", "metrics",
	};
	char p[64];

	for (int f = 0; f < SBX_FILE_COUNT; f++) {
		snprintf(p, sizeof(p), "/box/%s", names[f]);
		struct path_node n = parse_ok(p);

		cr_assert_eq(n.kind, PATH_SBX_FILE);
		cr_assert_eq(n.file, (enum sbx_file)f);
		span_is(n.sbx, "box");
		cr_assert_str_eq(path_sbx_file_name(n.file), names[f]);
	}
	cr_assert(path_sbx_file_writable(SBX_FILE_STATE));
	cr_assert(path_sbx_file_writable(SBX_FILE_TIMEOUT));
	cr_assert_not(path_sbx_file_writable(SBX_FILE_INFO));
	cr_assert_not(path_sbx_file_writable(SBX_FILE_END_AT));
}

Test(path, metadata)
{
	struct path_node n = parse_ok("/box/metadata");

	cr_assert_eq(n.kind, PATH_META_DIR);
	n = parse_ok("/box/metadata/owner");
	cr_assert_eq(n.kind, PATH_META_FILE);
	span_is(n.key, "owner");
	span_is(n.sbx, "box");
	n = parse_ok("/box/metadata/sbxfs.name");
	span_is(n.key, "sbxfs.name");
	n = parse_ok("/box/metadata/.hidden");
	cr_assert_eq(n.kind, PATH_META_FILE);
	parse_fails("/box/metadata/owner/x", -ENOENT);
	parse_fails("/box/metadata/..", -ENOENT);
}

Test(path, control_tree)
{
	cr_assert_eq(parse_ok("/.sbxfs").kind, PATH_CTL);
	cr_assert_eq(parse_ok("/.sbxfs/status").kind, PATH_CTL_STATUS);
	cr_assert_eq(parse_ok("/.sbxfs/refresh").kind, PATH_CTL_REFRESH);
	cr_assert_eq(parse_ok("/.sbxfs/templates").kind, PATH_TPL_ROOT);
	parse_fails("/.sbxfs/other", -ENOENT);
	parse_fails("/.sbxfs/status/x", -ENOENT);
	parse_fails("/.sbxfs/refresh/x", -ENOENT);
}

Test(path, templates_prefix)
{
	struct path_node n = parse_ok("/.sbxfs/templates/base");

	cr_assert_eq(n.kind, PATH_TPL);
	span_is(n.tpl, "base");
	n = parse_ok("/.sbxfs/templates/code-interpreter-v1/web");
	cr_assert_eq(n.kind, PATH_SBX);
	span_is(n.tpl, "code-interpreter-v1");
	span_is(n.sbx, "web");
	n = parse_ok("/.sbxfs/templates/T/N/info");
	cr_assert_eq(n.kind, PATH_SBX_FILE);
	cr_assert_eq(n.file, SBX_FILE_INFO);
	span_is(n.tpl, "T");
	span_is(n.sbx, "N");
	n = parse_ok("/.sbxfs/templates/T/N/metadata/k");
	cr_assert_eq(n.kind, PATH_META_FILE);
	span_is(n.key, "k");
	parse_fails("/.sbxfs/templates/-bad", -ENOENT);
	parse_fails("/.sbxfs/templates/.x", -ENOENT);
	parse_fails("/.sbxfs/templates/T/.x", -ENOENT);
	parse_fails("/.sbxfs/templates/T/N/nope", -ENOENT);
}

Test(path, bad_names_and_depth)
{
	char longname[300];

	parse_fails("relative", -EINVAL);
	parse_fails("", -EINVAL);
	parse_fails("/.Trash", -ENOENT);
	parse_fails("/.git", -ENOENT);
	parse_fails("/box/nope", -ENOENT);
	parse_fails("/box/info/x", -ENOENT);
	parse_fails("/box/state/x/y", -ENOENT);
	parse_fails("/box//info", -ENOENT);
	parse_fails("/box/metadata/a/b/c/d", -ENOENT);
	parse_fails("/box/INFO", -ENOENT);
	parse_fails("/box/info.json.bak", -ENOENT);
	memset(longname, 'a', sizeof(longname));
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	parse_fails(longname, -ENOENT);
}

Test(path, kinds)
{
	cr_assert(path_is_dir(PATH_ROOT));
	cr_assert(path_is_dir(PATH_TPL));
	cr_assert(path_is_dir(PATH_META_DIR));
	cr_assert_not(path_is_dir(PATH_SBX_FILE));
	cr_assert_not(path_is_dir(PATH_CTL_STATUS));
	cr_assert(path_in_sbx(PATH_META_FILE));
	cr_assert_not(path_in_sbx(PATH_TPL));
}

Test(path, template_names)
{
	cr_assert(path_tpl_name_valid("base", 4));
	cr_assert(path_tpl_name_valid("rki5dems9wqfm4r03t7g", 20));
	cr_assert(path_tpl_name_valid("my_tpl.v2:latest", 16));
	cr_assert_not(path_tpl_name_valid("", 0));
	cr_assert_not(path_tpl_name_valid("-x", 2));
	cr_assert_not(path_tpl_name_valid("a b", 3));
}

Test(path, span_copy)
{
	struct path_node n = parse_ok("/abc/info");
	char buf[4], small[3];

	cr_assert_eq(path_span_copy(n.sbx, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "abc");
	cr_assert_eq(path_span_copy(n.sbx, small, sizeof(small)), -ENAMETOOLONG);
}

/* path_format is path_parse's inverse: every kind, and under a template. */
Test(path, format_round_trip)
{
	static const char *const paths[] = {
		"/", "/a", "/a/info", "/a/info.json", "/a/state", "/a/timeout",
		"/a/sandbox_id", "/a/template_id", "/a/started_at", "/a/end_at",
		"/a/metadata", "/a/metadata/k.1", "/.sbxfs", "/.sbxfs/status",
		"/.sbxfs/refresh", "/.sbxfs/templates", "/.sbxfs/templates/base",
		"/.sbxfs/templates/base/a", "/.sbxfs/templates/my:tpl-1/a/timeout",
		"/.sbxfs/templates/base/a/metadata", "/.sbxfs/templates/base/a/metadata/k",
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct path_node n = parse_ok(paths[i]), m;
		int len = path_format(&n, buf, sizeof(buf));

		cr_assert_eq(len, (int)strlen(paths[i]), "%s: %d", paths[i], len);
		cr_assert_str_eq(buf, paths[i]);
		m = parse_ok(buf);
		cr_assert_eq(m.kind, n.kind, "%s", paths[i]);
		cr_assert_eq(m.file, n.file, "%s", paths[i]);
	}
}

/* A trailing slash parses as without it; the format is the canonical one. */
Test(path, format_is_canonical)
{
	struct path_node n = parse_ok("/a/metadata/");
	char buf[64];

	cr_assert_eq(path_format(&n, buf, sizeof(buf)), 11);
	cr_assert_str_eq(buf, "/a/metadata");
}

Test(path, format_refuses)
{
	struct path_node n = parse_ok("/abc/timeout");
	char buf[64];

	/* "/abc/timeout" is 12 bytes and its NUL: 12 do not hold it. */
	cr_assert_eq(path_format(&n, buf, 12), -ENAMETOOLONG);
	cr_assert_str_eq(buf, "");
	cr_assert_eq(path_format(&n, buf, 13), 12);
	cr_assert_eq(path_format(&n, buf, 1), -ENAMETOOLONG);
	cr_assert_eq(path_format(&(struct path_node){ .kind = 0 }, buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(path_format(&(struct path_node){ .kind = PATH_SBX }, buf, sizeof(buf)),
		     -EINVAL, "an empty sandbox name");
	n = (struct path_node){ .kind = PATH_SBX, .sbx = path_span_of("a/b") };
	cr_assert_eq(path_format(&n, buf, sizeof(buf)), -EINVAL, "a slash in a name");
	n = (struct path_node){ .kind = PATH_SBX, .sbx = path_span_of("a"),
				.tpl = path_span_of("base") };
	cr_assert_eq(path_format(&n, buf, sizeof(buf)), 24);
	cr_assert_str_eq(buf, "/.sbxfs/templates/base/a");
}

Test(path, fs_and_everything_below_it_is_the_sandbox_s_own_tree)
{
	struct path_node n;
	char buf[64];

	cr_assert_eq(path_parse("/box/fs", &n), 0);
	cr_assert_eq(n.kind, PATH_SBX_FS);
	cr_assert_eq(n.rest.len, 0);
	cr_assert_eq(path_parse("/box/fs/home/user/a.txt", &n), 0);
	cr_assert_eq(n.kind, PATH_SBX_FS);
	cr_assert(path_span_eq(n.sbx, "box"));
	cr_assert(path_span_eq(n.rest, "/home/user/a.txt"));
	cr_assert_eq(path_format(&n, buf, sizeof(buf)), 23);
	cr_assert_str_eq(buf, "/box/fs/home/user/a.txt");
	cr_assert_eq(path_parse("/box/fs/a/../b", &n), -ENOENT);
	cr_assert_eq(path_parse("/box/fs/a//b", &n), -ENOENT);
	cr_assert_eq(path_parse("/.sbxfs/templates/t/box/fs/x", &n), 0);
	cr_assert_eq(n.kind, PATH_SBX_FS);
	cr_assert_eq(path_format(&n, buf, sizeof(buf)), 28);
	cr_assert_str_eq(buf, "/.sbxfs/templates/t/box/fs/x");
}
