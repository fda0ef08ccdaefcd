/* The /files routes: downloads straight from the file's descriptor (the
 * server sends it with sendfile), uploads streamed to disk through an
 * optional gunzip and the multipart parser, and /files/compose.  Nothing
 * is held whole in memory. */
#ifndef SBXD_ENVD_FILES_H
#define SBXD_ENVD_FILES_H

#include "envd/priv.h"

struct upload;

/* GET /files?path=: fills *out (an fd reply, or an error). */
void files_get(const struct envd_box *b, const struct envd_in *in, struct envd_out *out);

/* POST /files: NULL with *out set when the request is refused before its
 * body (content type, encoding, missing path).  `b` is borrowed for the
 * upload's lifetime. */
struct upload *upload_new(const struct envd_box *b, const struct envd_in *in,
			  struct envd_out *out);
/* The next body bytes.  0, or -errno once failed (later bytes ignored). */
int upload_feed(struct upload *u, const char *p, size_t n);
/* The array of written files, or the error that stopped it. */
void upload_finish(struct upload *u, struct envd_out *out);
void upload_free(struct upload *u);

/* POST /files/compose with its JSON body. */
void files_compose(const struct envd_box *b, const json_t *req, struct envd_out *out);

#endif
