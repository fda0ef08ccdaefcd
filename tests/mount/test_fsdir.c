/* MOUNT/<sandbox>/fs/: a sandbox's own files through a real mount, with
 * every effect checked through envd directly (fsfix.h). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
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

/* The body of p through envd; fails the test unless it is 200. */
static char *remote(const char *p, size_t *len)
{
	long status;
	char *b = eget(id, p, len, &status);

	cr_assert_eq(status, 200, "GET %s: %ld %s", p, status, b);
	return b;
}

TestSuite(fsdir, .init = setup, .fini = teardown, .timeout = 120);

Test(fsdir, echo_cat_and_append_reach_the_sandbox)
{
	char *b;

	cr_assert_eq(sh("echo hello > $MNT/box/fs/home/user/a.txt"), 0);
	b = remote("/home/user/a.txt", NULL);
	cr_assert_str_eq(b, "hello\n");
	free(b);
	cr_assert_eq(sh("echo more >> $MNT/box/fs/home/user/a.txt"), 0);
	b = remote("/home/user/a.txt", NULL);
	cr_assert_str_eq(b, "hello\nmore\n");
	free(b);
	b = slurp(P("/box/fs/home/user/a.txt"), NULL);
	cr_assert_str_eq(b, "hello\nmore\n");
	free(b);
}

Test(fsdir, the_sandbox_directory_lists_fs)
{
	struct stat st;

	cr_assert_eq(stat(P("/box/fs"), &st), 0, "%s", strerror(errno));
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(sh("ls $MNT/box | grep -qx fs"), 0);
	cr_assert_eq(sh("ls $MNT/box/fs | grep -qx home"), 0);
}

Test(fsdir, mkdir_p_rm_r_and_rename_over_a_file)
{
	cr_assert_eq(sh("mkdir -p $MNT/box/fs/tmp/a/b/c"), 0);
	cr_assert(eexists(id, "/tmp/a/b/c"));
	cr_assert_eq(sh("echo 1 > $MNT/box/fs/tmp/a/b/c/one && echo 2 > $MNT/box/fs/tmp/two"), 0);
	cr_assert_eq(sh("mv $MNT/box/fs/tmp/two $MNT/box/fs/tmp/a/b/c/one"), 0);
	char *b = remote("/tmp/a/b/c/one", NULL);

	cr_assert_str_eq(b, "2\n");
	free(b);
	cr_assert_not(eexists(id, "/tmp/two"));
	cr_assert_eq(rmdir(P("/box/fs/tmp/a")), -1);
	cr_assert_eq(errno, ENOTEMPTY);
	cr_assert(eexists(id, "/tmp/a/b/c/one"));
	cr_assert_eq(sh("rm -r $MNT/box/fs/tmp/a"), 0);
	cr_assert_not(eexists(id, "/tmp/a"));
}

Test(fsdir, a_file_written_in_the_sandbox_shows_after_a_refresh)
{
	cr_assert_eq(sh("ls $MNT/box/fs/tmp >/dev/null"), 0);
	if (strcmp(fsfix_runtime(), "bwrap") == 0)
		cr_assert_eq(erun(id, "echo 'from inside' > /tmp/inside.txt"), 200);
	else
		cr_assert_eq(eput(id, "/tmp/inside.txt", "from inside\n"), 200);
	cr_assert_eq(put(P("/.sbxfs/refresh"), "1"), 0);
	char *b = slurp(P("/box/fs/tmp/inside.txt"), NULL);

	cr_assert_not_null(b, "%s", strerror(errno));
	cr_assert_str_eq(b, "from inside\n");
	free(b);
}

Test(fsdir, ls_l_shows_what_listdir_shows)
{
	cr_assert_eq(sh("for i in 1 2 3; do echo $i$i > $MNT/box/fs/tmp/f$i; done"), 0);
	cr_assert_eq(sh("ls -l $MNT/box/fs/tmp | grep -c ' f[123]$' | grep -qx 3"), 0);
	cr_assert_eq(sh("test $(stat -c %%s $MNT/box/fs/tmp/f2) = 3"), 0);
}

Test(fsdir, chmod_chown_utimens_and_links_are_refused)
{
	cr_assert_eq(sh("echo x > $MNT/box/fs/tmp/x"), 0);
	cr_assert_eq(chmod(P("/box/fs/tmp/x"), 0600), -1);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(link(P("/box/fs/tmp/x"), P("/box/fs/tmp/y")), -1);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(symlink("x", P("/box/fs/tmp/l")), -1);
	cr_assert_eq(errno, EPERM);
	cr_assert_not(eexists(id, "/tmp/y"));
}

Test(fsdir, a_paused_sandbox_is_hostdown_and_not_resumed)
{
	char path[128], *state, *st;

	cr_assert_eq(sh("echo before > $MNT/box/fs/tmp/p"), 0);
	snprintf(path, sizeof(path), "/sandboxes/%s/pause", id);
	cr_assert_eq(rest("POST", path, NULL, NULL), 204);
	/* Whether the mount's listing still says running or not. */
	cr_assert_eq(sh("ls $MNT/box/fs/tmp 2>$MNT/../ls.err"), 2);
	cr_assert_eq(sh("grep -q 'Host is down' $MNT/../ls.err"), 0);
	cr_assert_eq(sh("cat $MNT/box/fs/tmp/p 2>$MNT/../cat.err"), 1);
	cr_assert_eq(sh("grep -q 'Host is down' $MNT/../cat.err"), 0);
	cr_assert_eq(open(P("/box/fs/tmp/q"), O_CREAT | O_WRONLY, 0644), -1);
	cr_assert_eq(errno, EHOSTDOWN);
	cr_assert_eq(access(P("/box/fs/home/user"), F_OK), -1);
	cr_assert_eq(errno, EHOSTDOWN);
	st = slurp(P("/.sbxfs/status"), NULL);
	cr_assert_not_null(st);
	snprintf(path, sizeof(path), "fs_last_error=EHOSTDOWN sandbox %s is paused (", id);
	cr_assert(strstr(st, path), "%s", st);
	free(st);
	state = rest_field(id, "state");
	cr_assert_str_eq(state, "paused");
	free(state);
}

Test(fsdir, a_file_open_when_its_sandbox_is_killed_fails_at_close)
{
	int fd = open(P("/box/fs/tmp/k"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	char path[128];

	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_assert_eq(write(fd, "abc", 3), 3);
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	cr_assert_eq(rest("DELETE", path, NULL, NULL), 204);
	cr_assert_eq(close(fd), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(put(P("/.sbxfs/refresh"), "1"), 0);
	cr_assert_eq(access(P("/box/fs/tmp"), F_OK), -1);
	cr_assert_eq(errno, ENOENT);
}

Test(fsdir, a_full_disk_fails_close_with_enospc_and_leaves_nothing)
{
	char *tiny = fsfix_sandbox("tiny1", "tiny");
	char *buf = calloc(1, 2 << 20);
	int fd = open(P("/tiny1/fs/tmp/big"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	long status;

	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_assert_eq(write(fd, buf, 2 << 20), 2 << 20);
	cr_assert_eq(close(fd), -1);
	cr_assert_eq(errno, ENOSPC);
	free(eget(tiny, "/tmp/big", NULL, &status));
	cr_assert_eq(status, 404);
	free(buf);
	free(tiny);
}

Test(fsdir, files_over_fs_max_file_are_efbig_before_any_transfer)
{
	int fd = open(P("/box/fs/tmp/f"), O_CREAT | O_WRONLY | O_TRUNC, 0644);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)5 << 30), -1);
	cr_assert_eq(errno, EFBIG);
	cr_assert_eq(close(fd), 0);
}

Test(fsdir, rename_noreplace_is_honoured_and_exchange_refused)
{
	cr_assert_eq(sh("echo a > $MNT/box/fs/tmp/a && echo b > $MNT/box/fs/tmp/b"), 0);
	cr_assert_eq(renameat2(AT_FDCWD, P("/box/fs/tmp/a"), AT_FDCWD, P("/box/fs/tmp/b"),
			       RENAME_NOREPLACE), -1);
	cr_assert_eq(errno, EEXIST);
	cr_assert_eq(renameat2(AT_FDCWD, P("/box/fs/tmp/a"), AT_FDCWD, P("/box/fs/tmp/b"),
			       RENAME_EXCHANGE), -1);
	cr_assert_eq(errno, EINVAL);
	char *b = remote("/tmp/b", NULL);

	cr_assert_str_eq(b, "b\n");
	free(b);
}

Test(fsdir, a_change_inside_shows_within_the_ttl)
{
	cr_assert_eq(sh("ls $MNT/box/fs/tmp >/dev/null"), 0);
	cr_assert_eq(eput(id, "/tmp/later.txt", "later\n"), 200);
	usleep(1200 * 1000);
	char *b = slurp(P("/box/fs/tmp/later.txt"), NULL);

	cr_assert_not_null(b, "%s", strerror(errno));
	cr_assert_str_eq(b, "later\n");
	free(b);
}

Test(fsdir, a_file_being_written_shows_in_its_directory_with_its_size)
{
	char buf[5000];
	int fd;

	cr_assert_eq(sh("ls $MNT/box/fs/tmp >/dev/null"), 0);   /* a cached listing */
	fd = open(P("/box/fs/tmp/open.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	memset(buf, 'x', sizeof(buf));
	cr_assert_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	/* Not sent yet: the sandbox has no such file. */
	cr_assert_not(eexists(id, "/tmp/open.txt"));
	cr_assert_eq(sh("ls -l $MNT/box/fs/tmp | grep ' open.txt$' | awk '{print $5}' "
			"| grep -qx 5000"), 0);
	cr_assert_eq(sh("find $MNT/box/fs/tmp -maxdepth 1 -name open.txt -size 5000c | "
			"grep -q ."), 0);
	cr_assert_eq(close(fd), 0);
	cr_assert(eexists(id, "/tmp/open.txt"));
}

Test(fsdir, statfs_gives_the_sandboxs_disk_as_its_metrics_do)
{
	char path[128], *big = malloc(1 << 20);
	struct statvfs sv;
	json_t *m = NULL, *e;
	long long total, used;

	memset(big, 'z', 1 << 20);
	big[(1 << 20) - 1] = '\0';
	cr_assert_eq(eput(id, "/tmp/megabyte", big), 200);
	free(big);
	cr_assert_eq(statvfs(P("/box/fs/tmp"), &sv), 0, "%s", strerror(errno));
	snprintf(path, sizeof(path), "/sandboxes/%s/metrics", id);
	cr_assert_eq(rest("GET", path, NULL, &m), 200);
	cr_assert(json_is_array(m) && json_array_size(m) == 1);
	e = json_array_get(m, 0);
	total = json_integer_value(json_object_get(e, "diskTotal"));
	used = json_integer_value(json_object_get(e, "diskUsed"));
	json_decref(m);
	cr_assert_eq(total, 4096LL << 20);
	cr_assert_geq(used, 1 << 20, "used %lld", used);
	cr_assert_eq((long long)sv.f_blocks * (long long)sv.f_frsize, total);
	cr_assert_eq((long long)sv.f_bfree * (long long)sv.f_frsize, (total - used) / 4096 * 4096,
		     "free %llu blocks, metrics say %lld used", (unsigned long long)sv.f_bfree, used);
	/* df shows it too: 4 GiB in 1 KiB blocks. */
	cr_assert_eq(sh("df -k $MNT/box/fs | awk 'NR==2 {print $2}' | grep -qx 4194304"), 0);
	/* The mount's own directories still have no sizes. */
	cr_assert_eq(statvfs(P("/box"), &sv), 0);
	cr_assert_eq(sv.f_blocks, 0);
}

Test(fsdir, a_symlink_made_in_the_sandbox_reads_as_a_link)
{
	char buf[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (strcmp(fsfix_runtime(), "bwrap") != 0)
		cr_skip_test("no processes in the dir runtime to make a link with");
	cr_assert_eq(eput(id, "/home/user/a.txt", "target\n"), 200);
	cr_assert_eq(erun(id, "mkdir -p /tmp/d && ln -s a.txt /home/user/l && "
			  "ln -s /tmp/d /home/user/ld && ln -s /nowhere /home/user/dangling"), 200);
	cr_assert_eq(put(P("/.sbxfs/refresh"), "1"), 0);
	cr_assert_eq(lstat(P("/box/fs/home/user/l"), &st), 0, "%s", strerror(errno));
	cr_assert(S_ISLNK(st.st_mode));
	n = readlink(P("/box/fs/home/user/l"), buf, sizeof(buf) - 1);
	cr_assert_eq(n, 5);
	buf[n] = '\0';
	cr_assert_str_eq(buf, "a.txt");
	cr_assert_eq(st.st_size, 5);
	n = readlink(P("/box/fs/home/user/ld"), buf, sizeof(buf) - 1);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_assert_str_eq(buf, "../../tmp/d");
	cr_assert_eq(sh("ls -l $MNT/box/fs/home/user | grep -q ' l -> a.txt$'"), 0);
	cr_assert_eq(sh("ls -l $MNT/box/fs/home/user | grep -q ' dangling -> ../../nowhere$'"), 0);
	/* Followed by the kernel, inside fs/. */
	char *b = slurp(P("/box/fs/home/user/l"), NULL);

	cr_assert_not_null(b, "%s", strerror(errno));
	cr_assert_str_eq(b, "target\n");
	free(b);
	cr_assert_eq(stat(P("/box/fs/home/user/ld"), &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	/* rm takes the link, not what it points to. */
	cr_assert_eq(unlink(P("/box/fs/home/user/ld")), 0, "%s", strerror(errno));
	cr_assert_not(eexists(id, "/home/user/ld"));
	cr_assert(eexists(id, "/tmp/d"));
	/* envd has no call to make one. */
	cr_assert_eq(symlink("a.txt", P("/box/fs/home/user/l3")), -1);
	cr_assert_eq(errno, EPERM);
}

/* GET /files requests sbxd's envd has answered. */
static long gets(void)
{
	return stats("envd GET /files");
}

Test(fsdir, a_reread_of_an_unchanged_file_comes_from_the_page_cache)
{
	char *data = malloc(100001), *b;
	long before;
	size_t len;

	memset(data, 'a', 100000);
	data[100000] = '\0';
	cr_assert_eq(eput(id, "/tmp/pc.txt", data), 200);
	before = gets();
	b = slurp(P("/box/fs/tmp/pc.txt"), &len);
	cr_assert(b && len == 100000 && b[0] == 'a');
	free(b);
	cr_assert_eq(gets(), before + 1, "the first read: %ld GETs", gets() - before);
	b = slurp(P("/box/fs/tmp/pc.txt"), &len);
	cr_assert(b && len == 100000 && b[99999] == 'a');
	free(b);
	cr_assert_eq(gets(), before + 1, "the reread sent %ld more GETs", gets() - before - 1);
	/* Changed inside the sandbox, same size: the new mtime drops the pages. */
	usleep(20 * 1000);
	memset(data, 'b', 100000);
	cr_assert_eq(eput(id, "/tmp/pc.txt", data), 200);
	cr_assert_eq(put(P("/.sbxfs/refresh"), "1"), 0);
	b = slurp(P("/box/fs/tmp/pc.txt"), &len);
	cr_assert(b && len == 100000);
	cr_assert_eq(b[0], 'b');
	cr_assert_eq(b[99999], 'b');
	free(b);
	cr_assert_eq(gets(), before + 2);
	free(data);
}
