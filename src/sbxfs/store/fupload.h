/* A file written from its start in order (cp, tar x, a download), sent
 * while it is written: one chunked multipart POST whose body follows the spool file
 * as the writes land, on a thread of its own, so that close(2) waits only
 * for the rest instead of the whole upload.  The caller keeps the spool
 * whole, and uploads it whole as before whenever this one does not end
 * well: fupload_finish() says so.  A writer that stops for
 * FUPLOAD_STALL_MS withdraws it (envdc_upload_stream: its body ends
 * unfinished and the server refuses it), and so does fupload_abort().  At most FUPLOAD_MAX per
 * mount.  Thread-safe (one writer per upload); no lock is held over a
 * request. */
#ifndef SBXFS_STORE_FUPLOAD_H
#define SBXFS_STORE_FUPLOAD_H

#include <stdint.h>

#include "files.h"

#define FUPLOAD_MIN (4u * 1024 * 1024)   /* written before a stream starts */
#define FUPLOAD_STALL_MS 10000
#define FUPLOAD_MAX 8

struct fupload;

/* Starts sending spool fd (duplicated: the caller may close its own at
 * any time) as file path of sandbox id.  NULL when FUPLOAD_MAX are
 * running, or on ENOMEM or EMFILE: the caller uploads at close. */
struct fupload *fupload_start(struct files *f, const char *id, const char *path, int fd);

/* Bytes [0, end) of the spool are written and will not change. */
void fupload_wrote(struct fupload *u, uint64_t end);

/* The file is size bytes: ends the body there and waits for the reply.
 * 0 when the sandbox has the file, else -errno (the caller uploads the
 * spool whole).  Frees u. */
int fupload_finish(struct fupload *u, uint64_t size);

/* Ends the upload, nothing replaced, and frees u (its thread ends on its
 * own).  NULL is ignored. */
void fupload_abort(struct fupload *u);

#endif
