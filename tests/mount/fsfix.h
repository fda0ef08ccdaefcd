/* The envd side of the fs/ mount tests: the in-process sbxd runs real
 * sandboxes (--runtime bwrap, or dir where bubblewrap cannot run) and
 * serves their envd; sbxfs reaches it through -o sandbox_url,
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
/* Kills the sandboxes made, then unmounts (mnt_stop). */
void fsfix_stop(void);
/* The fixture of most fs/ suites: a mount with one sandbox "box" from
 * py3tpl, its ID malloc'd; and its end, which frees *id and clears it. */
char *fsfix_start_box(void);
void fsfix_stop_box(char **id);

/* GET /files?path=p of sandbox id: the body (malloc'd, NUL-terminated)
 * and *status; *len its length. */
char *eget(const char *id, const char *p, size_t *len, long *status);
/* GET /files?path=p of sandbox id streamed into the local file out: the
 * status. */
long eget_to(const char *id, const char *p, const char *out);
/* A Filesystem RPC with JSON body req: the HTTP status, *out the reply. */
long erpc(const char *id, const char *method, const char *req, json_t **out);
/* A unary Process RPC with JSON body req: the HTTP status, *out the reply. */
long eproc(const char *id, const char *method, const char *req, json_t **out);
/* A Process stream (Start, Connect) with JSON message req, until it ends:
 * the status, *body (malloc'd) the envelopes and *len their length.
 * Asserts nothing (usable in a child process). */
long estream(const char *id, const char *method, const char *req, char **body, size_t *len);
/* Asserts that ListDir of dir in sandbox id shows no upload's temporary
 * file within 5 s: nothing half sent was left beside its target. */
void eno_upload_temp(const char *id, const char *dir);
/* True if Stat finds p in sandbox id. */
int eexists(const char *id, const char *p);
/* Writes data to p of sandbox id through envd (not the mount): the status. */
long eput(const char *id, const char *p, const char *data);
/* Runs cmd with /bin/sh -c in sandbox id (the bwrap runtime only) and
 * waits for it to end; the HTTP status. */
long erun(const char *id, const char *cmd);
/* The runtime sbxd runs the sandboxes with: "bwrap" where bubblewrap
 * works, else "dir" (roots only, no processes). */
const char *fsfix_runtime(void);

#endif
