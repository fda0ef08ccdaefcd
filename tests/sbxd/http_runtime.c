/* sbxd with --runtime bwrap, in-process, driven over HTTP; processes are
 * started through the runtime itself (rt_exec on the server's runtime,
 * the internal hook until envd's process API drives it).  Every effect is
 * checked from the host: /proc, the cgroup files, the state dir.  Skips
 * only where bwrap cannot make namespaces. */
#include "httputil.h"
#include "rtutil.h"

#include "common/clock.h"
#include "http/server.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct tsrv t;
static char state[64];

static void start(const char *runtime, unsigned max)
{
	struct sbxd_config cfg = { .state_dir = state, .runtime = runtime,
				   .max_sandboxes = max };

	tsrv_start(&t, &cfg);
}

static void setup(void)
{
	rtu_require_bwrap();
	snprintf(state, sizeof(state), "/tmp/sbxd-rth-XXXXXX");
	cr_assert(mkdtemp(state));
	start("bwrap", 0);
}

static void teardown(void)
{
	char cmd[128];

	if (t.s)
		tsrv_stop(&t);
	if (state[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
		cr_expect_eq(system(cmd), 0);
	}
	cr_expect_eq(tsrv_complaints(), 0, "sbxd logged errors or warnings");
}

TestSuite(runtime, .init = setup, .fini = teardown, .timeout = 90);

static struct rt *rt(void)
{
	return t.s->rt;
}

static void root_dir(const char *id, char *out, size_t len)
{
	snprintf(out, len, "%s/sandboxes/%s", state, id);
}

static void status_of(const char *method, const char *path, const char *body, long want)
{
	struct resp r;

	http(&t, method, path, TEST_KEY, body, &r);
	cr_expect_eq(r.status, want, "%s %s: %ld %s", method, path, r.status, r.body);
	resp_free(&r);
}

Test(runtime, create_kill_leaves_no_process_no_directory)
{
	char id[21], dir[256], path[320];
	pid_t pids[64];

	create_sandbox(&t, "{\"templateID\":\"base\"}", id);
	root_dir(id, dir, sizeof(dir));
	cr_expect(rtu_exists(dir));
	int n = rtu_cg_pids(id, pids, 64);
	cr_assert_gt(n, 0, "no process in the sandbox's cgroup");
	for (int i = 0; i < n; i++)
		cr_expect_neq(rtu_host_uid(pids[i]), 0, "pid %d is the host's root", (int)pids[i]);
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	status_of("DELETE", path, NULL, 204);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d", (int)pids[i]);
		cr_expect(!rtu_exists(path), "pid %d survived the kill", (int)pids[i]);
	}
	cr_expect(!rtu_exists(dir), "%s survived the kill", dir);
	cr_expect_eq(rtu_cg_pids(id, pids, 64), -1, "the cgroup survived the kill");
}

/* Sum of CPU ticks of every process of the sandbox. */
static long sandbox_ticks(const char *id)
{
	pid_t pids[64];
	int n = rtu_cg_pids(id, pids, 64);
	long sum = 0;

	for (int i = 0; i < n; i++) {
		long v = rtu_cpu_ticks(pids[i]);

		sum += v > 0 ? v : 0;
	}
	return sum;
}

Test(runtime, pause_stops_a_busy_loop_and_resume_continues_it)
{
	const char *argv[] = { "sh", "-c", "while :; do :; done", NULL };
	struct rt_exec_spec spec = { .argv = argv };
	struct rt_proc *p;
	char id[21], err[256], path[128];

	create_sandbox(&t, "{\"templateID\":\"base\"}", id);
	cr_assert_eq(rt_exec(rt(), id, &spec, &p, err, sizeof(err)), 0, "%s", err);
	long before = sandbox_ticks(id);
	/* Other tests may load the CPUs: wait until the loop got some. */
	for (int i = 0; i < 100 && sandbox_ticks(id) <= before + 5; i++)
		clock_sleep_ms(50);
	snprintf(path, sizeof(path), "/sandboxes/%s/pause", id);
	status_of("POST", path, NULL, 204);
	long paused = sandbox_ticks(id);
	cr_expect_gt(paused, before, "the loop did not run before the pause");
	clock_sleep_ms(500);
	cr_expect_eq(sandbox_ticks(id), paused, "CPU time advanced while paused");
	snprintf(path, sizeof(path), "/sandboxes/%s/resume", id);
	status_of("POST", path, "{}", 201);
	for (int i = 0; i < 100 && sandbox_ticks(id) <= paused; i++)
		clock_sleep_ms(50);
	cr_expect_gt(sandbox_ticks(id), paused, "the loop did not continue after resume");
	rt_proc_free(p);
}

/* One metrics entry of sandbox id, as GET /sandboxes/{id}/metrics gives. */
static json_t *metrics_of(const char *id)
{
	char path[128];
	struct resp r;

	snprintf(path, sizeof(path), "/sandboxes/%s/metrics", id);
	http(&t, "GET", path, TEST_KEY, NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *arr = json_loads(r.body, 0, NULL);
	resp_free(&r);
	cr_assert(json_is_array(arr) && json_array_size(arr) == 1);
	json_t *m = json_incref(json_array_get(arr, 0));
	json_decref(arr);
	return m;
}

Test(runtime, metrics_count_cpu_and_memory_from_the_cgroup)
{
	const char *argv[] = { "sh", "-c", "while :; do :; done", NULL };
	struct rt_exec_spec spec = { .argv = argv };
	struct rt_proc *p;
	char id[21], err[256], cg[256], val[64];

	create_sandbox(&t, "{\"templateID\":\"base\"}", id);
	cr_assert_eq(rt_exec(rt(), id, &spec, &p, err, sizeof(err)), 0, "%s", err);
	json_decref(metrics_of(id));      /* the share is counted from here */
	long before = sandbox_ticks(id);
	for (int i = 0; i < 100 && sandbox_ticks(id) <= before + 50; i++)
		clock_sleep_ms(50);
	json_t *m = metrics_of(id);
	double pct = json_number_value(json_object_get(m, "cpuUsedPct"));
	json_int_t mem = json_integer_value(json_object_get(m, "memUsed"));

	cr_expect(pct > 1.0 && pct <= 100.0, "cpuUsedPct %.1f with a busy loop", pct);
	cr_expect_gt(mem, 0, "memUsed of a running sandbox");
	/* The memory figure is the cgroup's own, read here independently. */
	if (rtu_cg_file(id, "memory", "memory.usage_in_bytes", cg, sizeof(cg)) ||
	    rtu_cg_file(id, "memory", "memory.current", cg, sizeof(cg))) {
		FILE *f = fopen(cg, "r");

		cr_assert(f && fgets(val, sizeof(val), f), "%s", cg);
		fclose(f);
		long long now = atoll(val);
		cr_expect(mem > now / 4 && mem < now * 4, "memUsed %lld, cgroup %lld",
			  (long long)mem, now);
	}
	json_decref(m);
	rt_proc_free(p);
}

/* Waits (bounded) until the sandbox's cgroup is gone or frozen. */
static bool wait_for(const char *id, bool frozen)
{
	char file[256], st[32] = "";

	for (int i = 0; i < 100; i++) {
		if (!frozen && rtu_cg_pids(id, (pid_t[1]){ 0 }, 1) < 0)
			return true;
		if (frozen && rtu_cg_file(id, "freezer", "freezer.state", file, sizeof(file))) {
			FILE *f = fopen(file, "re");

			if (f && fgets(st, sizeof(st), f) && strncmp(st, "FROZEN", 6) == 0) {
				fclose(f);
				return true;
			}
			if (f)
				fclose(f);
		}
		clock_sleep_ms(100);
	}
	return false;
}

Test(runtime, expiry_kills_or_pauses)
{
	char killed[21], paused[21], dir[256];

	create_sandbox(&t, "{\"templateID\":\"base\",\"timeout\":1}", killed);
	create_sandbox(&t, "{\"templateID\":\"base\",\"timeout\":1,\"autoPause\":true}", paused);
	cr_expect(wait_for(killed, false), "expiry left the processes of %s", killed);
	root_dir(killed, dir, sizeof(dir));
	for (int i = 0; i < 50 && rtu_exists(dir); i++)
		clock_sleep_ms(100);
	cr_expect(!rtu_exists(dir), "expiry left the root of %s", killed);
	cr_expect(wait_for(paused, true), "expiry did not freeze %s", paused);
	root_dir(paused, dir, sizeof(dir));
	cr_expect(rtu_exists(dir), "a paused sandbox keeps its root");
}

Test(runtime, sandboxes_are_isolated)
{
	char a[21], b[21], out[4096], script[512], secret[64];
	FILE *f;

	create_sandbox(&t, "{\"templateID\":\"base\"}", a);
	create_sandbox(&t, "{\"templateID\":\"base\"}", b);
	cr_assert_eq(rtu_sh(rt(), a, NULL, "echo mine > /home/user/a-secret", NULL, 0), 0);
	cr_expect_eq(rtu_sh(rt(), b, NULL, "ls -A /home/user", out, sizeof(out)), 0);
	cr_expect_eq(strstr(out, "a-secret"), NULL, "b sees a's file: %s", out);
	/* The host's /root and sbxd's state dir are not there, even for root. */
	snprintf(secret, sizeof(secret), "/root/.sbxd-test-%d", (int)getpid());
	cr_assert((f = fopen(secret, "we")));
	fclose(f);
	snprintf(script, sizeof(script), "test -e %s && echo HOSTROOT; test -e %s && echo STATE;"
		 " ls /tmp /var/tmp", secret, state);
	cr_expect_eq(rtu_sh(rt(), a, "root", script, out, sizeof(out)), 0);
	unlink(secret);
	cr_expect_eq(strstr(out, "HOSTROOT"), NULL, "the host's /root is visible");
	cr_expect_eq(strstr(out, "STATE"), NULL, "the state dir is visible");
	/* sbxd's own port on the loopback is out of reach. */
	snprintf(script, sizeof(script), "exec 3<>/dev/tcp/127.0.0.1/%u && echo CONNECTED",
		 sbxd_port(t.s));
	const char *argv[] = { "bash", "-c", script, NULL };
	int st = rtu_run(rt(), a, NULL, argv, out, sizeof(out), 20000);
	cr_expect(st > 0 && strstr(out, "CONNECTED") == NULL, "reached sbxd: %d %s", st, out);
}

static void expect_serving(void)
{
	char id[21], out[64];

	status_of("GET", "/health", NULL, 200);
	create_sandbox(&t, "{\"templateID\":\"base\"}", id);
	cr_expect_eq(rtu_sh(rt(), id, NULL, "echo ok", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "ok\n");
}

/* How many forks the sandbox's pids limit refused ("max N" of pids.events). */
static long refused_forks(const char *id)
{
	char file[256], line[128];
	long n = 0;
	FILE *f;

	if (!rtu_cg_file(id, "pids", "pids.events", file, sizeof(file)) || !(f = fopen(file, "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "max %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Restarts sbxd with template "small": one CPU (its quota, and 256
 * processes), 128 MB, so a bomb or a hog stays small and quick and leaves
 * the other CPU to the rest of the suite. */
static void start_small(void)
{
	char tpl[128];
	FILE *f;

	tsrv_stop(&t);
	snprintf(tpl, sizeof(tpl), "%s/templates.json", state);
	cr_assert((f = fopen(tpl, "we")));
	fputs("[{\"templateID\":\"small\",\"cpuCount\":1,\"memoryMB\":128}]", f);
	fclose(f);
	struct sbxd_config cfg = { .state_dir = state, .runtime = "bwrap", .templates_file = tpl };
	tsrv_start(&t, &cfg);
}

Test(runtime, a_fork_bomb_hits_the_process_limit)
{
	const char *argv[] = { "bash", "-c", "f() { f | f & }; f; sleep 30", NULL };
	struct rt_exec_spec spec = { .argv = argv };
	struct rt_proc *p;
	char id[21], err[256], file[256], line[64] = "";
	pid_t pids[4096];
	int most = 0;

	start_small();
	create_sandbox(&t, "{\"templateID\":\"small\"}", id);
	cr_assert_eq(rt_exec(rt(), id, &spec, &p, err, sizeof(err)), 0, "%s", err);
	/* Until the limit refused forks (bounded: a loaded machine is slow). */
	for (int i = 0; i < 300 && refused_forks(id) <= 0; i++) {
		int n = rtu_cg_pids(id, pids, 4096);

		most = n > most ? n : most;
		clock_sleep_ms(100);
	}
	cr_expect_gt(refused_forks(id), 0, "the bomb never hit pids.max (%d processes)", most);
	cr_assert(rtu_cg_file(id, "pids", "pids.max", file, sizeof(file)));
	FILE *f = fopen(file, "re");
	cr_assert(f && fgets(line, sizeof(line), f));
	fclose(f);
	int n = rtu_cg_pids(id, pids, 4096);
	cr_expect_leq(n > most ? n : most, atoi(line), "over pids.max %s", line);
	expect_serving();
	rt_proc_free(p);
	char path[64];
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	status_of("DELETE", path, NULL, 204);
	cr_expect_eq(rtu_cg_pids(id, pids, 1), -1);
}

Test(runtime, a_memory_hog_hits_the_memory_limit)
{
	const char *argv[] = { "sh", "-c", "head -c 400m /dev/zero | tail", NULL };
	char id[21];

	start_small();
	create_sandbox(&t, "{\"templateID\":\"small\"}", id);
	int st = rtu_run(rt(), id, NULL, argv, NULL, 0, 120000);
	cr_expect(st > 0, "the hog ended with %d", st);
	expect_serving();
}

Test(runtime, restart_keeps_files_and_paused_stays_paused)
{
	char run[21], nap[21], out[128], path[128];

	create_sandbox(&t, "{\"templateID\":\"base\"}", run);
	create_sandbox(&t, "{\"templateID\":\"base\"}", nap);
	cr_assert_eq(rtu_sh(rt(), run, NULL, "echo kept > /home/user/f", NULL, 0), 0);
	snprintf(path, sizeof(path), "/sandboxes/%s/pause", nap);
	status_of("POST", path, NULL, 204);
	tsrv_stop(&t);
	cr_expect_eq(rtu_cg_pids(run, (pid_t[1]){ 0 }, 1), -1, "processes outlived sbxd");
	start("bwrap", 0);
	cr_expect_eq(rtu_sh(rt(), run, NULL, "cat /home/user/f", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "kept\n");
	cr_expect(wait_for(nap, true), "the paused sandbox came back running");
}

Test(runtime, bad_templates_and_the_limit)
{
	char tpl[128], empty[128], body[256];
	struct resp r;
	FILE *f;

	tsrv_stop(&t);
	snprintf(empty, sizeof(empty), "%s/empty-rootfs", state);
	cr_assert_eq(mkdir(empty, 0755), 0);
	snprintf(tpl, sizeof(tpl), "%s/templates.json", state);
	cr_assert((f = fopen(tpl, "we")));
	fprintf(f, "[{\"templateID\":\"gone\",\"rootfs\":\"/nonexistent/rootfs\"},"
		"{\"templateID\":\"empty\",\"rootfs\":\"%s\"}]", empty);
	fclose(f);
	struct sbxd_config cfg = { .state_dir = state, .runtime = "bwrap", .max_sandboxes = 1,
				   .templates_file = tpl };
	tsrv_start(&t, &cfg);
	status_of("POST", "/sandboxes", "{\"templateID\":\"gone\"}", 400);
	/* An empty rootfs has no loader for init: bwrap fails, says why. */
	http(&t, "POST", "/sandboxes", TEST_KEY, "{\"templateID\":\"empty\"}", &r);
	cr_expect_eq(r.status, 500, "%s", r.body);
	cr_expect(strstr(r.body, "bwrap") != NULL, "no reason in %s", r.body);
	resp_free(&r);
	snprintf(body, sizeof(body), "%s/sandboxes", state);
	cr_expect_eq(system("true"), 0);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\"", body);
	cr_expect_eq(system(cmd), 0, "a failed create left a root behind");
	http(&t, "GET", "/sandboxes", TEST_KEY, NULL, &r);
	cr_expect_str_eq(r.body, "[]");
	resp_free(&r);
	char id[21];
	create_sandbox(&t, "{\"templateID\":\"base\"}", id);
	status_of("POST", "/sandboxes", "{\"templateID\":\"base\"}", 429);
}

static bool mounted_at(const char *path, const char *type)
{
	char line[4096], want[512];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	snprintf(want, sizeof(want), " %s ", path);
	while (f && !found && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		found = strstr(line, want) && sep && strncmp(sep + 3, type, strlen(type)) == 0;
	}
	if (f)
		fclose(f);
	return found;
}

static char *file_text(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n = f ? fread(out, 1, len - 1, f) : 0;

	out[n] = '\0';
	if (f)
		fclose(f);
	return out;
}

Test(runtime, a_rootfs_template_is_read_only_below_a_private_layer)
{
	char image[128], tpl[160], a[21], b[21], out[1024], path[320], dir[256];
	struct resp r;
	FILE *f;

	tsrv_stop(&t);
	snprintf(image, sizeof(image), "%s/image", state);
	rtu_make_image(image);
	snprintf(tpl, sizeof(tpl), "%s/templates.json", state);
	cr_assert((f = fopen(tpl, "we")));
	fprintf(f, "[{\"templateID\":\"img\",\"rootfs\":\"%s\"}]", image);
	fclose(f);
	struct sbxd_config cfg = { .state_dir = state, .runtime = "bwrap", .templates_file = tpl };
	tsrv_start(&t, &cfg);
	http(&t, "GET", "/sbxd/stats", TEST_KEY, NULL, &r);
	json_t *stats = json_loads(r.body, 0, NULL);
	resp_free(&r);
	const char *mode = json_string_value(json_object_get(json_object_get(stats, "runtime"),
							     "rootfs"));
	cr_assert(mode && (strcmp(mode, "overlay") == 0 || strcmp(mode, "copy") == 0),
		  "stats say rootfs %s", mode ? mode : "(none)");
	cr_expect_str_eq(mode, geteuid() == 0 ? "overlay" : "copy");

	create_sandbox(&t, "{\"templateID\":\"img\"}", a);
	create_sandbox(&t, "{\"templateID\":\"img\"}", b);
	root_dir(a, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/root", dir);
	cr_expect_eq(mounted_at(path, "overlay"), strcmp(mode, "overlay") == 0,
		     "stats say %s, the mount table disagrees", mode);
	cr_expect_eq(rtu_sh(rt(), a, NULL, "cat /etc/os-release; echo u > /home/user/f", out,
			    sizeof(out)), 0);
	cr_expect_str_eq(out, "ID=sbxd-test-image\n");
	/* The image's files are root's inside (an idmapped lower layer or
	 * shifted copy): the sandbox's root may change them, in its layer. */
	cr_expect_eq(rtu_sh(rt(), a, "root", "set -- $(ls -n /etc/os-release); echo $3;"
			    " echo changed > /etc/os-release && echo mine > /new-file &&"
			    " cat /etc/os-release", out, sizeof(out)), 0, "%s", out);
	cr_expect_str_eq(out, "0\nchanged\n");
	snprintf(path, sizeof(path), "%s/etc/os-release", image);
	cr_expect_str_eq(file_text(path, out, sizeof(out)), "ID=sbxd-test-image\n");
	snprintf(path, sizeof(path), "%s/new-file", image);
	cr_expect(!rtu_exists(path), "a write inside reached the image");
	snprintf(path, sizeof(path), "%s/home", image);
	cr_expect(!rtu_exists(path), "a write inside reached the image");
	cr_expect_eq(rtu_sh(rt(), b, NULL, "cat /etc/os-release; ls /new-file /home/user/f"
			    " 2>/dev/null; true", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "ID=sbxd-test-image\n", "b sees a's writes");

	/* A restart (a reboot) keeps a's layer: sbxd unmounts it when it
	 * stops and mounts it again. */
	tsrv_stop(&t);
	snprintf(path, sizeof(path), "%s/root", dir);
	cr_expect(!mounted_at(path, "overlay"), "a stopped sbxd left the overlay mounted");
	tsrv_start(&t, &cfg);
	cr_expect_eq(rtu_sh(rt(), a, NULL, "cat /etc/os-release /new-file", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "changed\nmine\n");

	snprintf(path, sizeof(path), "/sandboxes/%s", a);
	status_of("DELETE", path, NULL, 204);
	cr_expect(!rtu_exists(dir), "the writable layer %s survived the kill", dir);
	snprintf(path, sizeof(path), "%s/root", dir);
	cr_expect(!mounted_at(path, "overlay"), "the overlay survived the kill");
	json_decref(stats);
}
