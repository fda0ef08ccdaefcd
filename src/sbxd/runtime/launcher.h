/* The runtime's forking thread; see launcher.c for why it exists. */
#ifndef SBXD_LAUNCHER_H
#define SBXD_LAUNCHER_H

struct launcher;

/* Starts the thread; NULL when it cannot. */
struct launcher *launcher_new(void);
/* Runs fn(arg) on the launcher thread, one job at a time, and returns its
 * result; blocks meanwhile.  Thread-safe. */
int launcher_run(struct launcher *l, int (*fn)(void *arg), void *arg);
/* Finishes the queued jobs and joins the thread; NULL is a no-op. */
void launcher_free(struct launcher *l);

#endif
