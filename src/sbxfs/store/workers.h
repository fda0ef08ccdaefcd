/* Threads of the store that end on their own (a read-ahead stream, an
 * upload sent while written): detached, each registered in its struct
 * files so that files_fini can stop them all and wait for them, and
 * counted per kind against a limit.  The object a worker runs for is
 * shared by its owner and its thread, so the worker also keeps that
 * object's reference count (under the object's lock) and its cancel flag.
 * Thread-safe (f->slock for the registry). */
#ifndef SBXFS_STORE_WORKERS_H
#define SBXFS_STORE_WORKERS_H

#include <pthread.h>
#include <stdbool.h>

#include "files.h"

struct files_worker {
	struct files_worker *next, *prev;  /* f->workers, guarded by f->slock */
	enum files_worker_kind kind;
	int cancel;                 /* atomic: set to stop it (its transfer polls it) */
	int refs;                   /* under *lock: the owner's and the thread's */
	pthread_mutex_t *lock;      /* the object's lock, and its cond broadcast */
	pthread_cond_t *cond;       /* under it to wake the thread where it waits */
};

/* A worker for an object guarded by lock and woken by cond, with two
 * references: its owner's and its thread's.  When files_worker_start()
 * fails there is no thread, and the owner frees the object itself. */
#define FILES_WORKER_INIT(k, l, c) \
	((struct files_worker){ .kind = (k), .refs = 2, .lock = (l), .cond = (c) })

bool files_worker_cancelled(const struct files_worker *w);
/* Sets the cancel flag and wakes the thread. */
void files_worker_cancel(struct files_worker *w);
void files_worker_hold(struct files_worker *w);
/* Drops a reference: true when it was the last, and the caller frees the
 * object. */
bool files_worker_put(struct files_worker *w);

/* Runs run(arg) on a detached thread registered as w: 0, or -EAGAIN when
 * max of w's kind run already or f is stopping (nothing started). */
int files_worker_start(struct files *f, struct files_worker *w, unsigned max,
		       void *(*run)(void *), void *arg);
/* The thread's last step with f: unregisters w. */
void files_worker_end(struct files *f, struct files_worker *w);
/* Stops every worker and waits until each has ended (files_fini). */
void files_workers_stop(struct files *f);

#endif
