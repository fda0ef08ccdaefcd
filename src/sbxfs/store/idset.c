/* The ID set: an array in insertion order under one mutex.  It holds a
 * handful of entries (sandboxes whose last state write failed midway), so
 * a linear scan beats a structure. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "idset.h"

struct idset {
	pthread_mutex_t lock;     /* guards ids and n */
	char **ids;               /* oldest first */
	size_t n, cap;
};

struct idset *idset_new(size_t cap)
{
	struct idset *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cap = cap ? cap : 1;
	s->ids = calloc(s->cap, sizeof(*s->ids));
	if (!s->ids) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

void idset_free(struct idset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->ids[i]);
	free(s->ids);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static size_t find(const struct idset *s, const char *id)
{
	size_t i = 0;

	while (i < s->n && strcmp(s->ids[i], id) != 0)
		i++;
	return i;
}

static void remove_at(struct idset *s, size_t i)
{
	free(s->ids[i]);
	memmove(s->ids + i, s->ids + i + 1, (s->n - i - 1) * sizeof(*s->ids));
	s->n--;
}

void idset_add(struct idset *s, const char *id)
{
	char *copy;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	if (find(s, id) == s->n && (copy = strdup(id)) != NULL) {
		if (s->n == s->cap)
			remove_at(s, 0);
		s->ids[s->n++] = copy;
	}
	pthread_mutex_unlock(&s->lock);
}

bool idset_take(struct idset *s, const char *id)
{
	bool found = false;
	size_t i;

	if (!s)
		return false;
	pthread_mutex_lock(&s->lock);
	if ((i = find(s, id)) < s->n) {
		remove_at(s, i);
		found = true;
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}
