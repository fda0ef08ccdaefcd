/* The expiry thread; see lifecycle.h. */
#include "registry/lifecycle.h"

#include "common/clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct lifecycle {
	struct reg *reg;
	const struct slog *log;
	pthread_t thread;
	/* Guards `kicked` and `stop`.  Taken inside the registry lock by the
	 * change listener, so never call into the registry while holding it. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int kicked;
	int stop;
};

/* Registry listener: a change may have brought the earliest end forward. */
static void on_change(void *ctx)
{
	struct lifecycle *lc = ctx;

	pthread_mutex_lock(&lc->lock);
	lc->kicked = 1;
	pthread_cond_signal(&lc->cond);
	pthread_mutex_unlock(&lc->lock);
}

static void *run(void *arg)
{
	struct lifecycle *lc = arg;

	for (;;) {
		int64_t next;
		size_t n = reg_expire_due(lc->reg, clock_wall_ms(), &next);

		if (n)
			slog_debug(lc->log, "expired %zu sandbox(es)", n);
		pthread_mutex_lock(&lc->lock);
		/* End times are wall-clock, so wait on CLOCK_REALTIME (the
		 * condvar's default clock). */
		while (!lc->kicked && !lc->stop) {
			if (next == INT64_MAX) {
				pthread_cond_wait(&lc->cond, &lc->lock);
			} else {
				struct timespec ts = { (time_t)(next / 1000),
						       (long)(next % 1000) * 1000000L };

				if (pthread_cond_timedwait(&lc->cond, &lc->lock, &ts) == ETIMEDOUT)
					break;
			}
		}
		lc->kicked = 0;
		int stop = lc->stop;
		pthread_mutex_unlock(&lc->lock);
		if (stop)
			return NULL;
	}
}

struct lifecycle *lifecycle_start(struct reg *r, const struct slog *log)
{
	struct lifecycle *lc = calloc(1, sizeof(*lc));

	if (!lc)
		return NULL;
	lc->reg = r;
	lc->log = log;
	pthread_mutex_init(&lc->lock, NULL);
	pthread_cond_init(&lc->cond, NULL);
	if (reg_add_listener(r, on_change, lc) < 0 ||
	    pthread_create(&lc->thread, NULL, run, lc) != 0) {
		pthread_cond_destroy(&lc->cond);
		pthread_mutex_destroy(&lc->lock);
		free(lc);
		return NULL;
	}
	return lc;
}

void lifecycle_stop(struct lifecycle *lc)
{
	if (!lc)
		return;
	pthread_mutex_lock(&lc->lock);
	lc->stop = 1;
	pthread_cond_signal(&lc->cond);
	pthread_mutex_unlock(&lc->lock);
	pthread_join(lc->thread, NULL);
	pthread_cond_destroy(&lc->cond);
	pthread_mutex_destroy(&lc->lock);
	free(lc);
}
