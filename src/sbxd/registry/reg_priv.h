/* Private to registry/: the record store's layout and the functions its
 * files share.  store.c keeps the three indexes, registry.c the changes
 * and their commit through the journal, expiry.c the end of sandboxes,
 * snapshot.c the whole-registry dump and restore.  Every function here
 * wants r->lock held. */
#ifndef SBXD_REG_PRIV_H
#define SBXD_REG_PRIV_H

#include "registry/registry.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_LISTENERS 4

struct timer {
	int64_t end_ms;
	uint64_t seq;
	uint64_t gen;
};

struct reg {
	/* Guards everything below: all three indexes, every sandbox record
	 * they point to, and next_seq.  Held only for in-memory work. */
	pthread_mutex_t lock;
	unsigned max;
	uint64_t next_seq;

	struct sandbox **by_seq;
	size_t n, cap;

	struct sandbox **buckets;
	size_t nbuckets;

	struct timer *timers;
	size_t ntimers, timers_cap;

	struct { reg_change_fn fn; void *ctx; } listeners[MAX_LISTENERS];
	int nlisteners;

	pthread_cond_t settled;     /* broadcast when records stop being busy */
	size_t ncreating;           /* creates being committed: count toward max */
	reg_commit_fn commit;       /* NULL: no journal */
	void *commit_ctx;
	reg_expired_fn expired;     /* NULL: none; set before threads start */
	void *expired_ctx;
};


/* ---- store.c: the indexes --------------------------------------------- */

/* The record of id, or NULL. */
struct sandbox *store_find(const struct reg *r, const char *id);
/* The record with creation sequence seq, or NULL. */
struct sandbox *store_find_seq(const struct reg *r, uint64_t seq);
/* Index in by_seq of the first record with seq >= `seq`. */
size_t store_lower_bound(const struct reg *r, uint64_t seq);
/* Links a fully built record (the registry's from now on) into all
 * indexes.  0 or -ENOMEM, then nothing is linked. */
int store_link(struct reg *r, struct sandbox *sb);
/* Unlinks sb from the indexes and frees it. */
void store_unlink(struct reg *r, struct sandbox *sb);
/* Arms (or re-arms) the expiry timer of a running sandbox with its end.
 * 0 or -ENOMEM. */
int store_timer_arm(struct reg *r, struct sandbox *sb);
/* True when timer t is still the current one of a running sandbox; *out
 * gets the record it names (NULL if gone). */
int store_timer_live(const struct reg *r, const struct timer *t, struct sandbox **out);
/* Drops the earliest timer; the heap must not be empty. */
void store_timer_pop(struct reg *r);

/* ---- registry.c: changes ---------------------------------------------- */

/* The change that turns sb into next (NULL: deletes it); c->record is the
 * caller's to free.  0 or -ENOMEM. */
int change_make(const struct sandbox *sb, const struct sandbox *next, struct reg_change *c);
/* Commits the n changes c of records sbs through the journal, the lock
 * dropped meanwhile (the records marked busy).  0 or the journal's -errno. */
int change_journal(struct reg *r, struct sandbox **sbs, const struct reg_change *c, size_t n);
/* Tells the listeners that the registry changed. */
void change_notify(struct reg *r);

#endif
