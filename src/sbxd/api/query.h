/* Query-string parsing for the list routes and the opaque page tokens. */
#ifndef SBXD_QUERY_H
#define SBXD_QUERY_H

#include "registry/registry.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The raw (already once URL-decoded) query values; NULL when absent. */
struct list_params {
	const char *state;          /* "running,paused" */
	const char *metadata;       /* "k=v&k2=v2", each part URL-encoded again */
	const char *limit;
	const char *next_token;
	const char *order;          /* asc | desc */
	const char *started_after;  /* RFC 3339 */
	const char *template_name;
};

/* A parsed list query.  `metadata` is owned; free with q_list_free. */
struct list_query {
	struct reg_filter filter;
	json_t *metadata;
};

/* Fills *q.  `v2` enables state/limit/nextToken/order; v1 lists running
 * sandboxes only, unpaginated.  Returns 0 or -EINVAL with err set. */
int q_parse_list(const struct list_params *p, int v2, struct list_query *q,
		 char *err, size_t errlen);
void q_list_free(struct list_query *q);

/* Encodes a cursor as an opaque token into out (at least 32 bytes). */
void q_token_encode(uint64_t cursor, char *out, size_t outlen);

/* Decodes a token; 0 and *cursor, or -EINVAL for anything not made by
 * q_token_encode. */
int q_token_decode(const char *token, uint64_t *cursor);

#endif
