/* registry/: the state sbxd serves.  The sandbox records and their JSON
 * views (model.c), the changes to them and their commit to the journal,
 * expiry (lifecycle.c), persistence in SQLite (persist.c) and the template
 * store (templates.c).  Uses base/ and src/common only: no HTTP.
 *
 * The sandbox registry: every sandbox sbxd knows, indexed by ID, ordered by
 * creation sequence (for stable pagination) and by end time (for expiry).
 * All functions are thread-safe; none blocks on I/O or sleeps. */
#ifndef SBXD_REGISTRY_H
#define SBXD_REGISTRY_H

#include "registry/sandbox.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct reg;

/* Called with the registry lock held after every change (create, kill,
 * timeout, pause, resume, expiry, restore).  Must not block or call back
 * into the registry: listeners only signal their own threads. */
typedef void (*reg_change_fn)(void *ctx);

/* One change of a sandbox's durable state, handed to the journal. */
struct reg_change {
	uint64_t seq;               /* the sandbox's key */
	const char *id;             /* borrowed */
	char *record;               /* its stored form as JSON text; NULL: gone */
};

/* Commits `n` changes durably, as one transaction, blocking until done;
 * called without the registry lock from any thread.  0 or -errno, and on
 * failure none of them is stored. */
typedef int (*reg_commit_fn)(void *ctx, const struct reg_change *c, size_t n);

enum { REG_RUNNING = 1, REG_PAUSED = 2 };

struct reg_filter {
	unsigned states;            /* REG_RUNNING | REG_PAUSED bits; 0: both */
	const json_t *metadata;     /* NULL or object: every pair must match */
	const char *template_name;  /* NULL or a template ID / alias */
	int64_t started_after_ms;   /* INT64_MIN: no bound */
	int ascending;              /* 0: newest first */
	unsigned limit;             /* 0: unlimited */
	uint64_t cursor;            /* 0: from the start; else the last seq seen */
};

/* max_sandboxes 0 means unlimited.  Returns NULL on allocation failure. */
struct reg *reg_new(unsigned max_sandboxes);
void reg_free(struct reg *r);

/* Registers a change listener (at most 4); call before threads start. */
int reg_add_listener(struct reg *r, reg_change_fn fn, void *ctx);

/* Sets the journal; NULL: none, changes apply at once.  With one, every
 * change below commits first and applies to memory only once committed, so
 * a reader never sees an uncommitted change and a failed commit (the
 * journal's -errno, e.g. -ENOSPC, -EROFS, -EIO) changes nothing.  Changes
 * of one sandbox wait for each other (-ETIMEDOUT after 30 s).  Call before
 * threads start or once they stopped. */
void reg_set_journal(struct reg *r, reg_commit_fn fn, void *ctx);

/* Creates a running sandbox ending at now + spec->timeout_s; *out gets its
 * Sandbox view (caller owns).  -EAGAIN at the sandbox limit, -EEXIST when
 * spec->id is taken, -ENOMEM. */
int reg_create(struct reg *r, const struct sandbox_spec *spec, int64_t now_ms,
	       json_t **out);

/* 0 and *out (caller owns), or -ENOENT. */
int reg_get(struct reg *r, const char *id, enum sbx_view view, json_t **out);

/* 0 or -ENOENT. */
int reg_kill(struct reg *r, const char *id);

/* Sets end = now + timeout (shortening allowed).  0 or -ENOENT. */
int reg_set_timeout(struct reg *r, const char *id, unsigned timeout_s, int64_t now_ms);

/* Extends end to at least now + duration of a running sandbox.  0, -ENOENT. */
int reg_refresh(struct reg *r, const char *id, unsigned duration_s, int64_t now_ms);

/* 0, -ENOENT, or -EBUSY when already paused. */
int reg_pause(struct reg *r, const char *id);

/* Resumes a paused sandbox with end = now + timeout; *out gets the Sandbox
 * view.  0, -ENOENT, or -EBUSY when it is running. */
int reg_resume(struct reg *r, const char *id, unsigned timeout_s, int64_t now_ms,
	       json_t **out);

/* Resumes a paused sandbox (*resumed = 1, end = now + timeout) or extends a
 * running one (*resumed = 0, end = max(end, now + timeout)). */
int reg_connect(struct reg *r, const char *id, unsigned timeout_s, int64_t now_ms,
		json_t **out, int *resumed);

/* One page of ListedSandbox objects into *out (caller owns).  *next gets the
 * cursor for the following page, or 0 when this is the last one. */
int reg_list(struct reg *r, const struct reg_filter *f, json_t **out, uint64_t *next);

size_t reg_count(struct reg *r);

/* Called by reg_expire_due, without the registry lock, for each sandbox it
 * expired (committed): paused (autoPause) or removed. */
typedef void (*reg_expired_fn)(void *ctx, const char *id, bool paused);

/* Sets the expiry callback; call before threads start. */
void reg_set_expired(struct reg *r, reg_expired_fn fn, void *ctx);

/* Expires running sandboxes whose end is <= now: removed, or paused when
 * autoPause.  Sets *next_ms to the earliest remaining end (INT64_MAX: none),
 * or to a retry a second away when the journal failed.  Returns how many
 * expired. */
size_t reg_expire_due(struct reg *r, int64_t now_ms, int64_t *next_ms);

/* The whole registry in its stored form (caller owns). */
json_t *reg_dump(struct reg *r);

/* Adds the sandboxes of a reg_dump() document, expiring those whose end
 * passed.  Returns the number kept, or -EINVAL with *err set (caller frees). */
int reg_restore(struct reg *r, const json_t *doc, int64_t now_ms, char **err);

#endif
