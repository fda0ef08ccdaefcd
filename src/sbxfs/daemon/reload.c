/* SIGHUP: reopen the log file, re-read the API key, drop the caches. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "reload.h"
#include "api/api.h"
#include "cache/cache.h"
#include "config/backend.h"

/* A log file is opened anew, so logrotate can move the old one away and
 * send SIGHUP (the convention of syslog daemons). */
static void reopen_log(struct reload *r)
{
	const char *t = r->log_target;
	int err;

	if (t == NULL || strcmp(t, "stderr") == 0 || strcmp(t, "syslog") == 0)
		return;
	err = log_open(t, r->log_level);
	if (err < 0)
		log_error("SIGHUP: cannot reopen the log %s: %s", t, strerror(-err));
	else
		log_info("SIGHUP: reopened the log %s", t);
}

static void reload(struct reload *r)
{
	char *key = NULL, *msg = NULL;

	reopen_log(r);
	if (r->key_file) {
		if (read_key_file(r->key_file, &key, &msg) < 0) {
			log_error("SIGHUP: %s; keeping the old key", msg ? msg : "out of memory");
		} else if (api_set_key(r->api, key) < 0) {
			log_error("SIGHUP: out of memory; the key may not have changed");
		} else {
			log_info("SIGHUP: re-read the API key from %s", r->key_file);
		}
		if (key)
			explicit_bzero(key, strlen(key));
		free(key);
		free(msg);
	}
	cache_invalidate(r->cache);
	log_info("SIGHUP: dropped the caches");
}

static void *hup_main(void *arg)
{
	struct reload *r = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (atomic_load(&r->stopping))
			break;
		reload(r);
	}
	return NULL;
}

int reload_start(struct reload *r)
{
	int err = pthread_create(&r->thread, NULL, hup_main, r);

	r->started = err == 0;
	return -err;
}

void reload_stop(struct reload *r)
{
	if (!r->started)
		return;
	atomic_store(&r->stopping, true);
	pthread_kill(r->thread, SIGHUP);
	pthread_join(r->thread, NULL);
	r->started = false;
}
