/* ThreadSanitizer driver for MOUNT/<sandbox>/logs's store: six readers
 * open, update, read, stat and close the log copies of two sandboxes of
 * an in-process sbxd (small cap, so lines are dropped under them), while
 * another thread pauses and resumes them to add lines.  Exits non-zero on
 * a wrong result; TSan reports races. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/logs.h"
#include "tsanfix.h"

#define KEY "tsan-logs-key-0123456789"
#define THREADS 6
#define ROUNDS 30

static struct api *api;
static struct logs *L;
static char ids[2][64];
static int failed;
static int stop_events;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "tsan_logs: %s\n", what);
		__atomic_store_n(&failed, 1, __ATOMIC_SEQ_CST);
	}
}

static void *reader(void *arg)
{
	long t = (long)arg;
	char buf[256];

	for (int i = 0; i < ROUNDS; i++) {
		const char *id = ids[(t + i) % 2];
		struct logs_sbx *e;
		uint64_t origin, size, off = 0;
		time_t mtime;
		size_t n;

		check(logs_open(L, id, &e, &origin) == 0, "open");
		check(logs_update(L, e, i % 3 ? 5 : 0) == 0, "update");
		logs_size(L, e, &origin, &size, &mtime);
		while ((n = logs_read(L, e, &origin, buf, sizeof(buf), off)) > 0)
			off += n;
		logs_known(L, id, 5, &size, &mtime);
		check(size <= 1024, "over the cap");
		logs_close(L, e);
	}
	return NULL;
}

static void *events(void *arg)
{
	(void)arg;
	/* at least 40 pairs: 40 lines of ~45 bytes per sandbox, past the cap */
	for (int i = 0; i < 40 || !__atomic_load_n(&stop_events, __ATOMIC_SEQ_CST); i++) {
		check(api_pause(api, ids[i % 2], NULL) == 0, "pause");
		check(api_resume(api, ids[i % 2], 300, NULL) == 0, "resume");
	}
	return NULL;
}

int main(void)
{
	struct tsanfix fx;
	pthread_t t[THREADS], ev;
	struct sbx *s;

	if (tsanfix_start(&fx, KEY, NULL) < 0)
		return 1;
	api = fx.api;
	L = logs_new(api, 1024);
	for (int i = 0; L && i < 2; i++) {
		if (api_create(api, "base", 300, NULL, &s, NULL)) {
			fprintf(stderr, "tsan_logs: create failed\n");
			return 1;
		}
		snprintf(ids[i], sizeof(ids[i]), "%s", s->id);
		sbx_unref(s);
	}
	if (!L) {
		fprintf(stderr, "tsan_logs: setup failed\n");
		return 1;
	}
	pthread_create(&ev, NULL, events, NULL);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, reader, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	__atomic_store_n(&stop_events, 1, __ATOMIC_SEQ_CST);
	pthread_join(ev, NULL);
	for (int i = 0; i < 2; i++) {
		struct logs_sbx *e;
		uint64_t origin;

		check(logs_open(L, ids[i], &e, &origin) == 0 && logs_update(L, e, 0) == 0, "last");
		logs_close(L, e);
		check(logs_open(L, ids[i], &e, &origin) == 0 && origin > 0, "nothing dropped");
		logs_close(L, e);
	}
	logs_free(L);
	tsanfix_stop(&fx);
	return failed;
}
