/* Per-sandbox disk usage, walked seldom (see usage.h).
 *
 * u->lock guards the slots.  A slot with at == 0 is empty.  Two requests
 * that both find a slot stale both walk: the second's result replaces the
 * first's, and either is right. */
#include "envd/usage.h"

#include "envd/path.h"
#include "common/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entries a walk counts at most (ep_usage). */
#define WALK_MAX_ENTRIES 100000

struct slot {
	char id[65];
	int64_t bytes;          /* the walk's sum plus what was added since */
	int64_t at;             /* when the walk ended (monotonic ms); 0: empty */
	int64_t valid_ms;       /* how long it is reused */
	int64_t used;           /* last use, for the eviction */
};

struct usage {
	pthread_mutex_t lock;
	int ttl_ms;
	int64_t tick;           /* a use counter: the least recently used goes */
	struct slot slots[USAGE_SLOTS];
};

struct usage *usage_new(int ttl_ms)
{
	struct usage *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	pthread_mutex_init(&u->lock, NULL);
	u->ttl_ms = ttl_ms;
	return u;
}

void usage_free(struct usage *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->lock);
	free(u);
}

/* id's slot, or NULL.  Locked. */
static struct slot *find(struct usage *u, const char *id)
{
	for (size_t i = 0; i < USAGE_SLOTS; i++)
		if (u->slots[i].at && !strcmp(u->slots[i].id, id))
			return &u->slots[i];
	return NULL;
}

/* An empty slot, else the least recently used one.  Locked. */
static struct slot *victim(struct usage *u)
{
	struct slot *v = &u->slots[0];

	for (size_t i = 0; i < USAGE_SLOTS; i++) {
		if (!u->slots[i].at)
			return &u->slots[i];
		if (u->slots[i].used < v->used)
			v = &u->slots[i];
	}
	return v;
}

int64_t usage_get(struct usage *u, const char *id, int root)
{
	int64_t now = clock_mono_ms(), t0, took, sum;
	struct slot *s;

	pthread_mutex_lock(&u->lock);
	s = find(u, id);
	if (s && now - s->at < s->valid_ms) {
		s->used = ++u->tick;
		sum = s->bytes;
		pthread_mutex_unlock(&u->lock);
		return sum;
	}
	pthread_mutex_unlock(&u->lock);

	t0 = clock_mono_ms();
	sum = ep_usage(root, WALK_MAX_ENTRIES);
	now = clock_mono_ms();
	took = now - t0;

	pthread_mutex_lock(&u->lock);
	if (!(s = find(u, id))) {
		s = victim(u);
		snprintf(s->id, sizeof(s->id), "%s", id);
	}
	s->bytes = sum;
	s->at = now > 0 ? now : 1;
	s->valid_ms = 20 * took > u->ttl_ms ? 20 * took : u->ttl_ms;
	s->used = ++u->tick;
	pthread_mutex_unlock(&u->lock);
	return sum;
}

void usage_add(struct usage *u, const char *id, int64_t n)
{
	struct slot *s;

	pthread_mutex_lock(&u->lock);
	if ((s = find(u, id)))
		s->bytes = s->bytes + n > 0 ? s->bytes + n : 0;
	pthread_mutex_unlock(&u->lock);
}

void usage_forget(struct usage *u, const char *id)
{
	struct slot *s;

	pthread_mutex_lock(&u->lock);
	if ((s = find(u, id)))
		s->at = 0;
	pthread_mutex_unlock(&u->lock);
}
