/* Request counters; see stats.h. */
#include "stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct stats {
	/* Guards `total` and `routes`; counts must be exact, so increments
	 * are never racy. */
	pthread_mutex_t lock;
	json_int_t total;
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

void stats_count(struct stats *s, const char *key)
{
	pthread_mutex_lock(&s->lock);
	json_t *v = json_object_get(s->routes, key);
	if (v)
		json_integer_set(v, json_integer_value(v) + 1);
	else
		json_object_set_new(s->routes, key, json_integer(1));
	s->total++;
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
	pthread_mutex_unlock(&s->lock);
}

json_t *stats_json(struct stats *s)
{
	pthread_mutex_lock(&s->lock);
	json_t *o = json_pack("{s:I, s:O}", "requests", s->total, "routes", s->routes);
	json_t *copy = json_deep_copy(o);
	json_decref(o);
	pthread_mutex_unlock(&s->lock);
	return copy;
}
