/* Open addressing keyed by a 64-bit hash of the path, holding a 64-bit hash
 * of the content.  Neither the path nor the content is stored: a path
 * whose hash collides with another's overwrites its slot, and then its next
 * note compares against the other path's content and (short of a second,
 * 64-bit collision) answers false, so a collision costs a reread, never a
 * stale page. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kcache.h"

#define KCACHE_MIN_SLOTS 1024
#define KCACHE_DEFAULT_MAX 32768

struct slot {
	uint64_t key;              /* 0: empty */
	uint64_t tag;
};

struct kcache {
	pthread_mutex_t lock;      /* guards everything below */
	struct slot *slots;        /* NULL until the first note */
	size_t n_slots;            /* a power of two, at least 2 x count */
	size_t count;
	size_t max_entries;
};

/* FNV-1a: short inputs, no need for more. */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL

struct kcache *kcache_new(size_t max_entries)
{
	struct kcache *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	pthread_mutex_init(&k->lock, NULL);
	k->max_entries = max_entries ? max_entries : KCACHE_DEFAULT_MAX;
	return k;
}

void kcache_free(struct kcache *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k->slots);
	free(k);
}

static struct slot *find_slot(struct slot *slots, size_t n_slots, uint64_t key)
{
	size_t i = (size_t)key & (n_slots - 1);

	while (slots[i].key && slots[i].key != key)
		i = (i + 1) & (n_slots - 1);
	return &slots[i];
}

/* Makes room for one more path: grows (rehashing) while under max_entries,
 * else starts over.  false when no table could be had. */
static bool make_room(struct kcache *k)
{
	size_t n = k->n_slots ? k->n_slots * 2 : KCACHE_MIN_SLOTS;
	struct slot *grown;

	if (k->slots && k->count >= k->max_entries) {
		memset(k->slots, 0, k->n_slots * sizeof(*k->slots));
		k->count = 0;
		return true;
	}
	if (k->slots && 2 * (k->count + 1) <= k->n_slots)
		return true;
	if ((grown = calloc(n, sizeof(*grown))) == NULL)
		return false;
	for (size_t i = 0; i < k->n_slots; i++)
		if (k->slots[i].key)
			*find_slot(grown, n, k->slots[i].key) = k->slots[i];
	free(k->slots);
	k->slots = grown;
	k->n_slots = n;
	return true;
}

bool kcache_note(struct kcache *k, const char *path, const char *content, size_t len)
{
	uint64_t key = hash_bytes(FNV_OFFSET, path, strlen(path));
	uint64_t tag = hash_bytes(hash_bytes(FNV_OFFSET, &len, sizeof(len)), content, len);
	struct slot *s;
	bool same = false;

	if (!k)
		return false;
	key = key ? key : 1;
	pthread_mutex_lock(&k->lock);
	if (k->slots && (s = find_slot(k->slots, k->n_slots, key))->key) {
		same = s->tag == tag;
		s->tag = tag;
	} else if (make_room(k)) {
		s = find_slot(k->slots, k->n_slots, key);
		s->key = key;
		s->tag = tag;
		k->count++;
	}
	pthread_mutex_unlock(&k->lock);
	return same;
}

void kcache_clear(struct kcache *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	if (k->slots)
		memset(k->slots, 0, k->n_slots * sizeof(*k->slots));
	k->count = 0;
	pthread_mutex_unlock(&k->lock);
}

size_t kcache_count(struct kcache *k)
{
	size_t n;

	pthread_mutex_lock(&k->lock);
	n = k->count;
	pthread_mutex_unlock(&k->lock);
	return n;
}
