/* The store's self-ending threads (see workers.h). */
#include <errno.h>

#include "workers.h"

bool files_worker_cancelled(const struct files_worker *w)
{
	return __atomic_load_n(&w->cancel, __ATOMIC_ACQUIRE) != 0;
}

void files_worker_cancel(struct files_worker *w)
{
	__atomic_store_n(&w->cancel, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(w->lock);
	pthread_cond_broadcast(w->cond);
	pthread_mutex_unlock(w->lock);
}

void files_worker_hold(struct files_worker *w)
{
	pthread_mutex_lock(w->lock);
	w->refs++;
	pthread_mutex_unlock(w->lock);
}

bool files_worker_put(struct files_worker *w)
{
	int left;

	pthread_mutex_lock(w->lock);
	left = --w->refs;
	pthread_mutex_unlock(w->lock);
	return left == 0;
}

int files_worker_start(struct files *f, struct files_worker *w, unsigned max,
		       void *(*run)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t t;
	int rc = -1;

	pthread_mutex_lock(&f->slock);
	if (f->n_workers[w->kind] < max && !f->workers_stopped) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &attr, run, arg);
		pthread_attr_destroy(&attr);
	}
	if (rc == 0) {
		w->prev = NULL;
		w->next = f->workers;
		if (f->workers)
			f->workers->prev = w;
		f->workers = w;
		f->n_workers[w->kind]++;
	}
	pthread_mutex_unlock(&f->slock);
	return rc == 0 ? 0 : -EAGAIN;
}

void files_worker_end(struct files *f, struct files_worker *w)
{
	pthread_mutex_lock(&f->slock);
	if (w->prev)
		w->prev->next = w->next;
	else
		f->workers = w->next;
	if (w->next)
		w->next->prev = w->prev;
	f->n_workers[w->kind]--;
	pthread_cond_broadcast(&f->scond);
	pthread_mutex_unlock(&f->slock);
}

void files_workers_stop(struct files *f)
{
	unsigned left;

	pthread_mutex_lock(&f->slock);
	f->workers_stopped = true;
	for (struct files_worker *w = f->workers; w; w = w->next)
		files_worker_cancel(w);
	do {
		left = 0;
		for (int k = 0; k < FILES_WORKER_KINDS; k++)
			left += f->n_workers[k];
		if (left)
			pthread_cond_wait(&f->scond, &f->slock);
	} while (left);
	pthread_mutex_unlock(&f->slock);
}
