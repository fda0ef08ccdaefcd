/* The bwrap runtime on its own: real bubblewrap sandboxes, checked from the
 * host through /proc, the cgroup files and the file system.  Skips only
 * where bwrap cannot make namespaces. */
#include "rtutil.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
