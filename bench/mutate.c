/* mutate: throughput of sandbox mutations through a mounted sbxfs.
 *
 *   mutate [-n OPS] [-w WORKERS] [-p PREFIX] [-T SECS] [-x EXISTING] MOUNT
 *
 * One op is the life of a sandbox as a shell user drives it:
 *   mkdir MOUNT/PREFIX00001; echo SECS > MOUNT/PREFIX00001/timeout;
 *   rmdir MOUNT/PREFIX00001
 * (the write opens with O_WRONLY|O_CREAT|O_TRUNC, as the shell's `>` does).
 * With -x EXISTING an op is only the write, to the existing sandboxes
 * PREFIX00001..PREFIX<EXISTING> in turn: no directory operation, so nothing
 * the kernel serializes on the mount root.
 * WORKERS threads take ops from a shared counter until OPS are done.
 * Prints one line (steps not run show 0):
 *
 *   ops=200 workers=8 errors=0 wall_s=.. ops_s=.. mkdir_p50_ms=.. mkdir_p99_ms=..
 *   timeout_p50_ms=.. timeout_p99_ms=.. rmdir_p50_ms=.. rmdir_p99_ms=..
 *
 * Exits 1 if any step failed (the first failure is reported on stderr). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "benchutil.h"

#define MAX_WORKERS 64

enum step { ST_MKDIR, ST_TIMEOUT, ST_RMDIR, ST_COUNT };
static const char *const step_name[ST_COUNT] = { "mkdir", "timeout", "rmdir" };

struct run {
	const char *mount, *prefix;
	unsigned long ops, secs;
	unsigned long existing;    /* 0, or -x: write-only ops on these */
	atomic_ulong next;
	atomic_ulong errors;
	pthread_mutex_t err_lock;
	char first_error[PATH_MAX + 64];
	uint64_t *lat[ST_COUNT];   /* ops entries each, indexed by op */
	unsigned char *ok;         /* per op: all three steps succeeded */
};

static void fail(struct run *r, enum step s, const char *path, int err)
{
	if (atomic_fetch_add(&r->errors, 1) == 0) {
		pthread_mutex_lock(&r->err_lock);
		snprintf(r->first_error, sizeof(r->first_error), "%s %s: %s",
			 step_name[s], path, strerror(err));
		pthread_mutex_unlock(&r->err_lock);
	}
}

static int write_timeout(const char *path, unsigned long secs)
{
	char text[32];
	int fd, n, err = 0;

	n = snprintf(text, sizeof(text), "%lu\n", secs);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0)
		return errno;
	if (write(fd, text, (size_t)n) != n)
		err = errno ? errno : EIO;
	if (close(fd) != 0 && !err)
		err = errno;
	return err;
}

static void one_op(struct run *r, unsigned long i)
{
	char dir[PATH_MAX], file[PATH_MAX + 16];
	uint64_t t0;
	int err;

	snprintf(dir, sizeof(dir), "%s/%s%05lu", r->mount, r->prefix,
		 r->existing ? i % r->existing + 1 : i + 1);
	snprintf(file, sizeof(file), "%s/timeout", dir);

	if (r->existing) {
		t0 = bu_now_ns();
		err = write_timeout(file, r->secs);
		r->lat[ST_TIMEOUT][i] = bu_now_ns() - t0;
		if (err)
			fail(r, ST_TIMEOUT, file, err);
		r->ok[i] = !err;
		return;
	}
	t0 = bu_now_ns();
	if (mkdir(dir, 0755) != 0) {
		fail(r, ST_MKDIR, dir, errno);
		return;
	}
	r->lat[ST_MKDIR][i] = bu_now_ns() - t0;

	t0 = bu_now_ns();
	err = write_timeout(file, r->secs);
	r->lat[ST_TIMEOUT][i] = bu_now_ns() - t0;
	if (err)
		fail(r, ST_TIMEOUT, file, err);

	t0 = bu_now_ns();
	if (rmdir(dir) != 0) {
		fail(r, ST_RMDIR, dir, errno);
		return;
	}
	r->lat[ST_RMDIR][i] = bu_now_ns() - t0;
	r->ok[i] = !err;
}

static void *worker(void *arg)
{
	struct run *r = arg;
	unsigned long i;

	while ((i = atomic_fetch_add(&r->next, 1)) < r->ops)
		one_op(r, i);
	return NULL;
}

/* Percentiles of one step over the ops that fully succeeded. */
static void step_pcts(const struct run *r, enum step s, double *p50, double *p99)
{
	uint64_t *v = malloc(r->ops * sizeof(*v));
	size_t n = 0;
	unsigned long i;

	*p50 = *p99 = 0;
	if (!v)
		return;
	for (i = 0; i < r->ops; i++)
		if (r->ok[i])
			v[n++] = r->lat[s][i];
	bu_sort_u64(v, n);
	*p50 = bu_pct_us(v, n, 50) / 1e3;
	*p99 = bu_pct_us(v, n, 99) / 1e3;
	free(v);
}

int main(int argc, char **argv)
{
	struct run r = { .prefix = "m", .ops = 200, .secs = 600,
			 .err_lock = PTHREAD_MUTEX_INITIALIZER };
	unsigned long workers = 1, i, started = 0;
	pthread_t th[MAX_WORKERS];
	double p50, p99, wall;
	uint64_t t0;
	int ch, s, rc = 1;

	while ((ch = getopt(argc, argv, "n:w:p:T:x:")) != -1) {
		switch (ch) {
		case 'n':
			if (bu_parse_ulong(optarg, 1, 99999, &r.ops) < 0)
				goto bad;
			break;
		case 'w':
			if (bu_parse_ulong(optarg, 1, MAX_WORKERS, &workers) < 0)
				goto bad;
			break;
		case 'p':
			r.prefix = optarg;
			break;
		case 'T':
			if (bu_parse_ulong(optarg, 1, 86400, &r.secs) < 0)
				goto bad;
			break;
		case 'x':
			if (bu_parse_ulong(optarg, 1, 99999, &r.existing) < 0)
				goto bad;
			break;
		default:
			goto bad;
		}
	}
	if (optind != argc - 1 || strlen(r.prefix) > 64)
		goto bad;
	r.mount = argv[optind];
	atomic_init(&r.next, 0);
	atomic_init(&r.errors, 0);
	r.ok = calloc(r.ops, 1);
	for (s = 0; s < ST_COUNT; s++)
		r.lat[s] = calloc(r.ops, sizeof(uint64_t));
	if (!r.ok || !r.lat[0] || !r.lat[1] || !r.lat[2])
		goto out;

	t0 = bu_now_ns();
	for (i = 0; i < workers; i++) {
		if (pthread_create(&th[i], NULL, worker, &r))
			break;
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	wall = (double)(bu_now_ns() - t0) / 1e9;
	if (started == 0) {
		fprintf(stderr, "mutate: could not start a worker\n");
		goto out;
	}

	printf("ops=%lu workers=%lu errors=%lu wall_s=%.3f ops_s=%.1f", r.ops, started,
	       (unsigned long)atomic_load(&r.errors), wall, (double)r.ops / wall);
	for (s = 0; s < ST_COUNT; s++) {
		step_pcts(&r, (enum step)s, &p50, &p99);
		printf(" %s_p50_ms=%.2f %s_p99_ms=%.2f", step_name[s], p50, step_name[s], p99);
	}
	printf("\n");
	if (atomic_load(&r.errors)) {
		fprintf(stderr, "mutate: %lu failed steps, first: %s\n",
			(unsigned long)atomic_load(&r.errors), r.first_error);
		goto out;
	}
	rc = 0;
out:
	for (s = 0; s < ST_COUNT; s++)
		free(r.lat[s]);
	free(r.ok);
	return rc;
bad:
	fputs("usage: mutate [-n OPS] [-w WORKERS] [-p PREFIX] [-T SECS] [-x EXISTING] MOUNT\n",
	      stderr);
	return 2;
}
