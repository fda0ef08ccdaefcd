/* Control groups of sandboxes; see cgroup.h.
 *
 * Why both versions: our CI machines mount only v1 controllers (with an
 * empty v2 hierarchy beside them), current distributions only v2.  The
 * same five operations map onto either: a limit is one file write, freezing
 * one write and a wait for the state to settle, killing a loop over the
 * process list (v2's cgroup.kill when the kernel has it). */
#include "runtime/cgroup.h"

#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CG_ROOT "/sys/fs/cgroup"
#define SETTLE_MS 3000          /* longest wait for a freeze or a kill */

enum { D_MEM, D_PIDS, D_CPU, D_FREEZER, ND };

struct cg {
	const struct cg_sys *sys;
	char dir[ND][PATH_MAX];     /* v1: one per controller; v2: dir[0] only */
	bool made[ND];
};

static int write_file(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX];
	int fd, rc = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Reads dir/file into buf (NUL-terminated); bytes read or -errno. */
static ssize_t read_file(const char *dir, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

static bool make_dir(const char *path)
{
	return mkdir(path, 0755) == 0 || errno == EEXIST;
}

static void detect_v2(struct cg_sys *sys)
{
	char have[256];

	snprintf(sys->v2, sizeof(sys->v2), "%s/sbxd", CG_ROOT);
	if (access(CG_ROOT "/cgroup.subtree_control", W_OK) < 0 || !make_dir(sys->v2))
		return;
	sys->mode = CG_V2;
	/* The root group is exempt from "no internal processes", and ours
	 * holds none, so both may hand the controllers down. */
	for (int i = 0; i < 3; i++) {
		static const char *const ctl[] = { "+memory", "+pids", "+cpu" };

		write_file(CG_ROOT, "cgroup.subtree_control", ctl[i]);
		write_file(sys->v2, "cgroup.subtree_control", ctl[i]);
	}
	if (read_file(sys->v2, "cgroup.subtree_control", have, sizeof(have)) < 0)
		have[0] = '\0';
	sys->has_mem = strstr(have, "memory") != NULL;
	sys->has_pids = strstr(have, "pids") != NULL;
	sys->has_cpu = strstr(have, "cpu") != NULL;
	sys->has_freeze = access(CG_ROOT "/cgroup.stat", F_OK) == 0;
}

static bool detect_v1_one(const char *name, char *out, size_t outlen)
{
	char base[128];

	snprintf(base, sizeof(base), "%s/%s", CG_ROOT, name);
	if (access(base, W_OK) < 0)
		return false;
	return (size_t)snprintf(out, outlen, "%s/sbxd", base) < outlen && make_dir(out);
}

void cg_detect(struct cg_sys *sys)
{
	memset(sys, 0, sizeof(*sys));
	if (access(CG_ROOT "/cgroup.controllers", F_OK) == 0) {
		detect_v2(sys);
		return;
	}
	sys->has_mem = detect_v1_one("memory", sys->mem, sizeof(sys->mem));
	sys->has_pids = detect_v1_one("pids", sys->pids, sizeof(sys->pids));
	sys->has_cpu = detect_v1_one("cpu", sys->cpu, sizeof(sys->cpu));
	sys->has_freeze = detect_v1_one("freezer", sys->freezer, sizeof(sys->freezer));
	if (sys->has_mem || sys->has_pids || sys->has_cpu || sys->has_freeze)
		sys->mode = CG_V1;
}

static int limit_v2(struct cg *cg, int memory_mb, int pids_max, int cpus)
{
	char v[64];
	int rc = 0;

	if (cg->sys->has_mem && memory_mb > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)memory_mb << 20);
		rc = write_file(cg->dir[0], "memory.max", v);
		write_file(cg->dir[0], "memory.swap.max", "0");
	}
	if (rc == 0 && cg->sys->has_pids && pids_max > 0) {
		snprintf(v, sizeof(v), "%d", pids_max);
		rc = write_file(cg->dir[0], "pids.max", v);
	}
	if (rc == 0 && cg->sys->has_cpu && cpus > 0) {
		snprintf(v, sizeof(v), "%d 100000", cpus * 100000);
		rc = write_file(cg->dir[0], "cpu.max", v);
	}
	return rc;
}

static int limit_v1(struct cg *cg, int memory_mb, int pids_max, int cpus)
{
	char v[64];
	int rc = 0;

	if (cg->made[D_MEM] && memory_mb > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)memory_mb << 20);
		rc = write_file(cg->dir[D_MEM], "memory.limit_in_bytes", v);
		/* With swap accounting, swap counts against the same limit. */
		write_file(cg->dir[D_MEM], "memory.memsw.limit_in_bytes", v);
	}
	if (rc == 0 && cg->made[D_PIDS] && pids_max > 0) {
		snprintf(v, sizeof(v), "%d", pids_max);
		rc = write_file(cg->dir[D_PIDS], "pids.max", v);
	}
	if (rc == 0 && cg->made[D_CPU] && cpus > 0) {
		write_file(cg->dir[D_CPU], "cpu.cfs_period_us", "100000");
		snprintf(v, sizeof(v), "%d", cpus * 100000);
		rc = write_file(cg->dir[D_CPU], "cpu.cfs_quota_us", v);
	}
	return rc;
}

static int make_groups(struct cg *cg, const char *id)
{
	const struct cg_sys *s = cg->sys;
	const char *parent[ND] = { s->mem, s->pids, s->cpu, s->freezer };
	const bool has[ND] = { s->has_mem, s->has_pids, s->has_cpu, s->has_freeze };

	if (s->mode == CG_V2) {
		parent[0] = s->v2;
		for (int i = 1; i < ND; i++)
			parent[i] = NULL;
	}
	for (int i = 0; i < ND; i++) {
		if (!parent[i] || (s->mode == CG_V1 && !has[i]))
			continue;
		if ((size_t)snprintf(cg->dir[i], sizeof(cg->dir[i]), "%s/%s", parent[i], id) >=
		    sizeof(cg->dir[i]))
			return -ENAMETOOLONG;
		if (!make_dir(cg->dir[i]))
			return -errno;
		cg->made[i] = true;
	}
	return 0;
}

struct cg *cg_new(const struct cg_sys *sys, const char *id, int memory_mb, int pids_max,
		  int cpus, int *rc)
{
	struct cg *cg;

	*rc = 0;
	if (sys->mode == CG_NONE)
		return NULL;
	cg = calloc(1, sizeof(*cg));
	if (!cg) {
		*rc = -ENOMEM;
		return NULL;
	}
	cg->sys = sys;
	*rc = make_groups(cg, id);
	/* A group left by an sbxd that died may still hold its processes:
	 * they must not outlive it (a restart is a reboot). */
	if (*rc == 0 && cg_count(cg) > 0)
		*rc = cg_kill(cg);
	if (*rc == 0)
		*rc = sys->mode == CG_V2 ? limit_v2(cg, memory_mb, pids_max, cpus)
					 : limit_v1(cg, memory_mb, pids_max, cpus);
	if (*rc < 0) {
		cg_free(cg);
		return NULL;
	}
	return cg;
}

int cg_enter(struct cg *cg, pid_t pid)
{
	char v[32];

	snprintf(v, sizeof(v), "%d", (int)pid);
	for (int i = 0; i < ND; i++) {
		int rc = cg->made[i] ? write_file(cg->dir[i], "cgroup.procs", v) : 0;

		if (rc < 0)
			return rc;
	}
	return 0;
}

const char *cg_procs_dir(const struct cg *cg)
{
	for (int i = 0; i < ND; i++)
		if (cg->made[i])
			return cg->dir[i];
	return NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* True once the freezer reports the wanted state. */
static bool freeze_settled(struct cg *cg, bool frozen)
{
	char st[64];

	if (cg->sys->mode == CG_V2) {
		if (read_file(cg->dir[0], "cgroup.events", st, sizeof(st)) < 0)
			return false;
		return strstr(st, frozen ? "frozen 1" : "frozen 0") != NULL;
	}
	if (read_file(cg->dir[D_FREEZER], "freezer.state", st, sizeof(st)) < 0)
		return false;
	return strncmp(st, frozen ? "FROZEN" : "THAWED", 6) == 0;
}

int cg_freeze(struct cg *cg, bool frozen)
{
	int64_t until = clock_mono_ns() + (int64_t)SETTLE_MS * 1000000;
	int rc;

	if (cg->sys->mode == CG_V2)
		rc = write_file(cg->dir[0], "cgroup.freeze", frozen ? "1" : "0");
	else if (cg->made[D_FREEZER])
		rc = write_file(cg->dir[D_FREEZER], "freezer.state", frozen ? "FROZEN" : "THAWED");
	else
		return -EOPNOTSUPP;
	while (rc == 0 && !freeze_settled(cg, frozen)) {
		if (clock_mono_ns() > until)
			return -ETIMEDOUT;
		sleep_ms(1);
	}
	return rc;
}

/* Calls fn on every pid listed in the process list; the count or -errno. */
static int for_each_pid(struct cg *cg, void (*fn)(pid_t, void *), void *ctx)
{
	const char *dir = cg_procs_dir(cg);
	char buf[16384];
	int n = 0;

	if (!dir)
		return 0;
	ssize_t len = read_file(dir, "cgroup.procs", buf, sizeof(buf));
	if (len < 0)
		return (int)len;
	for (char *p = buf, *end; *p; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (fn && pid > 0)
			fn((pid_t)pid, ctx);
		n++;
	}
	return n;
}

int cg_count(struct cg *cg)
{
	return for_each_pid(cg, NULL, NULL);
}

static void kill9(pid_t pid, void *ctx)
{
	(void)ctx;
	kill(pid, SIGKILL);
}

int cg_kill(struct cg *cg)
{
	int64_t until = clock_mono_ns() + (int64_t)SETTLE_MS * 1000000;
	bool v2kill = cg->sys->mode == CG_V2 &&
		      write_file(cg->dir[0], "cgroup.kill", "1") == 0;

	for (;;) {
		int n = v2kill ? cg_count(cg) : for_each_pid(cg, kill9, NULL);

		if (n <= 0)
			return n < 0 ? n : 0;
		/* A frozen task dies only once thawed (v1). */
		if (cg->made[D_FREEZER] || cg->sys->mode == CG_V2)
			cg_freeze(cg, false);
		if (clock_mono_ns() > until)
			return -EBUSY;
		sleep_ms(1);
	}
}

void cg_free(struct cg *cg)
{
	if (!cg)
		return;
	for (int i = 0; i < ND; i++) {
		/* The last tasks may still be leaving the group. */
		for (int tries = 0; cg->made[i] && tries < 500; tries++) {
			if (rmdir(cg->dir[i]) == 0 || errno != EBUSY)
				break;
			sleep_ms(2);
		}
	}
	free(cg);
}

json_t *cg_sys_json(const struct cg_sys *sys)
{
	static const char *const mode[] = { "none", "v1", "v2" };

	return json_pack("{s:s, s:b, s:b, s:b, s:s}", "cgroup", mode[sys->mode],
			 "memory", sys->has_mem, "pids", sys->has_pids, "cpu", sys->has_cpu,
			 "freezer", sys->has_freeze ? "cgroup" : "sigstop");
}

/* ---- usage ------------------------------------------------------------- */

/* The number after "key " in a stat file's text; false when absent. */
static bool stat_value(const char *text, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, klen) == 0 && p[klen] == ' ') {
			*out = strtoull(p + klen + 1, NULL, 10);
			return true;
		}
	return false;
}

/* utime + stime + cutime + cstime of one process, in clock ticks. */
static uint64_t proc_ticks(pid_t pid)
{
	char dir[32], buf[1024], *p;
	unsigned long long t[4];

	snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
	if (read_file(dir, "stat", buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return 0;
	/* After "pid (comm)": state and ten fields, then the four times. */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
		   &t[0], &t[1], &t[2], &t[3]) != 4)
		return 0;
	return t[0] + t[1] + t[2] + t[3];
}

static void add_ticks(pid_t pid, void *sum)
{
	*(uint64_t *)sum += proc_ticks(pid);
}

static int cpu_usage(struct cg *cg, uint64_t *cpu_us)
{
	char buf[4096];
	long hz = sysconf(_SC_CLK_TCK);

	if (cg->sys->mode == CG_V2)
		return read_file(cg->dir[0], "cpu.stat", buf, sizeof(buf)) > 0 &&
		       stat_value(buf, "usage_usec", cpu_us) ? 0 : -EOPNOTSUPP;
	if (cg->made[D_CPU] && read_file(cg->dir[D_CPU], "cpuacct.usage", buf, sizeof(buf)) > 0) {
		*cpu_us = strtoull(buf, NULL, 10) / 1000;
		return 0;
	}
	uint64_t ticks = 0;
	int n = for_each_pid(cg, add_ticks, &ticks);

	*cpu_us = hz > 0 ? ticks * 1000000 / (uint64_t)hz : 0;
	return n < 0 ? n : 0;
}

int cg_usage(struct cg *cg, uint64_t *cpu_us, uint64_t *mem, uint64_t *cache)
{
	bool v2 = cg->sys->mode == CG_V2;
	const char *dir = v2 ? cg->dir[0] : cg->dir[D_MEM];
	char buf[8192];
	int rc = cpu_usage(cg, cpu_us);

	*mem = *cache = 0;
	if (!v2 && !cg->made[D_MEM])
		return rc;
	if (read_file(dir, v2 ? "memory.current" : "memory.usage_in_bytes", buf, sizeof(buf)) > 0) {
		*mem = strtoull(buf, NULL, 10);
		rc = 0;
	}
	if (read_file(dir, "memory.stat", buf, sizeof(buf)) > 0)
		stat_value(buf, v2 ? "file" : "cache", cache);
	return rc;
}
