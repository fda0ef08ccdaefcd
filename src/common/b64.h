/* Base64 as the Connect JSON mapping carries bytes (process input and
 * output) and as HTTP Basic credentials are written.  Shared by sbxfs and
 * sbxd; libc only, pure. */
#ifndef COMMON_B64_H
#define COMMON_B64_H

#include <stddef.h>

/* The standard encoding of len bytes at data, padded, NUL-terminated and
 * malloc'd (the caller frees it); NULL when out of memory. */
char *b64_encode(const void *data, size_t len);

/* Decodes len characters at in into out (at most max bytes, *outlen the
 * count).  Accepts the standard and the URL-safe alphabet, with or
 * without padding.  -EINVAL on any other character, a lone final
 * character, or more than max bytes; out may then hold a part. */
int b64_decode(const char *in, size_t len, char *out, size_t max, size_t *outlen);

/* As b64_decode into a buffer of its own: *out malloc'd (the caller frees
 * it) on success, NULL otherwise; -ENOMEM when out of memory. */
int b64_decode_new(const char *in, size_t len, char **out, size_t *outlen);

#endif
