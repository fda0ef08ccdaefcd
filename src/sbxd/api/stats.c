/* Request counters; see stats.h. */
#include "api/stats.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

struct stats {
	/* Guards every field; counts must be exact, so increments are never
	 * racy. */
	pthread_mutex_t lock;
	json_int_t total;
	json_int_t open, accepted, refused, timed_out;
	json_t *routes;         /* object key -> integer */
};

struct stats *stats_new(const char *const *keys, size_t nkeys)
{
	struct stats *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->routes = json_object();
	if (!s->routes) {
		free(s);
		return NULL;
	}
	for (size_t i = 0; i < nkeys; i++)
		json_object_set_new(s->routes, keys[i], json_integer(0));
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

void stats_free(struct stats *s)
{
	if (!s)
		return;
	json_decref(s->routes);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Adds one to route key; total says whether it counts as a control-plane
 * request too. */
static void count(struct stats *s, const char *key, bool total)
{
	pthread_mutex_lock(&s->lock);
	json_t *v = json_object_get(s->routes, key);
	if (v)
		json_integer_set(v, json_integer_value(v) + 1);
	else
		json_object_set_new(s->routes, key, json_integer(1));
	if (total)
		s->total++;
	pthread_mutex_unlock(&s->lock);
}

void stats_count(struct stats *s, const char *key)
{
	count(s, key, true);
}

void stats_count_envd(struct stats *s, const char *method, const char *path)
{
	char key[96];

	/* envd's routes are fixed names; anything else is one key. */
	if (strcmp(path, "/files") && strcmp(path, "/files/compose") && strcmp(path, "/metrics") &&
	    strcmp(path, "/health") && strncmp(path, "/filesystem.Filesystem/", 23) &&
	    strncmp(path, "/process.Process/", 17))
		path = "other";
	if (strlen(path) > 64)
		path = "other";
	snprintf(key, sizeof(key), "envd %.8s %s", method, path);
	count(s, key, false);
}

void stats_conn(struct stats *s, enum stats_conn_event ev)
{
	pthread_mutex_lock(&s->lock);
	switch (ev) {
	case STATS_CONN_OPENED: s->open++; s->accepted++; break;
	case STATS_CONN_CLOSED: s->open--; break;
	case STATS_CONN_REFUSED: s->refused++; break;
	case STATS_CONN_TIMED_OUT: s->timed_out++; break;
	}
	pthread_mutex_unlock(&s->lock);
}

void stats_reset(struct stats *s)
{
	const char *k;
	json_t *v;

	pthread_mutex_lock(&s->lock);
	json_object_foreach(s->routes, k, v)
		json_integer_set(v, 0);
	s->total = 0;
	s->accepted = s->refused = s->timed_out = 0;
	pthread_mutex_unlock(&s->lock);
}

json_t *stats_json(struct stats *s)
{
	pthread_mutex_lock(&s->lock);
	json_t *o = json_pack("{s:I, s:O, s:{s:I, s:I, s:I, s:I}}", "requests", s->total,
			      "routes", s->routes, "connections", "open", s->open,
			      "accepted", s->accepted, "refused", s->refused,
			      "timed_out", s->timed_out);
	json_t *copy = json_deep_copy(o);
	json_decref(o);
	pthread_mutex_unlock(&s->lock);
	return copy;
}
