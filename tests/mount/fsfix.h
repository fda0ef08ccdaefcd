/* The envd side of the fs/ mount tests: the in-process sbxd's envd serves
 * each sandbox from a directory of its own under the test's temp dir (the
 * shape of sbxd's dir runtime), sbxfs reaches it through -o sandbox_url,
 * and the helpers below check effects through envd directly (libcurl:
 * GET /files, Stat, ListDir), never through the mount. */
#ifndef SBXFS_TEST_FSFIX_H
#define SBXFS_TEST_FSFIX_H

#include <jansson.h>
#include <stddef.h>

#include "mnt.h"

/* Mounts with envd served; extra: more -o options or NULL.  The
 * templates are py3tpl (4 GiB of disk) and tiny (1 MiB). */
void fsfix_start(const char *extra);
/* Creates a sandbox named name from tpl; its ID, malloc'd. */
char *fsfix_sandbox(const char *name, const char *tpl);

/* GET /files?path=p of sandbox id: the body (malloc'd, NUL-terminated)
 * and *status; *len its length. */
char *eget(const char *id, const char *p, size_t *len, long *status);
/* A Filesystem RPC with JSON body req: the HTTP status, *out the reply. */
long erpc(const char *id, const char *method, const char *req, json_t **out);
/* True if Stat finds p in sandbox id. */
int eexists(const char *id, const char *p);
/* The host path of p inside sandbox id's root (what a process in the
 * sandbox writes to); static rotation of a few buffers. */
const char *ehost(const char *id, const char *p);

#endif
