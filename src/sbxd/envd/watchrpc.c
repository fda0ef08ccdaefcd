/* WatchDir (a server stream fed by a thread per watch) and the polled
 * watchers of CreateWatcher / GetWatcherEvents / RemoveWatcher. */
#include "envd/connect.h"
#include "envd/path.h"
#include "envd/priv.h"
#include "envd/stream.h"
#include "envd/watch.h"
#include "base/util.h"
#include "common/clock.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WATCHERS 64                 /* polled watchers, all sandboxes */
#define MAX_PENDING 1000                /* events a polled watcher keeps */

struct watcher {
	char id[24];
	char sandbox[65];
	struct iwatch *w;
	json_t *pending;
};

struct watchers {
	pthread_mutex_t lock;           /* guards the table, not the I/O */
	struct watcher *t[MAX_WATCHERS];
};

struct wstream {
	struct envd *e;
	struct iwatch *w;
	struct estream *s;
	int keepalive_ms;
	int64_t deadline_ns;            /* 0: none */
};

/* Opens the watch a request asks for; false with the error in code/msg. */
static int open_watch(const struct envd_box *b, const json_t *req, struct iwatch **w,
		      char *path, size_t plen, const char **code)
{
	const json_t *p = json_object_get(req, "path");
	int rc;

	*code = "invalid_argument";
	if ((p && !json_is_string(p)) ||
	    ep_expand(p ? json_string_value(p) : "", p ? json_string_length(p) : 0, b->home, path,
		      plen) < 0)
		return -EINVAL;
	rc = iwatch_new(b->root, path, json_is_true(json_object_get(req, "recursive")), w);
	*code = rc == -ENOENT ? "not_found" : rc == -EMFILE ? "resource_exhausted"
		: rc == -ENOTDIR ? "invalid_argument" : "internal";
	return rc;
}

static int push_event(struct estream *s, const char *key, json_t *v)
{
	json_t *m = json_pack("{s:o}", key, v);
	int rc = m ? estream_push(s, m) : -ENOMEM;

	json_decref(m);
	return rc;
}

/* Waits for events, the stream's end, the deadline or the keepalive. */
static int wait_once(struct wstream *ws)
{
	struct pollfd pf[2] = { { iwatch_fd(ws->w), POLLIN, 0 },
				{ estream_gone_fd(ws->s), POLLIN, 0 } };
	int timeout = ws->keepalive_ms;
	int64_t left = ws->deadline_ns ? (ws->deadline_ns - clock_mono_ns()) / 1000000 : -1;

	if (ws->deadline_ns && left < timeout)
		timeout = left > 0 ? (int)left : 0;
	int n = poll(pf, 2, timeout);

	if (pf[1].revents)
		return -EPIPE;
	if (ws->deadline_ns && clock_mono_ns() >= ws->deadline_ns)
		return -ETIMEDOUT;
	if (n == 0)
		return push_event(ws->s, "keepalive", json_object());
	json_t *evs = json_array();
	size_t i;
	json_t *ev;
	int rc = 0;

	iwatch_drain(ws->w, evs, 4096);
	json_array_foreach(evs, i, ev)
		if (rc == 0)
			rc = push_event(ws->s, "filesystem", json_incref(ev));
	json_decref(evs);
	return rc;
}

static void *watch_main(void *arg)
{
	struct wstream *ws = arg;
	int rc = push_event(ws->s, "start", json_object());

	while (rc == 0)
		rc = wait_once(ws);
	if (rc == -ETIMEDOUT)
		estream_end(ws->s, "deadline_exceeded", "the watch reached its deadline");
	else
		estream_end(ws->s, rc == -EPIPE ? NULL : "internal", "watch failed");
	iwatch_free(ws->w);
	envd_stream_done(ws->e, ws->s);
	free(ws);
	return NULL;
}

void watch_stream(struct envd *e, const struct envd_box *b, const json_t *req,
		  int keepalive_ms, int64_t deadline_ns, struct envd_out *out)
{
	char path[PATH_MAX];
	const char *code;
	struct wstream *ws = calloc(1, sizeof(*ws));
	int rc = ws ? open_watch(b, req, &ws->w, path, sizeof(path), &code) : -ENOMEM;
	pthread_t th;

	if (rc < 0) {
		free(ws);
		out_stream_error(out, ws ? code : "internal", "cannot watch: %s", strerror(-rc));
		return;
	}
	ws->e = e;
	ws->keepalive_ms = keepalive_ms;
	ws->deadline_ns = deadline_ns;
	rc = envd_stream_begin(e, &ws->s);
	if (rc == 0) {
		struct estream *s = ws->s;

		/* The reply's reference first: the thread may end the stream
		 * (and free ws) before pthread_create returns. */
		out_stream(out, s);
		if (pthread_create(&th, NULL, watch_main, ws) == 0) {
			pthread_detach(th);
			return;
		}
		envd_out_release(out);
		envd_stream_done(e, s);
	}
	iwatch_free(ws->w);
	free(ws);
	out_stream_error(out, "resource_exhausted", "too many streams");
}

/* ---- polled watchers ---- */

struct watchers *watchers_new(void)
{
	struct watchers *ws = calloc(1, sizeof(*ws));

	if (ws)
		pthread_mutex_init(&ws->lock, NULL);
	return ws;
}

static void watcher_free(struct watcher *w)
{
	if (!w)
		return;
	iwatch_free(w->w);
	json_decref(w->pending);
	free(w);
}

void watchers_free(struct watchers *ws)
{
	if (!ws)
		return;
	for (size_t i = 0; i < MAX_WATCHERS; i++)
		watcher_free(ws->t[i]);
	pthread_mutex_destroy(&ws->lock);
	free(ws);
}

/* Takes watcher `id` of sandbox `sbx` out of the table (the caller puts
 * it back or frees it), so no lock is held while it is read. */
static struct watcher *take(struct watchers *ws, const char *sbx, const json_t *id, size_t *slot)
{
	struct watcher *w = NULL;
	const char *s = json_string_value(id);

	pthread_mutex_lock(&ws->lock);
	for (size_t i = 0; s && i < MAX_WATCHERS && !w; i++)
		if (ws->t[i] && !strcmp(ws->t[i]->id, s) && !strcmp(ws->t[i]->sandbox, sbx)) {
			w = ws->t[i];
			ws->t[i] = NULL;
			*slot = i;
		}
	pthread_mutex_unlock(&ws->lock);
	return w;
}

static void put_back(struct watchers *ws, struct watcher *w, size_t slot)
{
	pthread_mutex_lock(&ws->lock);
	ws->t[slot] = w;
	pthread_mutex_unlock(&ws->lock);
}

static bool insert(struct watchers *ws, struct watcher *w)
{
	bool ok = false;

	pthread_mutex_lock(&ws->lock);
	for (size_t i = 0; i < MAX_WATCHERS && !ok; i++)
		if (!ws->t[i]) {
			ws->t[i] = w;
			ok = true;
		}
	pthread_mutex_unlock(&ws->lock);
	return ok;
}

static void create_watcher(struct watchers *ws, const struct envd_box *b, const json_t *req,
			   struct envd_out *out)
{
	char path[PATH_MAX], hex[17];
	const char *code;
	struct watcher *w = calloc(1, sizeof(*w));
	int rc = w ? open_watch(b, req, &w->w, path, sizeof(path), &code) : -ENOMEM;

	if (rc < 0) {
		watcher_free(w);
		out_cx_error(out, w ? code : "internal", "cannot watch: %s", strerror(-rc));
		return;
	}
	util_random_hex(hex, 8);
	snprintf(w->id, sizeof(w->id), "w%s", hex);
	snprintf(w->sandbox, sizeof(w->sandbox), "%s", b->id);
	w->pending = json_array();
	if (!insert(ws, w)) {
		watcher_free(w);
		out_cx_error(out, "resource_exhausted", "too many watchers (%d)", MAX_WATCHERS);
		return;
	}
	out_json(out, 200, json_pack("{s:s}", "watcherId", w->id));
}

bool watchers_unary(struct watchers *ws, const struct envd_box *b, const char *name,
		    const json_t *req, struct envd_out *out)
{
	struct watcher *w;
	size_t slot = 0;

	if (!strcmp(name, "CreateWatcher")) {
		create_watcher(ws, b, req, out);
		return true;
	}
	if (strcmp(name, "GetWatcherEvents") != 0 && strcmp(name, "RemoveWatcher") != 0)
		return false;
	if (!(w = take(ws, b->id, json_object_get(req, "watcherId"), &slot))) {
		out_cx_error(out, "not_found", "watcher not found");
		return true;
	}
	if (!strcmp(name, "RemoveWatcher")) {
		watcher_free(w);
		out_json(out, 200, json_object());
		return true;
	}
	iwatch_drain(w->w, w->pending, MAX_PENDING);
	out_json(out, 200, json_pack("{s:o}", "events", w->pending));
	w->pending = json_array();
	put_back(ws, w, slot);
	return true;
}
