/* A sandbox's record (registry/) and what runs it (runtime/), changed
 * together for the handlers, the expiry thread and a restart.  With the
 * record runtime these are the registry calls alone.  Every function
 * returns 0 or -errno as the registry does (-EAGAIN at the sandbox limit,
 * -ENOENT for an unknown sandbox, -EBUSY for a pause of a paused one). */
#ifndef SBXD_BOXES_H
#define SBXD_BOXES_H

#include "api/handlers.h"
#include "registry/sandbox.h"
#include "sbxd.h"

#include <jansson.h>
#include <stdbool.h>

/* Makes the runtime, then commits the record; *out as reg_create.  A
 * runtime failure sets its own reply in rp (400 for a template's missing
 * rootfs, 500 with the reason) and returns its -errno; other failures
 * leave rp to the caller. */
int boxes_create(struct api_ctx *s, struct sandbox_spec *spec, const char *rootfs,
		 json_t **out, struct reply *rp);
/* Commits the removal, then kills every process and removes the root. */
int boxes_kill(struct api_ctx *s, const char *id);
/* Freezes every process, then commits. */
int boxes_pause(struct api_ctx *s, const char *id);
/* Commit, then thaw. */
int boxes_resume(struct api_ctx *s, const char *id, unsigned timeout_s, json_t **out);
int boxes_connect(struct api_ctx *s, const char *id, unsigned timeout_s, json_t **out,
		  int *resumed);
/* Opens the runtime cfg->runtime names into s->rt; "auto" falls back to
 * record where bwrap cannot run, saying why in the log.  0, or -errno
 * with *err (caller frees). */
int boxes_open_runtime(struct api_ctx *s, const struct sbxd_config *cfg,
		       const char *state_dir, char **err);
/* The registry's expiry callback (reg_set_expired); ctx is the api_ctx. */
void boxes_expired(void *ctx, const char *id, bool paused);
/* After a restart: a fresh init for every stored sandbox (paused ones
 * frozen at once), then the roots of sandboxes that ended are removed. */
void boxes_restore(struct api_ctx *s);

#endif
