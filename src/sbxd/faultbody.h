/* The broken responses the fault API sends.  Built from fake data: a
 * faulted request never runs its handler, so it never changes state. */
#ifndef SBXD_FAULTBODY_H
#define SBXD_FAULTBODY_H

#include "faults.h"

#include <stdbool.h>
#include <stddef.h>

struct fault_reply {
	int status;
	char *data;             /* malloc'd; caller frees */
	size_t len;
	const char *content_type;
	const char *hdr_name;   /* an extra header, or NULL */
	char hdr_value[64];
};

/* Renders the body for `act` (act->body != FAULT_BODY_NONE/DROP, or a
 * bare act->status).  `list` says the route answers a JSON array.
 * Returns 0 or -ENOMEM. */
int fault_render(const struct fault_action *act, bool list, struct fault_reply *out);

#endif
