/* The secrets the process holds, and the one way text from a server, curl
 * or the user becomes printable before it reaches the log, .sbxfs/status
 * or an error message.
 *
 * The set holds every secret in use (the API key; per-sandbox access
 * tokens later).  A secret is counted: added twice, it stays until removed
 * twice.  Thread-safe: a rwlock guards the set, scrub_text() holds it for
 * reading while it scans (never across I/O).  Depends on libc and pthreads
 * only, so it can move to code shared with sbxd. */
#ifndef SBXFS_SCRUB_H
#define SBXFS_SCRUB_H

#include <stddef.h>

/* Adds a copy of secret.  0, -EINVAL for NULL or "", -ENOMEM. */
int scrub_add(const char *secret);
/* Drops one count of secret; one that is not in the set is ignored. */
void scrub_remove(const char *secret);
/* Forgets every secret (at exit, and between tests). */
void scrub_reset(void);

/* Copies src (len bytes, need not be NUL-terminated; NULL reads as "")
 * into dst as one printable line, always NUL-terminated when dstlen > 0:
 *  - every occurrence of a secret, verbatim or %-encoded, becomes "***";
 *    a text that starts with the end of a secret or ends with its start
 *    (8 bytes or more: a secret cut by whoever cut the text) too.
 *    Matching runs over all of src before anything is cut;
 *  - control bytes, DEL and bytes that are not valid UTF-8 become '?';
 *  - a text that does not fit is cut between characters and ends "...".
 * Returns the length written. */
size_t scrub_text(char *dst, size_t dstlen, const char *src, size_t len);

#endif
