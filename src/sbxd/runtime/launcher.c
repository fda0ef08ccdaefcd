/* One thread that forks every sandbox.  bwrap's --die-with-parent (and our
 * launch child's PR_SET_PDEATHSIG) fire when the *thread* that forked
 * exits, not the process; request threads come and go with the HTTP
 * server, so sandboxes are forked from this thread, which lives exactly as
 * long as the runtime. */
#include "runtime/launcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct job {
	int (*fn)(void *arg);
	void *arg;
	int rc;
	bool done;
	struct job *next;
};

struct launcher {
	/* Guards the queue and stop; jobs wait on `done` for their result. */
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	struct job *head, **tail;
	bool stop;
	pthread_t thread;
};

static void *run(void *arg)
{
	struct launcher *l = arg;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		while (!l->head && !l->stop)
			pthread_cond_wait(&l->work, &l->lock);
		if (!l->head)
			break;
		struct job *j = l->head;
		l->head = j->next;
		if (!l->head)
			l->tail = &l->head;
		pthread_mutex_unlock(&l->lock);
		j->rc = j->fn(j->arg);
		pthread_mutex_lock(&l->lock);
		j->done = true;
		pthread_cond_broadcast(&l->done);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

struct launcher *launcher_new(void)
{
	struct launcher *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->work, NULL);
	pthread_cond_init(&l->done, NULL);
	l->tail = &l->head;
	if (pthread_create(&l->thread, NULL, run, l) != 0) {
		pthread_cond_destroy(&l->done);
		pthread_cond_destroy(&l->work);
		pthread_mutex_destroy(&l->lock);
		free(l);
		return NULL;
	}
	return l;
}

int launcher_run(struct launcher *l, int (*fn)(void *arg), void *arg)
{
	struct job j = { fn, arg, 0, false, NULL };

	pthread_mutex_lock(&l->lock);
	*l->tail = &j;
	l->tail = &j.next;
	pthread_cond_signal(&l->work);
	while (!j.done)
		pthread_cond_wait(&l->done, &l->lock);
	pthread_mutex_unlock(&l->lock);
	return j.rc;
}

void launcher_free(struct launcher *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_cond_signal(&l->work);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	pthread_cond_destroy(&l->done);
	pthread_cond_destroy(&l->work);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
