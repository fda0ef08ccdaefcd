/* Open addressing keyed by a 64-bit hash of the path, holding a 64-bit hash
 * of the content.  Neither the path nor the content is stored.  Two paths
 * whose hashes collide share one entry: each sees the other's version as a
 * change, which costs rereads and direct I/O, never a stale page. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pagecache.h"

#define KCACHE_MIN_SLOTS 1024
#define KCACHE_DEFAULT_MAX 32768
#define FNV_OFFSET 0xcbf29ce484222325ULL

struct slot {
	uint64_t key;              /* 0: empty */
	uint64_t tag;              /* 0: no version the kernel holds */
	size_t len;                /* of that version */
	unsigned opens;            /* page-cached opens of it */
	bool fresh;                /* its kernel copy is being dropped */
};

struct kcache {
	pthread_mutex_t lock;      /* guards everything below */
	struct slot *slots;        /* NULL until the first open */
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

static uint64_t path_key(const char *path)
{
	uint64_t key = hash_bytes(FNV_OFFSET, path, strlen(path));

	return key ? key : 1;
}

static uint64_t content_tag(const char *content, size_t len)
{
	uint64_t tag = hash_bytes(hash_bytes(FNV_OFFSET, &len, sizeof(len)), content, len);

	return tag ? tag : 1;
}

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

static struct slot *lookup(struct kcache *k, uint64_t key)
{
	struct slot *s;

	if (!k->slots)
		return NULL;
	s = find_slot(k->slots, k->n_slots, key);
	return s->key ? s : NULL;
}

/* Rehashes into n slots, dropping idle paths when idle_too is false. */
static bool rebuild(struct kcache *k, size_t n, bool idle_too)
{
	struct slot *fresh = calloc(n, sizeof(*fresh));

	if (!fresh)
		return false;
	k->count = 0;
	for (size_t i = 0; i < k->n_slots; i++) {
		const struct slot *s = &k->slots[i];

		if (s->key && (idle_too || s->opens || s->fresh)) {
			*find_slot(fresh, n, s->key) = *s;
			k->count++;
		}
	}
	free(k->slots);
	k->slots = fresh;
	k->n_slots = n;
	return true;
}

/* A new entry for key, or NULL when none can be had. */
static struct slot *insert(struct kcache *k, uint64_t key)
{
	struct slot *s;

	if (k->count >= k->max_entries)
		rebuild(k, k->n_slots, false);
	if (k->count >= k->max_entries)
		return NULL;   /* every path has page-cached opens */
	if ((!k->slots || 2 * (k->count + 1) > k->n_slots) &&
	    !rebuild(k, k->n_slots ? k->n_slots * 2 : KCACHE_MIN_SLOTS, true))
		return NULL;
	s = find_slot(k->slots, k->n_slots, key);
	memset(s, 0, sizeof(*s));
	s->key = key;
	k->count++;
	return s;
}

enum kcache_use kcache_open(struct kcache *k, const char *path, const char *content,
			    size_t len, uint64_t *key)
{
	uint64_t tag = content_tag(content, len);
	enum kcache_use use = KCACHE_DIRECT;
	struct slot *s;

	*key = path_key(path);
	if (!k)
		return KCACHE_DIRECT;
	pthread_mutex_lock(&k->lock);
	if ((s = lookup(k, *key)) == NULL)
		s = insert(k, *key);
	if (s == NULL || s->fresh) {
		use = KCACHE_DIRECT;   /* another open is switching versions */
	} else if (s->tag == tag) {
		s->opens++;
		use = KCACHE_KEEP;
	} else if (s->opens == 0) {
		s->tag = tag;
		s->len = len;
		s->opens = 1;
		s->fresh = true;
		use = KCACHE_FRESH;
	}
	pthread_mutex_unlock(&k->lock);
	return use;
}

void kcache_fresh_done(struct kcache *k, uint64_t key)
{
	struct slot *s;

	pthread_mutex_lock(&k->lock);
	if ((s = lookup(k, key)) != NULL)
		s->fresh = false;
	pthread_mutex_unlock(&k->lock);
}

void kcache_release(struct kcache *k, uint64_t key)
{
	struct slot *s;

	pthread_mutex_lock(&k->lock);
	if ((s = lookup(k, key)) != NULL && s->opens > 0)
		s->opens--;
	pthread_mutex_unlock(&k->lock);
}

size_t kcache_size(struct kcache *k, const char *path, const char *content, size_t len)
{
	struct slot *s;

	if (!k)
		return len;
	pthread_mutex_lock(&k->lock);
	if ((s = lookup(k, path_key(path))) != NULL) {
		if (s->opens > 0 || s->fresh)
			len = s->len;
		else if (s->tag != content_tag(content, len))
			s->tag = 0;   /* the kernel gets another version's size */
	}
	pthread_mutex_unlock(&k->lock);
	return len;
}

size_t kcache_count(struct kcache *k)
{
	size_t n;

	pthread_mutex_lock(&k->lock);
	n = k->count;
	pthread_mutex_unlock(&k->lock);
	return n;
}
