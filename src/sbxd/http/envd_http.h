/* The envd requests of sbxd's listener: those naming a sandbox (header or
 * Host) bypass the API key, the body cap and the request deadline, and go
 * to envd/ with their bodies streamed; replies may come from a file
 * descriptor.  Used by server.c only. */
#ifndef SBXD_ENVD_HTTP_H
#define SBXD_ENVD_HTTP_H

#include "envd/envd.h"

#include <microhttpd.h>
#include <stdbool.h>

struct ehttp;
struct faults;

/* True when the request is for envd; *id gets its sandbox ("" if bad). */
bool ehttp_claim(struct MHD_Connection *conn, char id[65]);

/* The first callback of a claimed request.  Either *h gets the state to
 * pass to ehttp_step, or the reply is queued at once (*status set).  With
 * faults (or NULL), a cut_after_bytes fault closes the connection once
 * that many body bytes have arrived, as if the client had gone. */
enum MHD_Result ehttp_begin(struct envd *e, struct faults *faults, struct MHD_Connection *conn,
			    const char *url, const char *method, const char *id,
			    struct ehttp **h, int *status);

/* Every later callback: body bytes, then (size 0) the reply. */
enum MHD_Result ehttp_step(struct ehttp *h, struct MHD_Connection *conn, const char *data,
			   size_t *size, int *status);

void ehttp_free(struct ehttp *h);

#endif
