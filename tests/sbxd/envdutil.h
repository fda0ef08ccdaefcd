/* Helpers for the envd tests: an in-process sbxd whose envd serves each
 * sandbox from a temporary directory (a test backend standing in for the
 * runtime), and a libcurl client that sends envd's headers. */
#ifndef SBXD_TEST_ENVDUTIL_H
#define SBXD_TEST_ENVDUTIL_H

#include "httputil.h"

#include <jansson.h>
#include <limits.h>
#include <stddef.h>

struct efix {
	struct tsrv t;
	char root[PATH_MAX];            /* the sandbox's "/" on the host */
	char templates[PATH_MAX + 32];
	char id[21];
	char token[65];
	struct rt *rt;                  /* a real runtime's, or NULL */
};

struct rt;

/* Starts sbxd, creates one sandbox and gives it a root with /home/user,
 * /root and /tmp. */
void efix_start(struct efix *f);
/* The same on a real runtime: the sandbox made in `rt` (state dir
 * `state`), envd on the runtime's backend. */
void efix_start_rt(struct efix *f, struct rt *rt, const char *state);
/* Stops sbxd and removes the root. */
void efix_stop(struct efix *f);

struct eresp {
	long status;
	char *body;                     /* NUL-terminated */
	size_t len;
	char content_type[64];
	char content_range[64];
};

/* A request to envd for f's sandbox with its token.  `hdrs`: NULL or a
 * NULL-terminated list of extra header lines (a "X-Access-Token:" there
 * replaces the default; "X-No-Token:" drops it). */
void ereq(const struct efix *f, const char *method, const char *path, const char *const *hdrs,
	  const void *body, size_t len, struct eresp *r);
/* A unary RPC with a JSON body. */
void erpc(const struct efix *f, const char *method, const char *json, struct eresp *r);
void eresp_free(struct eresp *r);
json_t *eresp_json(const struct eresp *r);
/* The Connect error code of a JSON reply ("" when none). */
const char *eresp_code(const struct eresp *r, char out[64]);

/* libcurl write callback appending to a struct eresp. */
size_t ereq_collect(char *p, size_t sz, size_t n, void *ud);
/* libcurl header callback filling a struct eresp's headers. */
size_t ereq_header(char *p, size_t sz, size_t n, void *ud);
/* Decodes base64 into out; returns the bytes written. */
size_t ebase64_decode(const char *in, char *out, size_t max);

/* The host path of sandbox path `p`. */
const char *ehost(const struct efix *f, const char *p, char out[PATH_MAX]);
/* Contents of a host file (malloc'd, NUL-terminated) or NULL. */
char *eread_host(const char *path, size_t *len);

#endif
