/* The expiry thread: sleeps until the registry's earliest end time (or until
 * the registry changes) and expires what is due. */
#ifndef SBXD_LIFECYCLE_H
#define SBXD_LIFECYCLE_H

#include "base/log.h"
#include "registry/registry.h"

struct lifecycle;

/* Registers itself as a registry listener and starts the thread.  Returns
 * NULL on failure.  `log` is borrowed and must outlive the thread. */
struct lifecycle *lifecycle_start(struct reg *r, const struct slog *log);

/* Stops and joins the thread; NULL is a no-op. */
void lifecycle_stop(struct lifecycle *lc);

#endif
