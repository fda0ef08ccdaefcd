/* A bwrap sandbox's contacts with the host: its outbound network (and the
 * host loopback it must not reach), and what is left when sbxd is killed
 * with SIGKILL in the middle of creates.  Skips only where bubblewrap, or
 * for the network test the user-mode stack or the test's own network
 * namespace, cannot work.
 *
 * The network test runs sbxd in a network namespace of its own with a
 * veth address standing in for the host's non-loopback address, so every
 * packet stays inside namespaces the test made. */
#include "httputil.h"
#include "rtutil.h"

#include "common/clock.h"
#include "http/server.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOST_ADDR "10.250.0.1"  /* the test namespace's "host" address */

static char state[64];

static void setup(void)
{
	rtu_require_bwrap();
	snprintf(state, sizeof(state), "/tmp/sbxd-rthost-XXXXXX");
	cr_assert(mkdtemp(state));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(rthost, .init = setup, .fini = teardown, .timeout = 60);

/* ---- network ------------------------------------------------------------ */

/* This test process (Criterion runs each test in its own) moves to a new
 * network namespace: lo up, a veth pair, HOST_ADDR on one end and a
 * default route through it, as a machine with one interface has. */
static void own_netns(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		cr_skip("cannot make a network namespace: %s", strerror(errno));
	if (system("ip link set lo up && ip link add sbxt0 type veth peer name sbxt1 &&"
		   " ip addr add " HOST_ADDR "/24 dev sbxt0 && ip link set sbxt0 up &&"
		   " ip link set sbxt1 up && ip route add default dev sbxt0") != 0)
		cr_skip("cannot set up the test's network namespace (ip, veth)");
}

/* A listener on HOST_ADDR; its port into *port. */
static int listen_host(unsigned short *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	inet_pton(AF_INET, HOST_ADDR, &a.sin_addr);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		  listen(fd, 8) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0,
		  "listener: %s", strerror(errno));
	*port = ntohs(a.sin_port);
	return fd;
}

/* How many connections the listener took (waiting at most wait_ms for one). */
static int accepted(int fd, int wait_ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int n = 0, c;

	poll(&p, 1, wait_ms);
	while ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		close(c);
		n++;
	}
	return n;
}

static const char *network_of(struct tsrv *t)
{
	static char name[32];
	struct resp r;

	http(t, "GET", "/sbxd/stats", TEST_KEY, NULL, &r);
	json_t *o = json_loads(r.body, 0, NULL);
	resp_free(&r);
	snprintf(name, sizeof(name), "%s", json_string_value(json_object_get(
		json_object_get(o, "runtime"), "network")) ?: "?");
	json_decref(o);
	return name;
}

/* Runs a bash script in sandbox id; its stdout into out. */
static int bash(struct tsrv *t, const char *id, const char *script, char *out, size_t len)
{
	const char *argv[] = { "bash", "-c", script, NULL };

	return rtu_run(t->s->rt, id, NULL, argv, out, len, 20000);
}

Test(rthost, outbound_network_reaches_the_host_but_never_its_loopback)
{
	struct sbxd_config cfg = { .state_dir = state, .runtime = "bwrap" };
	struct tsrv t;
	char on[21], off[21], script[512], out[1024];
	unsigned short port;

	own_netns();
	tsrv_start(&t, &cfg);
	const char *net = network_of(&t);
	if (strcmp(net, "none") == 0) {
		tsrv_stop(&t);
		cr_skip("neither pasta nor slirp4netns can run here (stats: network none)");
	}
	cr_expect(strcmp(net, "pasta") == 0 || strcmp(net, "slirp4netns") == 0, "%s", net);
	int lfd = listen_host(&port);

	create_sandbox(&t, "{\"templateID\":\"base\"}", on);
	snprintf(script, sizeof(script), "exec 3<>/dev/tcp/%s/%u && echo CONNECTED", HOST_ADDR,
		 port);
	cr_expect_eq(bash(&t, on, script, out, sizeof(out)), 0, "%s", out);
	cr_expect_str_eq(out, "CONNECTED\n");
	cr_expect_eq(accepted(lfd, 2000), 1, "the host's listener saw no connection");
	/* sbxd listens on the loopback: neither 127.0.0.1 (the sandbox's own)
	 * nor the gateway (a user-mode stack's way to the host's) reaches it. */
	snprintf(script, sizeof(script), "gw=$(ip route | awk '/^default/ {print $3}');"
		 " echo gw=$gw; for a in 127.0.0.1 $gw; do timeout 5 bash -c"
		 " \"exec 3<>/dev/tcp/$a/%u\" 2>/dev/null && echo REACHED $a; done; true",
		 sbxd_port(t.s));
	cr_expect_eq(bash(&t, on, script, out, sizeof(out)), 0);
	cr_expect(strncmp(out, "gw=", 3) == 0 && strlen(out) > 4, "no default route: %s", out);
	cr_expect_eq(strstr(out, "REACHED"), NULL, "a sandbox reached sbxd: %s", out);

	create_sandbox(&t, "{\"templateID\":\"base\",\"allow_internet_access\":false}", off);
	snprintf(script, sizeof(script), "ip route; ip -o link | grep -v ' lo:';"
		 " exec 3<>/dev/tcp/%s/%u && echo CONNECTED", HOST_ADDR, port);
	cr_expect_neq(bash(&t, off, script, out, sizeof(out)), 0);
	cr_expect_str_eq(out, "", "an offline sandbox has a route or a link: %s", out);
	cr_expect_eq(accepted(lfd, 200), 0, "an offline sandbox reached the host");
	close(lfd);
	tsrv_stop(&t);
	cr_expect_eq(tsrv_complaints(), 0, "sbxd logged errors or warnings");
}

/* ---- sbxd killed mid-create ---------------------------------------------- */

struct firer {
	struct tsrv t;
	volatile bool *stop;
	int created;
};

static void *fire(void *arg)
{
	struct firer *f = arg;
	struct resp r;

	while (!*f->stop) {
		http(&f->t, "POST", "/sandboxes", TEST_KEY, "{\"templateID\":\"base\"}", &r);
		f->created += r.status == 201;
		bool down = r.status == 0;
		resp_free(&r);
		if (down)
			break;
	}
	return NULL;
}

/* The live processes left of sbxd `pgrp` (its process group: launchers,
 * bwrap monitors, network stacks) or with a host uid in [lo, hi); SIGKILL
 * to each with end_them. */
static int leftovers(pid_t pgrp, unsigned lo, unsigned hi, bool end_them, char *what,
		     size_t len)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	what[0] = '\0';
	while (d && (e = readdir(d))) {
		char path[64], buf[512];
		int pid = atoi(e->d_name), grp = 0;
		char st = 'Z';
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if (!(f = fopen(path, "re")))
			continue;
		size_t got = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[got] = '\0';
		char *p = strrchr(buf, ')');
		long uid = rtu_host_uid(pid);
		/* A zombie is dead already (this machine's PID 1 may not reap). */
		if (!p || sscanf(p + 2, "%c %*d %d", &st, &grp) != 2 || st == 'Z')
			continue;
		if (grp == pgrp || (uid >= (long)lo && uid < (long)hi)) {
			size_t used = strlen(what);

			char wchan[64] = "?";
			snprintf(path, sizeof(path), "/proc/%d/wchan", pid);
			if ((f = fopen(path, "re"))) {
				size_t w = fread(wchan, 1, sizeof(wchan) - 1, f);

				wchan[w] = '\0';
				fclose(f);
			}
			snprintf(what + used, len - used, " %d(uid %ld, %.40s, in %s)", pid, uid,
				 strchr(buf, '('), wchan);
			if (end_them)
				kill(pid, SIGKILL);
			n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}

/* sbxd in a process group of its own; as uid `base` when not as_root. */
static pid_t spawn_sbxd(unsigned base, const char *ready, bool as_root)
{
	char uid[16], errfile[128];
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid > 0)
		return pid;
	snprintf(uid, sizeof(uid), "%u", base);
	snprintf(errfile, sizeof(errfile), "%s/stderr", state);
	setpgid(0, 0);
	int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dup2(fd, 2), dup2(fd, 1);
	setenv("SBXD_API_KEY", TEST_KEY, 1);
	setenv("TMPDIR", state, 1);     /* its private roots, which its death leaves */
	if (!as_root && (setgroups(0, NULL) < 0 || setresgid(base, base, base) < 0 ||
			 setresuid(base, base, base) < 0))
		_exit(126);
	execl(getenv("SBXD_BIN"), "sbxd", "--listen", "127.0.0.1:0", "--ready-file", ready,
	      "--runtime", "bwrap", "--sandbox-uid", uid, "--log-level", "error", (char *)NULL);
	_exit(127);
}

/* Starts sbxd, keeps four clients creating, kills sbxd with SIGKILL amid
 * them and waits (bounded) until nothing of it is left. */
static void kill_mid_create(bool as_root)
{
	/* A uid range of this test's own, so other sbxd's sandboxes on the
	 * machine do not count. */
	unsigned base = 2000000000u + (unsigned)(getpid() % 1000) * 65536u;
	char ready[128], what[4096] = "";
	struct firer f[4];
	pthread_t th[4];
	volatile bool stop = false;
	int port = 0, left = -1;

	cr_assert(getenv("SBXD_BIN"), "SBXD_BIN not set");
	snprintf(ready, sizeof(ready), "%s/ready", state);
	cr_assert_eq(chmod(state, 0777), 0);        /* for the ready file */
	pid_t pid = spawn_sbxd(base, ready, as_root);
	for (int i = 0; i < 250 && port <= 0; i++) {
		FILE *r = fopen(ready, "re");

		if (!r || fscanf(r, "%d", &port) != 1)
			clock_sleep_ms(20);
		if (r)
			fclose(r);
	}
	cr_assert_gt(port, 0, "sbxd never became ready");
	for (int i = 0; i < 4; i++) {
		f[i] = (struct firer){ .stop = &stop };
		snprintf(f[i].t.base, sizeof(f[i].t.base), "http://127.0.0.1:%d", port);
		cr_assert_eq(pthread_create(&th[i], NULL, fire, &f[i]), 0);
	}
	/* Four clients keep creates in flight; kill once some succeeded, so
	 * sandboxes run and others are half made. */
	for (int i = 0; i < 200 && f[0].created + f[1].created < 2; i++)
		clock_sleep_ms(10);
	clock_sleep_ms(37);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	stop = true;
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	/* Bounded: the death signals and init's closed control socket act at
	 * once; 5 s is for a loaded machine. */
	for (int i = 0; i < 100 && (left = leftovers(pid, base, base + 65536, false, what,
							 sizeof(what))) > 0; i++)
		clock_sleep_ms(50);
	cr_expect_eq(left, 0, "left after sbxd's death:%s", what);
	cr_expect_gt(f[0].created + f[1].created + f[2].created + f[3].created, 0);
	if (left > 0)       /* not for the next tests */
		leftovers(pid, base, base + 65536, true, what, sizeof(what));
}

Test(rthost, sbxd_killed_mid_create_leaves_no_process)
{
	kill_mid_create(true);
}

/* Not root: bwrap writes its own maps, its child waits only for that. */
Test(rthost, unprivileged_sbxd_killed_mid_create_leaves_no_process)
{
	kill_mid_create(false);
}
