/* The broken responses the fault API sends.  Built from fake data: a
 * faulted request never runs its handler, so it never changes state. */
#ifndef SBXD_FAULTBODY_H
#define SBXD_FAULTBODY_H

#include "api/faults.h"

#include <stdbool.h>
#include <stddef.h>

/* A body produced as it is sent instead of held in memory (the 5 MiB
 * oversize one): `head`, then `unit` `reps` times joined by `sep`, then
 * `tail`.  All strings malloc'd and owned. */
struct fault_stream {
	char *head, *unit, *sep, *tail;
	size_t head_len, unit_len, sep_len, tail_len, reps;
};

struct fault_reply {
	int status;
	char *data;             /* malloc'd; caller frees */
	size_t len;
	struct fault_stream *stream;    /* instead of data; fault_stream_free */
	const char *content_type;
	const char *hdr_name;   /* an extra header, or NULL */
	char hdr_value[64];
};

/* The stream's total length. */
size_t fault_stream_len(const struct fault_stream *fs);

/* Copies up to `max` bytes from offset `pos` into buf; returns how many
 * (0 at the end). */
size_t fault_stream_read(const struct fault_stream *fs, size_t pos, char *buf, size_t max);

void fault_stream_free(struct fault_stream *fs);

/* Renders the body for `act` (act->body != FAULT_BODY_NONE/DROP, or a
 * bare act->status).  `list` says the route answers a JSON array.
 * Returns 0 or -ENOMEM. */
int fault_render(const struct fault_action *act, bool list, struct fault_reply *out);

#endif
