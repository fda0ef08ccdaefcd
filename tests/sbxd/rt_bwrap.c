/* The bwrap runtime on its own: real bubblewrap sandboxes, checked from the
 * host through /proc, the cgroup files and the file system.  Skips only
 * where bwrap cannot make namespaces. */
#include "rtutil.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct rt *rt;
static char state[64];

static struct rt *open_rt(enum rt_kind kind)
{
	struct rt_config cfg = { .kind = kind, .state_dir = state };
	char *err = NULL;
	struct rt *r = rt_new(&cfg, &err);

	cr_assert(r, "rt_new: %s", err ? err : "?");
	return r;
}

static void setup(void)
{
	rtu_require_bwrap();
	snprintf(state, sizeof(state), "/tmp/sbxd-rt-test-XXXXXX");
	cr_assert(mkdtemp(state));
	rt = open_rt(RT_BWRAP);
}

static void teardown(void)
{
	char cmd[128];

	rt_free(rt);
	rt = NULL;
	if (state[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
		cr_expect_eq(system(cmd), 0);
	}
}

TestSuite(rt_bwrap, .init = setup, .fini = teardown, .timeout = 60);

static void create(const char *id, const json_t *env)
{
	struct rt_box_spec spec = { .id = id, .template_id = "base", .cpu_count = 1,
				    .memory_mb = 128, .internet = true, .env_vars = env };
	char err[256];
	int rc = rt_create(rt, &spec, err, sizeof(err));

	cr_assert_eq(rc, 0, "rt_create: %d %s", rc, err);
}

Test(rt_bwrap, create_exec_destroy)
{
	json_t *env = json_pack("{s:s}", "GREETING", "hello");
	char out[4096], dir[256];

	create("box1", env);
	json_decref(env);
	snprintf(dir, sizeof(dir), "%s/sandboxes/box1", state);
	cr_expect(rtu_exists(dir));
	cr_expect_eq(rtu_sh(rt, "box1", NULL, "id -u; hostname; echo $GREETING; pwd", out,
			    sizeof(out)), 0);
	cr_expect_str_eq(out, "1000\nbox1\nhello\n/home/user\n");
	cr_expect_eq(rtu_sh(rt, "box1", "root", "id -u; echo $HOME", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "0\n/root\n");

	pid_t pids[64];
	int n = rtu_cg_pids("box1", pids, 64);
	cr_assert_gt(n, 0);
	for (int i = 0; i < n; i++) {
		long uid = rtu_host_uid(pids[i]);

		cr_expect(uid != 0, "sandbox process %d runs as the host's root", (int)pids[i]);
	}
	cr_assert_eq(rt_destroy(rt, "box1"), 0);
	for (int i = 0; i < n; i++) {
		char p[64];

		snprintf(p, sizeof(p), "/proc/%d", (int)pids[i]);
		cr_expect(!rtu_exists(p), "process %d survived the kill", (int)pids[i]);
	}
	cr_expect(!rtu_exists(dir), "the root survived the kill");
	cr_expect_eq(rt_destroy(rt, "box1"), -ENOENT);
}

Test(rt_bwrap, root_open_and_user_for_envd)
{
	char out[256];
	uid_t uid;
	gid_t gid;
	const char *home;

	create("box2", NULL);
	cr_assert_eq(rtu_sh(rt, "box2", NULL, "echo from-inside > /home/user/f; echo x > /tmp/t",
			    NULL, 0), 0);
	int root = rt_root_open(rt, "box2");
	cr_assert_geq(root, 0, "rt_root_open: %d", root);
	int fd = openat(root, "home/user/f", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "the sandbox's file is not under its root: %s", strerror(errno));
	ssize_t n = read(fd, out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	close(root);
	cr_expect_str_eq(out, "from-inside\n");
	cr_assert_eq(rt_user(rt, "box2", "user", &uid, &gid, &home), 0);
	cr_expect_str_eq(home, "/home/user");
	struct stat st;
	char path[256];
	snprintf(path, sizeof(path), "%s/sandboxes/box2/root/home/user/f", state);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_uid, uid, "user's files are owned by %u, rt_user says %u",
		     (unsigned)st.st_uid, (unsigned)uid);
	cr_expect_neq(uid, 0);
	cr_expect_eq(rt_user(rt, "box2", "nobody-else", &uid, &gid, &home), -ENOENT);
	cr_expect_eq(rt_root_open(rt, "nonexistent"), -ENOENT);
}

Test(rt_bwrap, pty_signal_and_exit_status)
{
	const char *sh[] = { "sh", "-c", "tty; stty size; exit 3", NULL };
	const char *sleeper[] = { "sleep", "100", NULL };
	struct rt_exec_spec spec = { .argv = sh, .pty = true, .cols = 77, .rows = 11 };
	struct rt_proc *p;
	char err[256], out[512] = "";
	size_t got = 0;
	int st = -1;

	create("box3", NULL);
	cr_assert_eq(rt_exec(rt, "box3", &spec, &p, err, sizeof(err)), 0, "%s", err);
	cr_expect_lt(rt_proc_stdout(p), 0);
	cr_assert_geq(rt_proc_pty(p), 0);
	for (int i = 0; i < 200; i++) {
		ssize_t n = read(rt_proc_pty(p), out + got, sizeof(out) - 1 - got);

		got += n > 0 ? (size_t)n : 0;
		out[got] = '\0';
		/* Done once it exited and the pty is drained. */
		if (n <= 0 && rt_proc_status(p, &st) == 0)
			break;
		if (n <= 0)
			usleep(10000);
	}
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 3, "status %d", st);
	cr_expect(strstr(out, "/dev/pts/") != NULL, "no tty: %s", out);
	cr_expect(strstr(out, "11 77") != NULL, "no size: %s", out);
	rt_proc_free(p);

	spec = (struct rt_exec_spec){ .argv = sleeper };
	cr_assert_eq(rt_exec(rt, "box3", &spec, &p, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rt_proc_status(p, &st), -EAGAIN);
	cr_assert_eq(rt_proc_signal(p, SIGTERM), 0);
	for (int i = 0; i < 200 && rt_proc_status(p, &st) == -EAGAIN; i++)
		usleep(10000);
	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "status %d", st);
	rt_proc_free(p);

	const char *missing[] = { "no-such-program", NULL };
	spec = (struct rt_exec_spec){ .argv = missing };
	cr_expect_eq(rt_exec(rt, "box3", &spec, &p, err, sizeof(err)), -ENOENT);
}

Test(rt_bwrap, the_dir_runtime_runs_nothing)
{
	struct rt *dir = open_rt(RT_DIR);
	struct rt_box_spec spec = { .id = "d1", .template_id = "base" };
	const char *argv[] = { "true", NULL };
	struct rt_exec_spec ex = { .argv = argv };
	struct rt_proc *p;
	char err[256], path[256];

	cr_assert_eq(rt_create(dir, &spec, err, sizeof(err)), 0, "%s", err);
	snprintf(path, sizeof(path), "%s/sandboxes/d1/root/home/user", state);
	cr_expect(rtu_exists(path));
	cr_expect_eq(rt_exec(dir, "d1", &ex, &p, err, sizeof(err)), -EOPNOTSUPP);
	cr_expect(strstr(err, "no processes") != NULL, "%s", err);
	int fd = rt_root_open(dir, "d1");
	cr_expect_geq(fd, 0);
	if (fd >= 0)
		close(fd);
	cr_expect_eq(rt_freeze(dir, "d1"), 0);
	cr_expect_eq(rt_destroy(dir, "d1"), 0);
	snprintf(path, sizeof(path), "%s/sandboxes/d1", state);
	cr_expect(!rtu_exists(path));
	rt_free(dir);
}

/* sbxd not root: bubblewrap maps the one uid it has to `user`; `root` is
 * uid 0 of a user namespace of the process's own over it.  The test drops
 * to an unprivileged uid (Criterion runs each test in a process of its
 * own, so nothing else runs as it). */
Test(rt_bwrap, not_root_user_is_mapped_and_root_is_nested)
{
	uid_t me = 1900000 + (uid_t)(getpid() % 1000);
	char out[512], path[320], err[256];
	struct stat st;

	rt_free(rt);
	rt = NULL;
	snprintf(path, sizeof(path), "%s/sandboxes", state);
	cr_assert_eq(rmdir(path), 0, "%s: %s", path, strerror(errno));  /* root's */
	cr_assert_eq(chown(state, me, me), 0);
	cr_assert(setgroups(0, NULL) == 0 && setresgid(me, me, me) == 0 &&
		  setresuid(me, me, me) == 0, "cannot drop to uid %u", (unsigned)me);
	rt = open_rt(RT_BWRAP);
	struct rt_box_spec spec = { .id = "nr1", .template_id = "base", .cpu_count = 1 };
	int rc = rt_create(rt, &spec, err, sizeof(err));
	if (rc == -EIO && strstr(err, "user namespace"))
		cr_skip("bwrap cannot make a user namespace unprivileged here: %s", err);
	cr_assert_eq(rc, 0, "rt_create as uid %u: %d %s", (unsigned)me, rc, err);

	cr_expect_eq(rtu_sh(rt, "nr1", NULL, "id -u; echo $HOME", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "1000\n/home/user\n");
	cr_expect_eq(rtu_sh(rt, "nr1", "root", "id -u; id -g; echo $HOME; echo r > /root/r;"
			    " ls -n /root/r | cut -c1-17", out, sizeof(out)), 0, "%s", out);
	cr_expect_str_eq(out, "0\n0\n/root\n-rw-r--r-- 1 0 0 \n");
	/* On the host, both are sbxd's own uid: never more. */
	snprintf(path, sizeof(path), "%s/sandboxes/nr1/root/root/r", state);
	cr_assert_eq(stat(path, &st), 0, "%s", path);
	cr_expect_eq(st.st_uid, me);
	uid_t uid;
	gid_t gid;
	const char *home;
	cr_assert_eq(rt_user(rt, "nr1", "root", &uid, &gid, &home), 0);
	cr_expect_eq(uid, me);
	cr_expect_str_eq(home, "/root");
	cr_expect_eq(rt_destroy(rt, "nr1"), 0);

	/* A rootfs template: a copy (no overlay without root), its files
	 * sbxd's uid's, so root inside may change them; the image stays. */
	json_t *info = rt_info(rt);
	cr_expect_str_eq(json_string_value(json_object_get(info, "rootfs")), "copy");
	json_decref(info);
	snprintf(path, sizeof(path), "%s/image", state);
	rtu_make_image(path);
	spec = (struct rt_box_spec){ .id = "nr2", .template_id = "img", .rootfs = path };
	cr_assert_eq(rt_create(rt, &spec, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rtu_sh(rt, "nr2", "root", "cat /etc/os-release; echo new > /etc/os-release",
			    out, sizeof(out)), 0);
	cr_expect_str_eq(out, "ID=sbxd-test-image\n");
	cr_expect_eq(rtu_sh(rt, "nr2", NULL, "cat /etc/os-release", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "new\n");
	snprintf(path, sizeof(path), "%s/image/etc/os-release", state);
	FILE *f = fopen(path, "re");
	cr_assert(f && fgets(out, sizeof(out), f));
	fclose(f);
	cr_expect_str_eq(out, "ID=sbxd-test-image\n", "a write inside reached the image");
	cr_expect_eq(rt_destroy(rt, "nr2"), 0);
	snprintf(path, sizeof(path), "%s/sandboxes/nr2", state);
	cr_expect(!rtu_exists(path), "the copy survived the kill");
}
