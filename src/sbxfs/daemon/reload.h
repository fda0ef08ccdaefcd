/* The SIGHUP thread: reopens a log file (so logrotate can move it), re-reads
 * the API key file, and drops the listing cache. */
#ifndef SBXFS_RELOAD_H
#define SBXFS_RELOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "util/log.h"

struct api;
struct sbx_cache;

/* Set the first five before reload_start(); all borrowed, and they must
 * outlive reload_stop(). */
struct reload {
	const char *log_target;     /* -o log, or NULL */
	enum log_level log_level;
	const char *key_file;       /* -o api_key_file, or NULL */
	struct api *api;
	struct sbx_cache *cache;
	pthread_t thread;
	bool started;
	atomic_bool stopping;
};

/* Starts the thread, which takes SIGHUP: every thread must have it
 * blocked.  Returns 0 or -errno. */
int reload_start(struct reload *r);
/* Ends the thread (nothing if it never started). */
void reload_stop(struct reload *r);

#endif
