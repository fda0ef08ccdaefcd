/* metaops: latency and throughput of cached metadata operations on a mounted
 * sbxfs.
 *
 *   metaops [-n ITERS] [-t THREADS] [-s MAX_SECONDS] [-o stat|read|both] DIR...
 *
 * Each of THREADS threads runs ITERS timed iterations of the operation on
 * DIR[i % count]/info (thread i): `stat` is stat(2), `read` is open(2), read(2)
 * until end of file, close(2).  A short untimed warm-up comes first, so the
 * numbers are for cached data.  MAX_SECONDS (default 60) caps a run: the
 * iterations done so far are reported.  One line per operation:
 *
 *   op=stat threads=4 iters=400000 p50_us=.. p99_us=.. ops_s=.. wall_s=.. errors=0
 *
 * iters is the total over all threads; ops_s is that total over the wall
 * time from the common start until the last thread finished.  Exits 1 if any
 * operation failed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "benchutil.h"

#define MAX_THREADS 64
#define WARMUP 200

enum op { OP_STAT, OP_READ };

struct worker {
	pthread_t th;
	enum op op;
	char path[PATH_MAX];
	unsigned long iters;
	unsigned long max_s;         /* stop after this many seconds */
	pthread_barrier_t *start;
	uint64_t *lat;               /* iters entries, lat[0..done) valid */
	unsigned long done;
	unsigned long errors;
	int first_errno;
};

static int do_op(enum op op, const char *path)
{
	char buf[65536];
	struct stat st;
	ssize_t n;
	int fd;

	if (op == OP_STAT)
		return stat(path, &st) == 0 ? 0 : -errno;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	do {
		n = read(fd, buf, sizeof(buf));
	} while (n > 0);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	return close(fd) == 0 ? 0 : -errno;
}

static void note_error(struct worker *w, int err)
{
	if (w->errors++ == 0)
		w->first_errno = -err;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned long i;
	uint64_t t0, deadline;
	int rc;

	for (i = 0; i < WARMUP; i++)
		if ((rc = do_op(w->op, w->path)) < 0)
			note_error(w, rc);
	pthread_barrier_wait(w->start);
	deadline = bu_now_ns() + (uint64_t)w->max_s * 1000000000u;
	for (i = 0; i < w->iters; i++) {
		if ((i & 255) == 255 && bu_now_ns() > deadline)
			break;
		t0 = bu_now_ns();
		rc = do_op(w->op, w->path);
		w->lat[i] = bu_now_ns() - t0;
		if (rc < 0)
			note_error(w, rc);
	}
	w->done = i;
	return NULL;
}

/* Runs one operation on nthreads threads and prints its line; 0 or 1. */
static int run(enum op op, unsigned long iters, unsigned nthreads, unsigned long max_s,
	       char **dirs, int ndirs)
{
	struct worker *w = calloc(nthreads, sizeof(*w));
	pthread_barrier_t start;
	uint64_t *all = NULL, t0, wall;
	unsigned long total = 0, errors = 0;
	unsigned i, started = 0;
	int rc = 1, first_errno = 0;

	if (!w || pthread_barrier_init(&start, NULL, nthreads + 1)) {
		free(w);
		return 1;
	}
	for (i = 0; i < nthreads; i++) {
		w[i].op = op;
		w[i].iters = iters;
		w[i].max_s = max_s;
		w[i].start = &start;
		snprintf(w[i].path, sizeof(w[i].path), "%s/info", dirs[i % (unsigned)ndirs]);
		w[i].lat = malloc(iters * sizeof(uint64_t));
		if (!w[i].lat)
			goto out;
	}
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&w[i].th, NULL, work, &w[i]))
			break;
		started++;
	}
	if (started < nthreads) {
		/* Only on resource exhaustion; the barrier would never open. */
		fprintf(stderr, "metaops: could not start %u threads\n", nthreads);
		exit(1);
	}
	pthread_barrier_wait(&start);
	t0 = bu_now_ns();
	for (i = 0; i < nthreads; i++)
		pthread_join(w[i].th, NULL);
	wall = bu_now_ns() - t0;

	for (i = 0; i < nthreads; i++) {
		total += w[i].done;
		if (w[i].errors && !errors)
			first_errno = w[i].first_errno;
		errors += w[i].errors;
	}
	all = malloc((total ? total : 1) * sizeof(*all));
	if (!all)
		goto out;
	total = 0;
	for (i = 0; i < nthreads; i++) {
		memcpy(all + total, w[i].lat, w[i].done * sizeof(*all));
		total += w[i].done;
	}
	bu_sort_u64(all, total);
	printf("op=%s threads=%u iters=%lu p50_us=%.2f p99_us=%.2f ops_s=%.0f wall_s=%.3f errors=%lu\n",
	       op == OP_STAT ? "stat" : "read", nthreads, total, bu_pct_us(all, total, 50),
	       bu_pct_us(all, total, 99), wall ? (double)total * 1e9 / (double)wall : 0.0,
	       (double)wall / 1e9, errors);
	fflush(stdout);
	if (errors)
		fprintf(stderr, "metaops: %lu %s errors, first: %s\n", errors,
			op == OP_STAT ? "stat" : "read", strerror(first_errno));
	rc = errors ? 1 : 0;
out:
	pthread_barrier_destroy(&start);
	for (i = 0; i < nthreads; i++)
		free(w[i].lat);
	free(w);
	free(all);
	return rc;
}

static void usage(void)
{
	fputs("usage: metaops [-n ITERS] [-t THREADS] [-s MAX_SECONDS] [-o stat|read|both] DIR...\n",
	      stderr);
}

int main(int argc, char **argv)
{
	unsigned long iters = 100000, threads = 1, max_s = 60;
	const char *ops = "both";
	int ch, rc = 0;

	while ((ch = getopt(argc, argv, "n:t:s:o:")) != -1) {
		switch (ch) {
		case 'n':
			if (bu_parse_ulong(optarg, 1, 100000000, &iters) < 0)
				goto bad;
			break;
		case 't':
			if (bu_parse_ulong(optarg, 1, MAX_THREADS, &threads) < 0)
				goto bad;
			break;
		case 's':
			if (bu_parse_ulong(optarg, 1, 86400, &max_s) < 0)
				goto bad;
			break;
		case 'o':
			ops = optarg;
			break;
		default:
			goto bad;
		}
	}
	if (optind >= argc)
		goto bad;
	if (strcmp(ops, "stat") && strcmp(ops, "read") && strcmp(ops, "both"))
		goto bad;
	if (strcmp(ops, "read") != 0)
		rc |= run(OP_STAT, iters, (unsigned)threads, max_s, argv + optind, argc - optind);
	if (strcmp(ops, "stat") != 0)
		rc |= run(OP_READ, iters, (unsigned)threads, max_s, argv + optind, argc - optind);
	return rc;
bad:
	usage();
	return 2;
}
