/* MOUNT/<sbx>/logs as a growing file: per sandbox, a bounded local copy
 * of the log lines fetched so far and the cursor to fetch only newer ones
 * (GET /v2/sandboxes/{id}/logs, forward from the newest line held).
 *
 * The copy is a window of a stream that only grows: byte offsets count
 * from the first line fetched since the mount, the window holds the last
 * max_bytes of it (whole lines; the oldest go first).  Each reader keeps
 * its origin (the window's start when it opened), so its offsets stay put
 * while lines are dropped below it; a reader that falls so far behind that
 * its next byte was dropped skips to the oldest byte kept.
 *
 * Nothing here resumes, connects or extends a sandbox: logs are the
 * control plane's, readable while the sandbox is paused, and after it is
 * killed for as long as the server keeps them.  Fetches are single flight
 * per sandbox; no lock is held over a request.  Copies nobody has open
 * are kept for the next reader, up to LOGS_IDLE_MAX of them and
 * LOGS_IDLE_BYTES in all (least recently used go first).  Thread-safe;
 * every function returns 0 (or a count) or -errno. */
#ifndef SBXFS_STORE_LOGS_H
#define SBXFS_STORE_LOGS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "api/api.h"

#define LOGS_MAX_BYTES (8u << 20)
#define LOGS_IDLE_MAX 32
#define LOGS_IDLE_BYTES (32u << 20)
/* Pages of 1000 lines one update fetches at most (the rest next time). */
#define LOGS_PAGES_MAX 16

struct logs;
struct logs_sbx;

/* api borrowed; max_bytes per sandbox (0: LOGS_MAX_BYTES).  NULL on
 * ENOMEM. */
struct logs *logs_new(struct api *api, size_t max_bytes);
/* Frees every copy; none may be open.  NULL is a no-op. */
void logs_free(struct logs *L);

/* What is known of id's log: the bytes held and when a line was last
 * added (0: none yet); both 0 for a sandbox never read.  No request,
 * unless a reader has the copy open (someone follows it, as tail -f
 * does by stat): then first logs_update(min_age_ms). */
void logs_known(struct logs *L, const char *id, long min_age_ms, uint64_t *size,
		time_t *mtime);

/* Pins id's copy (made empty when there is none) for a reader: *out until
 * logs_close(), *origin the window's start.  -ENOMEM. */
int logs_open(struct logs *L, const char *id, struct logs_sbx **out, uint64_t *origin);
void logs_close(struct logs *L, struct logs_sbx *e);

/* Fetches the lines newer than the copy, unless an update that started
 * after this call did, or one ended less than min_age_ms ago (0: fetch
 * in any case).  Waits for one in flight (it ends within the API's
 * deadline).  0, or the API's -errno (the copy is kept as it was). */
int logs_update(struct logs *L, struct logs_sbx *e, long min_age_ms);

/* Copies up to size bytes at offset off of a reader with *origin into
 * buf: the count, 0 at the end.  *origin moves up when the bytes at off
 * were dropped (see above). */
size_t logs_read(struct logs *L, struct logs_sbx *e, uint64_t *origin, char *buf, size_t size,
		 uint64_t off);
/* The size a reader with *origin sees, and the time a line was last
 * added (0: none).  *origin is read under the lock logs_read moves it
 * under. */
void logs_size(struct logs *L, struct logs_sbx *e, const uint64_t *origin, uint64_t *size,
	       time_t *mtime);

#endif
