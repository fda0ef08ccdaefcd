/* Threads of the store that end on their own (a read-ahead stream, an
 * upload sent while written): detached, each registered in its struct
 * files so that files_fini can stop them all and wait for them, and
 * counted per kind against a limit.  Thread-safe (f->slock). */
#ifndef SBXFS_STORE_WORKERS_H
#define SBXFS_STORE_WORKERS_H

#include <pthread.h>

#include "files.h"

struct files_worker {
	struct files_worker *next, *prev;  /* f->workers, guarded by f->slock */
	enum files_worker_kind kind;
	int *cancel;                /* set atomically to stop it */
	pthread_mutex_t *lock;      /* and its cond broadcast under lock, to */
	pthread_cond_t *cond;       /* wake it where it waits */
};

/* Runs run(arg) on a detached thread registered as w: 0, or -EAGAIN when
 * max of w's kind run already or f is stopping (nothing started). */
int files_worker_start(struct files *f, struct files_worker *w, unsigned max,
		       void *(*run)(void *), void *arg);
/* The thread's last step with f: unregisters w. */
void files_worker_end(struct files *f, struct files_worker *w);
/* Stops every worker and waits until each has ended (files_fini). */
void files_workers_stop(struct files *f);

#endif
