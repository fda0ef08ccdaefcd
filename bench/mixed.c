/* mixed: a mixed workload on a mounted sbxfs, for the fault suite and the
 * benchmark.
 *
 *   mixed [-t THREADS] [-s SECS] [-b BOUND_MS] [-B DIR_BOUND_MS] [-p PREFIX]
 *         [-o EXPECT] MOUNT
 *
 * THREADS (16) threads run for SECS (5) seconds, half of them readers
 * (reads of known sandboxes only), half writers.  A writer owns a few
 * sandboxes of its own (MOUNT/PREFIX<T>-<K>; PREFIX, default mx, tells runs
 * on one mount apart) and picks, at random: mkdir of a
 * new one, rmdir of one of its own, a write of state (paused or running)
 * or timeout (600) to one of its own, ls -l of MOUNT, or a read of one of
 * 16 shared sandboxes (MOUNT/mxbase-NN, made first and never changed):
 * cat of its info or ls -l of its directory.  Reads of known sandboxes are
 * timed apart from ls -l of MOUNT, which the kernel holds behind every
 * mkdir and rmdir (they hold the directory's lock for their request).  Every result must be success or an errno that sbxfs(1)
 * documents for a failing backend, and no operation may last past
 * BOUND_MS (0: no bound), or DIR_BOUND_MS (default 3 x BOUND_MS) for mkdir,
 * rmdir and ls -l of MOUNT, which the kernel serializes on the root's lock.  Prints one line:
 *
 *   ops=.. ops_s=.. reads=.. reads_s=.. read_p50_ms=.. read_p99_ms=..
 *   dirops=.. dir_p99_ms=.. writes=.. write_p99_ms=.. max_ms=.. failed=..
 *   bad_errno=.. over_bound=..
 *
 * and with -o writes what the mount acknowledged, one line per own
 * sandbox whose fate it knows: "present NAME STATE" or "absent NAME" (a
 * failed mkdir or rmdir leaves the fate unknown, and a failed state write
 * the state, for the rest of the run: it may still land and undo a later
 * acknowledged one), for a caller to compare with the REST API.  The shared
 * sandboxes are left; own ones are not cleaned up (that would be more
 * operations under the same faults).  Exit 1 on a bad errno or an
 * operation over the bound (the first few are reported on stderr), 2 on a
 * usage or setup error. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "benchutil.h"

#define MAX_THREADS 64
#define OWN_MAX 3               /* live sandboxes a thread keeps at most */
#define NAMES_MAX 4096          /* own names a thread may use in a run */
#define SHARED 16
#define SAMPLES (1 << 16)

enum fate { F_UNKNOWN, F_PRESENT, F_ABSENT };
/* Directory operations (mkdir, rmdir, ls -l of MOUNT) hold or wait for the
 * root's lock in the kernel, so one may wait for several others' requests
 * before its own: they get a bound of their own. */
enum kind { K_READ, K_DIR, K_WRITE };

struct own {
	char name[32];
	enum fate fate;
	const char *state;      /* "running", "paused", or NULL: unknown */
	bool state_unsure;      /* a state write failed: it may still land later */
};

struct worker {
	pthread_t th;
	int id;
	unsigned seed;
	struct own own[NAMES_MAX];
	int n_own;
	uint64_t samples[3][SAMPLES];   /* by enum kind: the first SAMPLES */
	size_t n[3];
	unsigned long count[3];         /* operations by kind, every one */
	unsigned long ops, failed, bad, over;
	uint64_t max_ns;
};

static const char *mount_dir, *prefix = "mx";
static unsigned long bound_ms, dir_bound_ms;
static atomic_bool stop;
static atomic_int reports;      /* messages printed, capped */

/* What sbxfs(1) documents for an operation whose request fails. */
static int errno_documented(int e)
{
	return e == EIO || e == ETIMEDOUT || e == EAGAIN || e == ECONNREFUSED ||
	       e == EHOSTUNREACH || e == EBUSY || e == EINTR || e == EDQUOT;
}

static void report(const char *what, const char *path, int e, double ms)
{
	if (atomic_fetch_add(&reports, 1) < 10)
		fprintf(stderr, "mixed: %s %s: %s after %.0f ms\n", what, path,
			e ? strerror(e) : "ok", ms);
}

/* Accounts one finished operation; returns its errno (0 on success). */
static int done(struct worker *w, const char *what, const char *path, uint64_t t0, int e,
		enum kind k)
{
	uint64_t dt = bu_now_ns() - t0;
	double ms = (double)dt / 1e6;

	w->ops++;
	w->count[k]++;
	if (dt > w->max_ns)
		w->max_ns = dt;
	if (w->n[k] < SAMPLES)
		w->samples[k][w->n[k]++] = dt;
	if (e)
		w->failed++;
	if (e && !errno_documented(e)) {
		w->bad++;
		report(what, path, e, ms);
	} else if (bound_ms && ms > (double)(k == K_DIR ? dir_bound_ms : bound_ms)) {
		w->over++;
		report(what, path, e, ms);
	}
	return e;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;
	int e = 0;

	if (fd < 0)
		return errno;
	n = write(fd, text, strlen(text));
	if (n < 0)
		e = errno;
	if (close(fd) < 0 && !e)
		e = errno;
	return e;
}

static int read_file(const char *path)
{
	char buf[8192];
	int fd = open(path, O_RDONLY), e = 0;
	ssize_t n;

	if (fd < 0)
		return errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		e = errno;
	close(fd);
	return e;
}

/* ls -l: readdir, then lstat of every entry. */
static int list_long(const char *dir)
{
	char path[4096];
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);
	int e = 0;

	if (!d)
		return errno;
	errno = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) < 0 && errno != ENOENT)
			e = errno;   /* ENOENT: killed since the listing, by another thread */
		errno = 0;
	}
	if (!e && errno)
		e = errno;
	closedir(d);
	return e;
}

static struct own *pick_live(struct worker *w)
{
	int live[NAMES_MAX], n = 0;

	for (int i = 0; i < w->n_own; i++)
		if (w->own[i].fate == F_PRESENT)
			live[n++] = i;
	return n ? &w->own[live[rand_r(&w->seed) % n]] : NULL;
}

static int live_count(const struct worker *w)
{
	int n = 0;

	for (int i = 0; i < w->n_own; i++)
		n += w->own[i].fate == F_PRESENT;
	return n;
}

static void op_mkdir(struct worker *w)
{
	char path[4096];
	struct own *o;
	uint64_t t0;
	int e;

	if (w->n_own == NAMES_MAX)
		return;
	o = &w->own[w->n_own++];
	snprintf(o->name, sizeof(o->name), "%.16s%d-%d", prefix, w->id, w->n_own);
	snprintf(path, sizeof(path), "%s/%s", mount_dir, o->name);
	t0 = bu_now_ns();
	e = done(w, "mkdir", path, t0, mkdir(path, 0755) < 0 ? errno : 0, K_DIR);
	o->fate = e ? F_UNKNOWN : F_PRESENT;
	o->state = e ? NULL : "running";
}

static void op_rmdir(struct worker *w, struct own *o)
{
	char path[4096];
	uint64_t t0;
	int e;

	snprintf(path, sizeof(path), "%s/%s", mount_dir, o->name);
	t0 = bu_now_ns();
	e = done(w, "rmdir", path, t0, rmdir(path) < 0 ? errno : 0, K_DIR);
	o->fate = e ? F_UNKNOWN : F_ABSENT;
}

static void op_write(struct worker *w, struct own *o, const char *file, const char *text)
{
	char path[4096];
	uint64_t t0;
	int e;

	snprintf(path, sizeof(path), "%s/%s/%s", mount_dir, o->name, file);
	t0 = bu_now_ns();
	e = done(w, "write", path, t0, write_file(path, text), K_WRITE);
	if (strcmp(file, "state") != 0)
		return;
	/* A failed pause or resume may reach the server after a later one
	 * was acknowledged, and undo it: from then on the state is unknown. */
	o->state_unsure = o->state_unsure || e;
	o->state = o->state_unsure ? NULL : (strcmp(text, "paused\n") == 0 ? "paused" : "running");
}

/* Readers (even ids) only read; writers draw from all the kinds. */
static void one_op(struct worker *w)
{
	unsigned r = (unsigned)rand_r(&w->seed) % 100;

	if (w->id % 2 == 0)
		r = 50 + r / 2;
	struct own *o = pick_live(w);
	char path[4096];
	uint64_t t0;

	if (r < 10 && live_count(w) < OWN_MAX) {
		op_mkdir(w);
	} else if (r < 15 && o) {
		op_rmdir(w, o);
	} else if (r < 25 && o) {
		op_write(w, o, "state", rand_r(&w->seed) % 2 ? "paused\n" : "running\n");
	} else if (r < 35 && o) {
		op_write(w, o, "timeout", "600\n");
	} else if (r < 40) {
		t0 = bu_now_ns();
		done(w, "ls -l", mount_dir, t0, list_long(mount_dir), K_DIR);
	} else if (r < 65) {
		snprintf(path, sizeof(path), "%s/mxbase-%02u", mount_dir,
			 (unsigned)rand_r(&w->seed) % SHARED);
		t0 = bu_now_ns();
		done(w, "ls -l", path, t0, list_long(path), K_READ);
	} else {
		snprintf(path, sizeof(path), "%s/mxbase-%02u/info", mount_dir,
			 (unsigned)rand_r(&w->seed) % SHARED);
		t0 = bu_now_ns();
		done(w, "cat", path, t0, read_file(path), K_READ);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&stop))
		one_op(w);
	return NULL;
}

/* The shared sandboxes, made once; an existing one is fine.  They are
 * made under the run's faults, where a create may time out or fail as
 * documented: the setup is not what is measured, so it tries again. */
static int make_shared(void)
{
	char path[4096];

	for (int i = 0; i < SHARED; i++) {
		int e = 0;

		snprintf(path, sizeof(path), "%s/mxbase-%02d", mount_dir, i);
		for (int tries = 0; tries < 5; tries++)
			if ((e = mkdir(path, 0755) < 0 ? errno : 0) == 0 || e == EEXIST ||
			    (e != ETIMEDOUT && e != EAGAIN && e != EIO))
				break;
		if (e != 0 && e != EEXIST) {
			fprintf(stderr, "mixed: mkdir %s: %s\n", path, strerror(e));
			return -1;
		}
	}
	return 0;
}

static int write_expect(const char *file, struct worker *ws, int n)
{
	FILE *f = fopen(file, "w");

	if (!f)
		return -1;
	for (int t = 0; t < n; t++) {
		for (int i = 0; i < ws[t].n_own; i++) {
			const struct own *o = &ws[t].own[i];

			if (o->fate == F_ABSENT)
				fprintf(f, "absent %s\n", o->name);
			else if (o->fate == F_PRESENT)
				fprintf(f, "present %s %s\n", o->name, o->state ? o->state : "?");
		}
	}
	return fclose(f) == 0 ? 0 : -1;
}

static void summarize(struct worker *ws, int n, unsigned long secs)
{
	static uint64_t all[3][SAMPLES * 4];
	size_t na[3] = { 0 };
	unsigned long cnt[3] = { 0 }, ops = 0, failed = 0, bad = 0, over = 0;
	uint64_t max_ns = 0;

	for (int t = 0; t < n; t++) {
		for (int k = 0; k < 3; k++) {
			for (size_t i = 0; i < ws[t].n[k] && na[k] < SAMPLES * 4; i++)
				all[k][na[k]++] = ws[t].samples[k][i];
			cnt[k] += ws[t].count[k];
		}
		ops += ws[t].ops;
		failed += ws[t].failed;
		bad += ws[t].bad;
		over += ws[t].over;
		max_ns = ws[t].max_ns > max_ns ? ws[t].max_ns : max_ns;
	}
	for (int k = 0; k < 3; k++)
		bu_sort_u64(all[k], na[k]);
	/* Counts are of every operation; percentiles of the samples kept (the
	 * sample buffers fill up in a long run, the counts do not). */
	printf("ops=%lu ops_s=%.1f reads=%lu reads_s=%.1f read_p50_ms=%.2f read_p99_ms=%.2f "
	       "dirops=%lu dir_p99_ms=%.1f writes=%lu write_p99_ms=%.1f max_ms=%.0f "
	       "failed=%lu bad_errno=%lu over_bound=%lu\n",
	       ops, (double)ops / (double)secs, cnt[K_READ], (double)cnt[K_READ] / (double)secs,
	       bu_pct_us(all[K_READ], na[K_READ], 50) / 1000,
	       bu_pct_us(all[K_READ], na[K_READ], 99) / 1000, cnt[K_DIR],
	       bu_pct_us(all[K_DIR], na[K_DIR], 99) / 1000, cnt[K_WRITE],
	       bu_pct_us(all[K_WRITE], na[K_WRITE], 99) / 1000, (double)max_ns / 1e6, failed,
	       bad, over);
}

int main(int argc, char **argv)
{
	unsigned long threads = 16, secs = 5;
	const char *expect = NULL;
	struct worker *ws;
	int c, rc = 0;

	while ((c = getopt(argc, argv, "t:s:b:B:p:o:")) != -1) {
		if ((c == 't' && bu_parse_ulong(optarg, 1, MAX_THREADS, &threads) < 0) ||
		    (c == 's' && bu_parse_ulong(optarg, 1, 3600, &secs) < 0) ||
		    (c == 'b' && bu_parse_ulong(optarg, 0, 3600000, &bound_ms) < 0) ||
		    (c == 'B' && bu_parse_ulong(optarg, 0, 3600000, &dir_bound_ms) < 0) ||
		    c == '?') {
			fprintf(stderr, "usage: mixed [-t THREADS] [-s SECS] [-b BOUND_MS] "
				"[-B DIR_BOUND_MS] [-p PREFIX] [-o EXPECT] MOUNT\n");
			return 2;
		}
		if (c == 'o')
			expect = optarg;
		if (c == 'p')
			prefix = optarg;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: mixed [-t THREADS] [-s SECS] [-b BOUND_MS] [-B DIR_BOUND_MS] "
			"[-p PREFIX] [-o EXPECT] MOUNT\n");
		return 2;
	}
	mount_dir = argv[optind];
	if (!dir_bound_ms)
		dir_bound_ms = 3 * bound_ms;
	if (make_shared() < 0 || !(ws = calloc(threads, sizeof(*ws))))
		return 2;
	for (unsigned long t = 0; t < threads; t++) {
		ws[t].id = (int)t;
		ws[t].seed = (unsigned)(bu_now_ns() ^ (t * 2654435761u));
		if (pthread_create(&ws[t].th, NULL, worker_main, &ws[t]) != 0) {
			fprintf(stderr, "mixed: cannot start a thread\n");
			return 2;
		}
	}
	sleep((unsigned)secs);
	atomic_store(&stop, true);
	for (unsigned long t = 0; t < threads; t++)
		pthread_join(ws[t].th, NULL);
	summarize(ws, (int)threads, secs);
	if (expect && write_expect(expect, ws, (int)threads) < 0) {
		fprintf(stderr, "mixed: cannot write %s\n", expect);
		rc = 2;
	}
	for (unsigned long t = 0; t < threads && !rc; t++)
		if (ws[t].bad || ws[t].over)
			rc = 1;
	free(ws);
	return rc;
}
