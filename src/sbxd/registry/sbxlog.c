/* Per-sandbox log rings; see sbxlog.h. */
#include "registry/sbxlog.h"

#include "common/clock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ring {
	char id[65];
	json_t *e[SBXLOG_PER_SANDBOX];  /* oldest at head */
	unsigned head, n;
	uint64_t touched;               /* for evicting the least recent */
};

struct sbxlog {
	pthread_mutex_t lock;           /* guards everything below */
	struct ring *r[SBXLOG_SANDBOXES];
	uint64_t clock;
};

static const char *const levels[] = { "debug", "info", "warn", "error" };

int sbxlog_level(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (name && !strcasecmp(name, levels[i]))
			return i;
	return -1;
}

struct sbxlog *sbxlog_new(void)
{
	struct sbxlog *l = calloc(1, sizeof(*l));

	if (l)
		pthread_mutex_init(&l->lock, NULL);
	return l;
}

static void ring_free(struct ring *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->n; i++)
		json_decref(r->e[(r->head + i) % SBXLOG_PER_SANDBOX]);
	free(r);
}

void sbxlog_free(struct sbxlog *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < SBXLOG_SANDBOXES; i++)
		ring_free(l->r[i]);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* The ring of `id`, made (evicting the least recently used) if `make`. */
static struct ring *ring_of(struct sbxlog *l, const char *id, bool make)
{
	size_t victim = SBXLOG_SANDBOXES;       /* an empty slot, else the oldest */

	for (size_t i = 0; i < SBXLOG_SANDBOXES; i++) {
		if (l->r[i] && !strcmp(l->r[i]->id, id))
			return l->r[i];
		if (victim == SBXLOG_SANDBOXES || (l->r[victim] && (!l->r[i] ||
		    l->r[i]->touched < l->r[victim]->touched)))
			victim = i;
	}
	if (!make)
		return NULL;
	struct ring *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	snprintf(r->id, sizeof(r->id), "%s", id);
	ring_free(l->r[victim]);
	l->r[victim] = r;
	return r;
}

void sbxlog_add(struct sbxlog *l, const char *id, const char *level, const char *logger,
		json_t *fields, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *e;

	if (!l) {
		json_decref(fields);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = json_pack("{s:I, s:s, s:s, s:s, s:o}", "timestampMs", (json_int_t)clock_wall_ms(),
		      "level", level, "logger", logger, "message", msg, "fields",
		      fields ? fields : json_object());
	if (!e)
		return;
	pthread_mutex_lock(&l->lock);
	struct ring *r = ring_of(l, id, true);

	if (r) {
		if (r->n == SBXLOG_PER_SANDBOX) {
			json_decref(r->e[r->head]);
			r->head = (r->head + 1) % SBXLOG_PER_SANDBOX;
			r->n--;
		}
		r->e[(r->head + r->n++) % SBXLOG_PER_SANDBOX] = e;
		r->touched = ++l->clock;
		e = NULL;
	}
	pthread_mutex_unlock(&l->lock);
	json_decref(e);
}

static bool matches(const json_t *e, const struct sbxlog_query *q)
{
	json_int_t ts = json_integer_value(json_object_get(e, "timestampMs"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (q->cursor_ms != INT64_MIN && (q->forward ? ts < q->cursor_ms : ts > q->cursor_ms))
		return false;
	if (sbxlog_level(json_string_value(json_object_get(e, "level"))) < q->min_level)
		return false;
	return !q->search || !*q->search || (msg && strstr(msg, q->search));
}

json_t *sbxlog_query(struct sbxlog *l, const char *id, const struct sbxlog_query *q)
{
	json_t *out = json_array();

	if (!l || !out)
		return out;
	pthread_mutex_lock(&l->lock);
	struct ring *r = ring_of(l, id, false);

	for (unsigned k = 0; r && k < r->n && json_array_size(out) < q->limit; k++) {
		unsigned i = q->forward ? k : r->n - 1 - k;
		json_t *e = r->e[(r->head + i) % SBXLOG_PER_SANDBOX];

		if (matches(e, q))
			json_array_append_new(out, json_deep_copy(e));
	}
	pthread_mutex_unlock(&l->lock);
	return out;
}
