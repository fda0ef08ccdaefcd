/* A streaming multipart/form-data parser: bytes go in as they arrive and
 * come out through callbacks, part by part, so an upload of any size needs
 * only the parser's few hundred bytes.  Pure; no I/O. */
#ifndef SBXD_ENVD_MULTIPART_H
#define SBXD_ENVD_MULTIPART_H

#include <stddef.h>

#define MP_MAX_PARTS 1000

struct mp;

/* Each returns 0 or -errno, which stops the parser and comes back from
 * mp_feed.  Names are NUL-free strings borrowed for the call; a part
 * without filename gets "" (and has_filename 0). */
struct mp_callbacks {
	int (*begin)(void *ctx, const char *name, const char *filename, int has_filename);
	int (*data)(void *ctx, const char *p, size_t n);
	int (*end)(void *ctx);
	void *ctx;
};

/* The boundary parameter of a multipart/form-data Content-Type into out.
 * 0 or -EINVAL. */
int mp_boundary(const char *content_type, char *out, size_t outlen);

/* NULL on ENOMEM.  `cb` is copied. */
struct mp *mp_new(const char *boundary, const struct mp_callbacks *cb);
void mp_free(struct mp *m);

/* Parses the next bytes.  0, -EBADMSG for a malformed body (bad headers,
 * too many parts), or a callback's error. */
int mp_feed(struct mp *m, const char *p, size_t n);

/* The body ended: 0 when it ended with the closing boundary, else
 * -EBADMSG. */
int mp_finish(struct mp *m);

#endif
